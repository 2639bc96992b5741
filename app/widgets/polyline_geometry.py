"""Geometry of the open LI / MA polylines the CIMT workspace edits (numpy only).

A tracing is an (N, 2) float64 array of (row, col) image points ordered by column, the
columns strictly increasing (the house rule for polylines: each column crosses an
interface once). The editing rules keep that order: a click is inserted where its column
falls, a dragged point stays between its neighbours' columns, and a snake's corrected
stretch replaces the tracing over the columns it spans.

The smooth display curve is a monotone cubic (PCHIP, Fritsch & Carlson 1980) of row
against column through the points: it passes through every point the expert placed and
never overshoots between two of them, so the drawn curve stays where the points say.
"""

from __future__ import annotations

import numpy as np

MIN_COL_GAP = 0.05  # pixels kept between two neighbouring points' columns


def as_points(points) -> np.ndarray:
    """An (N, 2) float64 copy of ``points`` (N may be 0)."""
    a = np.asarray(points, dtype=np.float64)
    if a.size == 0:
        return np.zeros((0, 2))
    if a.ndim != 2 or a.shape[1] != 2:
        raise ValueError(f"points must be (N, 2) (row, col), got shape {a.shape}")
    return a.copy()


def insert_point(points, row: float, col: float) -> tuple[np.ndarray, int]:
    """Insert (row, col) where its column falls; returns (new points, its index).

    A column already taken is nudged by :data:`MIN_COL_GAP` to the right so the columns
    stay strictly increasing.
    """
    p = as_points(points)
    col = float(col)
    while p.size and np.any(np.abs(p[:, 1] - col) < MIN_COL_GAP):
        col += MIN_COL_GAP
    i = int(np.searchsorted(p[:, 1], col)) if p.size else 0
    return np.insert(p, i, [float(row), col], axis=0), i


def move_point(points, index: int, row: float, col: float) -> np.ndarray:
    """Move point ``index`` to (row, col), its column clamped between its neighbours'."""
    p = as_points(points)
    lo = p[index - 1, 1] + MIN_COL_GAP if index > 0 else -np.inf
    hi = p[index + 1, 1] - MIN_COL_GAP if index + 1 < len(p) else np.inf
    p[index] = (float(row), float(np.clip(col, lo, hi)))
    return p


def delete_point(points, index: int) -> np.ndarray:
    """The points without point ``index``."""
    return np.delete(as_points(points), int(index), axis=0)


def smooth_curve(points, step: float = 0.5) -> np.ndarray:
    """The display curve: (M, 2) (row, col) samples every ``step`` columns of the PCHIP
    interpolant through ``points`` (the points themselves when fewer than 3)."""
    p = as_points(points)
    if len(p) < 3 or np.any(np.diff(p[:, 1]) <= 0):
        return p
    from scipy.interpolate import PchipInterpolator

    cols = np.union1d(np.arange(p[0, 1], p[-1, 1], step), p[:, 1])  # through every point
    rows = PchipInterpolator(p[:, 1], p[:, 0])(cols)
    return np.column_stack([rows, cols])


def rows_at(points, cols) -> np.ndarray:
    """Rows of the polyline (linear between points) at ``cols``; NaN outside its span."""
    p = as_points(points)
    c = np.asarray(cols, dtype=np.float64)
    if len(p) < 2:
        return np.full(c.shape, np.nan)
    r = np.interp(c, p[:, 1], p[:, 0])
    r[(c < p[0, 1]) | (c > p[-1, 1])] = np.nan
    return r


def clip_to_cols(points, col0: float, col1: float) -> np.ndarray:
    """The polyline between columns ``col0`` and ``col1`` (ends interpolated there)."""
    p = as_points(points)
    if len(p) < 2:
        return p
    a, b = max(col0, p[0, 1]), min(col1, p[-1, 1])
    if b <= a:
        return np.zeros((0, 2))
    inside = p[(p[:, 1] > a) & (p[:, 1] < b)]
    ends = np.array([[rows_at(p, [a])[0], a], [rows_at(p, [b])[0], b]])
    return np.vstack([ends[:1], inside, ends[1:]])


def splice(old, new) -> np.ndarray:
    """``old`` with the stretch over ``new``'s columns replaced by ``new`` (a corrected
    snake inside one ROI); ``new`` alone when ``old`` is empty."""
    n = as_points(new)
    o = as_points(old)
    if len(n) == 0:
        return o
    n = n[np.argsort(n[:, 1], kind="stable")]
    keep = o[(o[:, 1] < n[0, 1] - MIN_COL_GAP) | (o[:, 1] > n[-1, 1] + MIN_COL_GAP)]
    out = np.vstack([keep, n])
    return out[np.argsort(out[:, 1], kind="stable")]


def nearest_index(points, row: float, col: float) -> tuple[int | None, float]:
    """(index, distance) of the point nearest (row, col) in image pixels; (None, inf)
    when there is none."""
    p = as_points(points)
    if not len(p):
        return None, float("inf")
    d = np.hypot(p[:, 0] - row, p[:, 1] - col)
    i = int(np.argmin(d))
    return i, float(d[i])
