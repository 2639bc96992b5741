"""Mask edits behind :class:`app.widgets.mask_canvas.MaskCanvas`: pure numpy, no Qt.

Positions are continuous image coordinates ``(y, x)`` = (row, col) in pixels, where
pixel ``(r, c)`` covers ``[r, r + 1) x [c, c + 1)``; its centre is ``(r + 0.5, c + 0.5)``.
A tool changes exactly the pixels whose *centre* falls inside the shape it draws, so
what the user sees on screen at any zoom is what the mask gets.

Every edit returns the box ``(row0, col0, row1, col1)`` (inclusive-exclusive) it may have
changed, or ``None``; :class:`MaskHistory` keeps only the changed patches of each edit,
so undo costs memory in proportion to the edit, not to the frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

Box = tuple[int, int, int, int]


def _clip_box(r0: float, c0: float, r1: float, c1: float, shape: tuple[int, ...]) -> Box | None:
    """Integer pixel box covering ``[r0, r1] x [c0, c1]``, clipped to ``shape``; None if empty."""
    h, w = shape[:2]
    b = (max(0, int(np.floor(r0))), max(0, int(np.floor(c0))),
         min(h, int(np.floor(r1)) + 1), min(w, int(np.floor(c1)) + 1))
    return b if b[0] < b[2] and b[1] < b[3] else None


def paint_segment(mask: np.ndarray, p0: tuple[float, float], p1: tuple[float, float],
                  radius: float, value: bool) -> Box | None:
    """Set to ``value`` every pixel whose centre lies within ``radius`` of segment p0–p1.

    A brush dab is the segment from a point to itself (a disk); a drag is painted as
    one segment per mouse move, so fast strokes leave no gaps.

    Parameters
    ----------
    mask : (H, W) bool ndarray
        Edited in place.
    p0, p1 : (float, float)
        Segment ends, image coordinates (row, col), pixels.
    radius : float
        Brush radius in pixels (half the brush diameter).
    value : bool
        True paints, False erases.

    Returns
    -------
    (row0, col0, row1, col1) or None
        The box the segment touches inside the image (None when it lies outside).
    """
    (y0, x0), (y1, x1) = p0, p1
    box = _clip_box(min(y0, y1) - radius, min(x0, x1) - radius,
                    max(y0, y1) + radius, max(x0, x1) + radius, mask.shape)
    if box is None:
        return None
    r0, c0, r1, c1 = box
    yy = np.arange(r0, r1, dtype=np.float64)[:, None] + 0.5
    xx = np.arange(c0, c1, dtype=np.float64)[None, :] + 0.5
    dy, dx = y1 - y0, x1 - x0
    seg2 = dy * dy + dx * dx
    if seg2 > 0:  # nearest point of the segment to each pixel centre
        t = np.clip(((yy - y0) * dy + (xx - x0) * dx) / seg2, 0.0, 1.0)
        ny, nx = y0 + t * dy, x0 + t * dx
    else:
        ny, nx = y0, x0
    hit = (yy - ny) ** 2 + (xx - nx) ** 2 <= radius * radius + 1e-9
    mask[r0:r1, c0:c1][hit] = value
    return box


def fill_polygon(mask: np.ndarray, vertices: np.ndarray, value: bool = True) -> Box | None:
    """Set to ``value`` every pixel whose centre lies inside the polygon (even-odd rule).

    Scan-line fill: for each pixel row, the x of the edges crossing the row's centre line
    (half-open in y, so a vertex on the line is counted once) split the row into inside
    and outside runs.

    Parameters
    ----------
    mask : (H, W) bool ndarray
        Edited in place.
    vertices : (N, 2) float array-like
        Polygon vertices (row, col) in image coordinates, N >= 3; closed implicitly.
    value : bool
        True paints, False erases.

    Returns
    -------
    (row0, col0, row1, col1) or None
        The changed box, None when the polygon covers no pixel centre.
    """
    v = np.asarray(vertices, dtype=np.float64).reshape(-1, 2)
    if len(v) < 3:
        raise ValueError(f"a polygon needs at least 3 vertices, got {len(v)}")
    box = _clip_box(v[:, 0].min(), v[:, 1].min(), v[:, 0].max(), v[:, 1].max(), mask.shape)
    if box is None:
        return None
    r0, c0, r1, c1 = box
    ya, xa = v[:, 0], v[:, 1]
    yb, xb = np.roll(ya, -1), np.roll(xa, -1)
    keep = ya != yb  # horizontal edges cross no scan line
    ya, xa, yb, xb = ya[keep], xa[keep], yb[keep], xb[keep]
    ys = np.arange(r0, r1, dtype=np.float64)[:, None] + 0.5  # (rows, 1)
    lo, hi = np.minimum(ya, yb), np.maximum(ya, yb)
    crosses = (ys >= lo) & (ys < hi)  # (rows, edges)
    with np.errstate(divide="ignore", invalid="ignore"):
        xs = xa + (ys - ya) * (xb - xa) / (yb - ya)
    xs = np.where(crosses, xs, np.inf)
    xs.sort(axis=1)
    centres = np.arange(c0, c1, dtype=np.float64) + 0.5
    inside = np.zeros((r1 - r0, c1 - c0), dtype=bool)
    for i, row in enumerate(xs):
        row = row[np.isfinite(row)]
        if row.size:  # number of crossings left of each centre; odd = inside
            inside[i] = np.searchsorted(row, centres, side="right") % 2 == 1
    if not inside.any():
        return None
    mask[r0:r1, c0:c1][inside] = value
    return box


def flood_fill(mask: np.ndarray, row: int, col: int) -> Box | None:
    """Flip the connected region under pixel ``(row, col)``.

    On background the 4-connected background region is filled (a hole inside a polyp, or
    the outside); on foreground the 8-connected polyp is cleared. The two connectivities
    are each other's duals: a diagonal gap in a polyp's 8-connected outline does not let a
    fill leak out, just as polyps are 8-connected components everywhere else.

    Returns
    -------
    (row0, col0, row1, col1) or None
        The changed box; None when ``(row, col)`` is outside the mask.
    """
    h, w = mask.shape
    if not (0 <= row < h and 0 <= col < w):
        return None
    fg = bool(mask[row, col])
    region = (mask if fg else ~mask).astype(np.uint8)
    _, labels = cv2.connectedComponents(region, connectivity=8 if fg else 4)
    hit = labels == labels[row, col]
    rows = np.flatnonzero(hit.any(axis=1))
    cols = np.flatnonzero(hit.any(axis=0))
    mask[hit] = not fg
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1


@dataclass
class _Step:
    box: Box
    before: np.ndarray
    after: np.ndarray

    @property
    def nbytes(self) -> int:
        return self.before.nbytes + self.after.nbytes


class MaskHistory:
    """Undo/redo of mask edits, storing the changed patch of each step before and after.

    Parameters
    ----------
    max_steps : int
        Oldest steps are forgotten beyond this many.
    max_bytes : int
        ... or when the stored patches exceed this many bytes (the newest step is kept).
    """

    def __init__(self, max_steps: int = 200, max_bytes: int = 256 * 2**20) -> None:
        self.max_steps = int(max_steps)
        self.max_bytes = int(max_bytes)
        self._undo: list[_Step] = []
        self._redo: list[_Step] = []

    def can_undo(self) -> bool:
        return bool(self._undo)

    def can_redo(self) -> bool:
        return bool(self._redo)

    def __len__(self) -> int:
        return len(self._undo)

    def clear(self) -> None:
        self._undo.clear()
        self._redo.clear()

    def record(self, before: np.ndarray, after: np.ndarray) -> Box | None:
        """Record the edit from mask ``before`` to mask ``after`` (whole (H, W) masks).

        Returns the bounding box of the changed pixels, or None (and records nothing)
        when the two masks are equal. A new step clears the redo list.
        """
        diff = before != after
        rows = np.flatnonzero(diff.any(axis=1))
        if rows.size == 0:
            return None
        cols = np.flatnonzero(diff.any(axis=0))
        box = (int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1)
        r0, c0, r1, c1 = box
        self._undo.append(_Step(box, before[r0:r1, c0:c1].copy(), after[r0:r1, c0:c1].copy()))
        self._redo.clear()
        while len(self._undo) > 1 and (len(self._undo) > self.max_steps
                                       or sum(s.nbytes for s in self._undo) > self.max_bytes):
            self._undo.pop(0)
        return box

    def undo(self, mask: np.ndarray) -> Box | None:
        """Revert the last step on ``mask`` in place; its box, or None when none is left."""
        if not self._undo:
            return None
        step = self._undo.pop()
        r0, c0, r1, c1 = step.box
        mask[r0:r1, c0:c1] = step.before
        self._redo.append(step)
        return step.box

    def redo(self, mask: np.ndarray) -> Box | None:
        """Re-apply the last undone step on ``mask`` in place; its box, or None."""
        if not self._redo:
            return None
        step = self._redo.pop()
        r0, c0, r1, c1 = step.box
        mask[r0:r1, c0:c1] = step.after
        self._undo.append(step)
        return step.box
