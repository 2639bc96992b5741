"""Patch datasets: what the training engine consumes.

A dataset is a set of patches, each with a class label, the *item* it belongs to
(frame, candidate: its score is the mean over its patches, SPEC §1.3) and the *group*
(subject: patient or video) used for splits. ``batch(idx)`` returns a uint8
(B, H, W, 3) array.

Patches are **rendered on demand** from a :class:`PatchSpecs`: per-index arrays fixed
when the dataset is made (which source image, where, how big). Nothing random happens
at render time, so patch ``i`` is the same pixels every time it is asked for; this is
what makes the frozen-layer feature cache of the engine exact, and it keeps RAM bounded
(the source images, not tens of thousands of augmented patches, stay in memory).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PatchSpecs:
    """Where each patch comes from, fixed per index.

    Parameters
    ----------
    source : (P,) int64
        Index of the source image (in the renderer's stack) of each patch.
    offsets : (P, 2) int64
        (row, col) in pixels of each patch's top-left corner in its source image.
    size : int
        Patch side in pixels (227 for AlexNet).

    Tasks with richer augmentation (scales, orientations, planes) add columns of
    their own in a subclass; the rule stays: every column is an array of length P,
    chosen once, never drawn at render time.
    """

    source: np.ndarray
    offsets: np.ndarray
    size: int = 227

    def __post_init__(self) -> None:
        if len(self.offsets) != len(self.source):
            raise ValueError(f"offsets has {len(self.offsets)} rows, expected "
                             f"{len(self.source)}")

    def __len__(self) -> int:
        return len(self.source)

    def subset(self, idx: np.ndarray) -> PatchSpecs:
        idx = np.asarray(idx)
        return PatchSpecs(self.source[idx], self.offsets[idx], self.size)

    @classmethod
    def random_crops(cls, n_sources: int, per_source: int, image_shape: tuple[int, int],
                     size: int, rng: np.random.Generator) -> PatchSpecs:
        """``per_source`` random ``size`` crops of each of ``n_sources`` images.

        Patches of source ``k`` are the consecutive indices ``k*per_source ...``; the
        offsets come from ``rng`` (one draw of all of them, so a seed fixes them all).
        """
        source = np.repeat(np.arange(n_sources, dtype=np.int64), per_source)
        return cls(source, random_offsets(len(source), image_shape, size, rng), size)


@dataclass
class CropDataset:
    """Square crops of a stack of images held in RAM, rendered when asked for.

    Parameters
    ----------
    images : (F, H, W, 3) uint8
        Source images (e.g. frames resized to 350 x 500).
    image_of_patch : (N,) int
        Which image each patch is cropped from.
    offsets : (N, 2) int
        (row, col) of each crop's top-left corner.
    labels, items, groups : (N,) int
        Class, item (index into the task's item set) and group (subject) of each patch.
    size : int
        Crop side in pixels (227 for AlexNet).
    """

    images: np.ndarray
    image_of_patch: np.ndarray
    offsets: np.ndarray
    labels: np.ndarray
    items: np.ndarray
    groups: np.ndarray
    size: int = 227

    def __post_init__(self) -> None:
        n = len(self.image_of_patch)
        for name in ("offsets", "labels", "items", "groups"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name} has {len(getattr(self, name))} rows, expected {n}")
        if self.images.ndim != 4 or self.images.shape[-1] != 3 or self.images.dtype != np.uint8:
            raise ValueError(f"images must be (F, H, W, 3) uint8, got {self.images.shape} "
                             f"{self.images.dtype}")
        h, w = self.images.shape[1:3]
        if n and (self.offsets.min() < 0 or self.offsets[:, 0].max() + self.size > h
                  or self.offsets[:, 1].max() + self.size > w):
            raise ValueError("a crop falls outside its image")

    @classmethod
    def from_specs(cls, images: np.ndarray, specs: PatchSpecs, labels, items, groups
                   ) -> CropDataset:
        return cls(images, specs.source, specs.offsets, np.asarray(labels, np.int64),
                   np.asarray(items, np.int64), np.asarray(groups, np.int64), specs.size)

    @property
    def specs(self) -> PatchSpecs:
        """The fixed per-index spec the crops are rendered from."""
        return PatchSpecs(self.image_of_patch, self.offsets, self.size)

    def __len__(self) -> int:
        return len(self.image_of_patch)

    def batch(self, idx: np.ndarray) -> np.ndarray:
        """(B, size, size, 3) uint8 crops of patches ``idx``.

        One contiguous slice copy per crop into a preallocated array: measured 40x
        faster than a single fancy-index gather (which builds B*size*size indices).
        """
        idx = np.asarray(idx)
        s = self.size
        out = np.empty((len(idx), s, s, 3), np.uint8)
        imgs, offs = self.image_of_patch[idx], self.offsets[idx]
        for k in range(len(idx)):
            r, c = offs[k]
            out[k] = self.images[imgs[k], r:r + s, c:c + s]
        return out

    def subset(self, idx: np.ndarray) -> CropDataset:
        idx = np.asarray(idx)
        return CropDataset(self.images, self.image_of_patch[idx], self.offsets[idx],
                           self.labels[idx], self.items[idx], self.groups[idx], self.size)


@dataclass
class ArrayDataset:
    """Patches held as one (N, H, W, 3) uint8 array."""

    patches: np.ndarray
    labels: np.ndarray
    items: np.ndarray
    groups: np.ndarray

    def __len__(self) -> int:
        return len(self.patches)

    def batch(self, idx: np.ndarray) -> np.ndarray:
        return self.patches[np.asarray(idx)]

    def subset(self, idx: np.ndarray) -> ArrayDataset:
        idx = np.asarray(idx)
        return ArrayDataset(self.patches[idx], self.labels[idx], self.items[idx],
                            self.groups[idx])


def random_offsets(n: int, image_shape: tuple[int, int], size: int,
                   rng: np.random.Generator) -> np.ndarray:
    """(n, 2) random top-left corners of ``size`` crops inside ``image_shape`` (rows, cols)."""
    h, w = image_shape
    if h < size or w < size:
        raise ValueError(f"image {h}x{w} is smaller than the {size}x{size} crop")
    return np.stack([rng.integers(0, h - size + 1, n), rng.integers(0, w - size + 1, n)],
                    axis=1).astype(np.int64)
