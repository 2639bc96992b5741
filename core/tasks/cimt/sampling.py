"""Pixel items of the CIMT task: LI pixels, MA pixels, background far from both (SPEC §1.7).

Per traced ROI (:class:`core.tasks.cimt.truth.RoiTruth`):

- **LI** (class 1) and **MA** (class 2): each interface rasterised one pixel per column,
  the pixel at the rounded interface row of every column both tracings cover (inside
  the ROI's rows);
- **background** (class 0): pixels of those columns at least ``min_distance_px``
  (Euclidean) from every pixel of both rasterised interfaces, drawn at random without
  replacement, ``background_ratio`` times as many as the larger interface class (all of
  them when fewer are far enough).

The draw is seeded by the ROI itself (study, frame, box), so the items of a project are
the same every time they are listed, without a random generator handed in.

Item index encoding (one int64 per pixel item, unique within a study)::

    index = frame << 32 | row << 16 | col      (row, col < 65536; frame < 2**31)

A pixel lying in two overlapping ROIs of a frame is one item (the first ROI's label).
"""

from __future__ import annotations

import cv2
import numpy as np

from core.tasks.cimt.truth import RoiTruth

BACKGROUND, LI, MA = 0, 1, 2
_LIMIT = 1 << 16


def encode_index(frame, row, col) -> np.ndarray:
    """int64 item indices of pixels (frame, row, col) (arrays broadcast)."""
    f = np.asarray(frame, np.int64)
    r = np.asarray(row, np.int64)
    c = np.asarray(col, np.int64)
    if np.any((r < 0) | (r >= _LIMIT) | (c < 0) | (c >= _LIMIT)):
        raise ValueError(f"pixel rows and columns must lie in 0..{_LIMIT - 1}")
    if np.any((f < 0) | (f >= 1 << 31)):
        raise ValueError("frame numbers must lie in 0..2**31-1")
    return (f << 32) | (r << 16) | c


def decode_index(index) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frame, row, col) int64 arrays of item indices (inverse of :func:`encode_index`)."""
    i = np.asarray(index, np.int64)
    return i >> 32, (i >> 16) & (_LIMIT - 1), i & (_LIMIT - 1)


def interface_pixels(roi: RoiTruth) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(li rows, li cols, ma rows, ma cols) int64: each interface one pixel per traced
    column, at the rounded row, kept where inside the ROI's rows (an MA pixel on an LI
    pixel, possible only for a wall under a pixel thick, is left out)."""
    r0, _, r1, _ = roi.box
    li = np.rint(roi.li_rows).astype(np.int64)
    ma = np.rint(roi.ma_rows).astype(np.int64)
    kl = (li >= r0) & (li < r1)
    km = (ma >= r0) & (ma < r1) & (ma != li)
    return li[kl], roi.cols[kl], ma[km], roi.cols[km]


def far_mask(roi: RoiTruth, min_distance_px: float) -> np.ndarray:
    """(h, w) bool over the ROI: pixels of a traced column at least ``min_distance_px``
    from every pixel of both rasterised interfaces (the interfaces drawn as connected
    lines, also beyond the ROI's rows, so a pixel near an interface just outside the ROI
    is not background either)."""
    r0, c0, r1, c1 = roi.box
    h, w = r1 - r0, c1 - c0
    pad = int(np.ceil(min_distance_px)) + 1
    canvas = np.full((h + 2 * pad, w + 2 * pad), 255, np.uint8)
    for rows in (roi.li_rows, roi.ma_rows):
        pts = np.column_stack([roi.cols - c0 + pad, np.rint(rows) - r0 + pad])
        pts = np.clip(pts, -(1 << 14), 1 << 14).astype(np.int32)  # cv2 coordinate limits
        if len(pts) == 1:
            canvas[pts[0, 1], pts[0, 0]] = 0 if 0 <= pts[0, 1] < canvas.shape[0] else 255
        else:
            cv2.polylines(canvas, [pts.reshape(-1, 1, 2)], False, 0, 1, lineType=cv2.LINE_8)
    dist = cv2.distanceTransform(canvas, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    far = dist[pad:pad + h, pad:pad + w] >= min_distance_px
    traced = np.zeros(w, bool)
    traced[roi.cols - c0] = True
    return far & traced[None, :]


def roi_seed(roi: RoiTruth) -> list[int]:
    """The seed of an ROI's background draw: its study, frame and box."""
    return [int(roi.study_id), int(roi.frame), *(int(v) for v in roi.box), 0xC1A7]


def roi_pixel_items(roi: RoiTruth, *, min_distance_px: float = 3.0,
                    background_ratio: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """(indices (P,) int64, labels (P,) int64) of one ROI's pixel items, sorted by index.

    Empty when the ROI is not traced.
    """
    if not roi.traced:
        z = np.zeros(0, np.int64)
        return z, z
    lr, lc, mr, mc = interface_pixels(roi)
    far = far_mask(roi, min_distance_px)
    br, bc = np.nonzero(far)
    n_bg = int(np.ceil(background_ratio * max(len(lr), len(mr))))
    if len(br) > n_bg:
        pick = np.random.default_rng(roi_seed(roi)).choice(len(br), n_bg, replace=False)
        br, bc = br[pick], bc[pick]
    r0, c0 = roi.box[0], roi.box[1]
    rows = np.concatenate([br + r0, lr, mr])
    cols = np.concatenate([bc + c0, lc, mc])
    labels = np.concatenate([np.full(len(br), BACKGROUND), np.full(len(lr), LI),
                             np.full(len(mr), MA)]).astype(np.int64)
    idx = encode_index(roi.frame, rows, cols)
    order = np.argsort(idx, kind="stable")
    return idx[order], labels[order]


def study_pixel_items(rois, *, min_distance_px: float = 3.0, background_ratio: float = 2.0
                      ) -> tuple[np.ndarray, np.ndarray]:
    """(indices, labels) of the pixel items of a study's ROIs, sorted by index; a pixel
    in several ROIs counted once (the first ROI's label)."""
    parts = [roi_pixel_items(r, min_distance_px=min_distance_px,
                             background_ratio=background_ratio) for r in rois]
    if not parts:
        z = np.zeros(0, np.int64)
        return z, z
    idx = np.concatenate([p[0] for p in parts])
    lab = np.concatenate([p[1] for p in parts])
    idx, first = np.unique(idx, return_index=True)
    return idx, lab[first]


def stratified_subset(labels: np.ndarray, total: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted positions of a class-balanced subset of ``labels`` (SPEC §1.3): every class
    down-sampled to the rarest one, then to ``total // n_classes`` each when ``total`` > 0
    (the paper's 200,000 training patches: 66,666 per class)."""
    labels = np.asarray(labels, np.int64)
    classes, counts = np.unique(labels, return_counts=True)
    if not len(classes):
        return np.zeros(0, np.int64)
    n = int(counts.min())
    if total > 0:
        n = min(n, max(1, total // len(classes)))
    keep = [rng.choice(np.flatnonzero(labels == c), n, replace=False) for c in classes]
    return np.sort(np.concatenate(keep)).astype(np.int64)
