"""The CIMT task's patch dataset: one centred context patch per pixel item.

Patches are rendered on demand by :func:`core.tasks.cimt.pixels.centred_patches` (the one
patch extraction of the task) from the grey frames held in RAM: pixel ``i`` is at
``(rows[i], cols[i])`` of frame ``images[source[i]]``. Grey is repeated to 3 channels,
nothing is augmented (SPEC §1.7: a shifted patch would carry the wrong label).

The dataset also carries the ROIs its pixels come from (``rois``: (source, RoiTruth)),
so that the task can score it with dense maps (one convolutional pass per ROI, equal to
per-patch scoring) and evaluate the boundaries (``maps`` holds them once computed).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.tasks.cimt.pixels import CONTEXT_SIDE, centred_patches


@dataclass
class PixelPatchDataset:
    """Centred context patches of pixels of grey frames.

    Parameters
    ----------
    images : list of (H, W) uint8
        Grey frames.
    source, rows, cols : (N,) int64
        Frame (index into ``images``) and pixel of each patch.
    labels, items, groups : (N,) int64
        Class, item (position in the task's ItemSet) and group (subject) of each patch.
    side : int
        Patch side (the context network's, :data:`CONTEXT_SIDE`).
    rois : list of (source, RoiTruth)
        The ROIs the pixels lie in.
    maps : dict
        ``{k: (3, h, w) float32}`` dense map of ``rois[k]``, filled by the task's scoring.
    """

    images: list
    source: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    labels: np.ndarray
    items: np.ndarray
    groups: np.ndarray
    side: int = CONTEXT_SIDE
    rois: list = field(default_factory=list)
    maps: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.source)
        for name in ("source", "rows", "cols", "labels", "items", "groups"):
            a = np.asarray(getattr(self, name), np.int64).reshape(-1)
            if len(a) != n:
                raise ValueError(f"{name} has {len(a)} rows, expected {n}")
            setattr(self, name, a)
        if n and (self.source.min() < 0 or self.source.max() >= len(self.images)):
            raise ValueError("a patch refers to a frame that is not in images")

    def __len__(self) -> int:
        return len(self.source)

    def batch(self, idx) -> np.ndarray:
        """(B, side, side, 3) uint8 patches ``idx`` (in the order asked)."""
        idx = np.asarray(idx, np.int64).reshape(-1)
        out = np.empty((len(idx), self.side, self.side, 3), np.uint8)
        src = self.source[idx]
        for s in np.unique(src):
            at = np.flatnonzero(src == s)
            out[at] = centred_patches(self.images[int(s)], self.rows[idx[at]],
                                      self.cols[idx[at]], self.side)
        return out

    def subset(self, idx) -> PixelPatchDataset:
        idx = np.asarray(idx)
        return PixelPatchDataset(self.images, self.source[idx], self.rows[idx], self.cols[idx],
                                 self.labels[idx], self.items[idx], self.groups[idx],
                                 self.side, self.rois, self.maps)

    def in_roi(self, k: int) -> np.ndarray:
        """Positions of the patches whose pixel lies in ``rois[k]``."""
        s, roi = self.rois[k]
        r0, c0, r1, c1 = roi.box
        return np.flatnonzero((self.source == s) & (self.rows >= r0) & (self.rows < r1)
                              & (self.cols >= c0) & (self.cols < c1))
