"""Polyp lesions from masks, candidate-to-lesion hits and the candidate generator's recall.

A polyp is an 8-connected component of a frame's binary mask (SPEC §1.4: a candidate is
positive when it falls inside the ground-truth mask). A candidate hits the polyp whose
component contains its centre, rounded to the nearest pixel; several candidates may hit
one polyp, which then counts once for recall.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import cv2
import numpy as np


def _check_mask(mask: np.ndarray) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"a mask is (H, W), got shape {mask.shape}")
    return mask.astype(bool, copy=False)


def lesion_labels(mask: np.ndarray, *, min_area: int = 0) -> tuple[np.ndarray, int]:
    """Label the polyps of a mask.

    Parameters
    ----------
    mask : numpy.ndarray
        (H, W) bool (any dtype: nonzero = polyp).
    min_area : int, keyword-only
        Components with fewer pixels are not lesions (label 0): e.g. the stray pixels a
        JPEG-compressed mask leaves after thresholding. 0 (the default) keeps every one.

    Returns
    -------
    labels : numpy.ndarray
        (H, W) int32; 0 = background, 1..n = polyps in raster order of their first pixel.
    n : int
        Number of polyps.
    """
    mask = _check_mask(mask)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(
        mask.astype(np.uint8), connectivity=8, ltype=cv2.CV_32S)
    if min_area > 1 and n > 1:
        keep = stats[:, cv2.CC_STAT_AREA] >= min_area
        keep[0] = False
        remap = np.zeros(n, np.int32)
        remap[keep] = np.arange(1, int(keep.sum()) + 1, dtype=np.int32)
        return remap[labels], int(keep.sum())
    return labels.astype(np.int32, copy=False), n - 1


def _lookup(centers: np.ndarray, labels: np.ndarray) -> np.ndarray:
    centers = np.asarray(centers, dtype=np.float64).reshape(-1, 2)
    if not np.isfinite(centers).all():
        raise ValueError("candidate centres must be finite")
    h, w = labels.shape
    # round half up (not to even), then clip: a centre just off the image takes the edge pixel
    r = np.clip(np.floor(centers[:, 0] + 0.5), 0, h - 1).astype(np.intp)
    c = np.clip(np.floor(centers[:, 1] + 0.5), 0, w - 1).astype(np.intp)
    return labels[r, c].astype(np.int64)


def candidate_lesions(centers: np.ndarray, mask: np.ndarray, *, min_area: int = 0) -> np.ndarray:
    """Lesion id hit by each candidate centre.

    Parameters
    ----------
    centers : numpy.ndarray
        (N, 2) float (row, col) pixel coordinates in the mask's frame.
    mask : numpy.ndarray
        (H, W) bool ground truth.
    min_area : int, keyword-only
        As in :func:`lesion_labels`.

    Returns
    -------
    numpy.ndarray
        (N,) int64: the lesion label (1..n, as :func:`lesion_labels` numbers them) the
        centre falls in, 0 for a false positive. Centres are rounded to the nearest pixel
        and clipped to the image.
    """
    labels, _ = lesion_labels(mask, min_area=min_area)
    return _lookup(centers, labels)


@dataclass(frozen=True)
class RecallReport:
    """Recall of a candidate generator over labelled frames.

    Attributes
    ----------
    n_frames : int
        Frames evaluated (every frame with a mask).
    n_polyps : int
        Polyps (mask components) over those frames.
    n_found : int
        Polyps with at least one candidate centre inside.
    recall : float
        ``n_found / n_polyps`` (NaN without polyps).
    candidates_per_frame : float
        Mean number of candidates per evaluated frame.
    n_candidates : int
        Candidates on the evaluated frames.
    n_false : int
        Of those, centres outside every polyp.
    """

    n_frames: int
    n_polyps: int
    n_found: int
    recall: float
    candidates_per_frame: float
    n_candidates: int = 0
    n_false: int = 0

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        """One line for people."""
        return (f"recall {self.recall:.3f} ({self.n_found}/{self.n_polyps} polyps) on "
                f"{self.n_frames} frames, {self.candidates_per_frame:.1f} candidates/frame "
                f"({self.n_false} of {self.n_candidates} outside every polyp)")


def recall_report(cands_by_frame: Mapping[int, np.ndarray],
                  masks_by_frame: Mapping[int, np.ndarray], *, min_area: int = 0) -> RecallReport:
    """Share of polyps with at least one candidate centre inside, and candidates per frame.

    Parameters
    ----------
    cands_by_frame : mapping of int to numpy.ndarray
        Frame index -> (N, 2) candidate centres (row, col). A frame missing here has no
        candidate.
    masks_by_frame : mapping of int to numpy.ndarray
        Frame index -> (H, W) bool mask. Only these frames are evaluated (frames with
        candidates but no mask are unlabelled and left out).
    min_area : int, keyword-only
        As in :func:`lesion_labels`.

    Returns
    -------
    RecallReport
    """
    n_polyps = n_found = n_cands = n_false = 0
    for f, mask in masks_by_frame.items():
        labels, n = lesion_labels(mask, min_area=min_area)
        centers = np.asarray(cands_by_frame.get(f, np.zeros((0, 2))), np.float64).reshape(-1, 2)
        hit = _lookup(centers, labels)
        n_polyps += n
        n_found += int(np.unique(hit[hit > 0]).size)
        n_cands += len(hit)
        n_false += int((hit == 0).sum())
    n_frames = len(masks_by_frame)
    return RecallReport(
        n_frames=n_frames, n_polyps=n_polyps, n_found=n_found,
        recall=n_found / n_polyps if n_polyps else float("nan"),
        candidates_per_frame=n_cands / n_frames if n_frames else float("nan"),
        n_candidates=n_cands, n_false=n_false)
