"""Boundaries from confidence maps, polylines by column, and the intima-media thickness.

SPEC §1.7: in each column of the ROI take the row of maximum LI (and MA) response, giving
step-like one-pixel boundaries (:func:`thin`); the snakes start from them
(:mod:`core.tasks.cimt.snake`); IMT is the mean vertical distance between the converged LI
and MA boundaries, in mm when the pixel spacing is known (:func:`imt`).

Coordinates are (row, col) in pixels, pixel centres at integers, in whatever frame the
caller uses (ROI-local maps give ROI-local rows: add the ROI's ``row0``/``col0`` for image
coordinates). Polylines are (N, 2) float64 ordered by column.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.stats.agreement import check_polyline, column_profiles

__all__ = ["ImtResult", "imt", "resample_by_col", "rows_to_polyline", "thin"]


def thin(prob: Any, floor: float = 0.0) -> np.ndarray:
    """Row of maximum response in each column of a confidence map.

    Parameters
    ----------
    prob : array_like, shape (h, w)
        One class's confidence map (e.g. ``probs[1]`` for LI, ``probs[2]`` for MA of the
        (3, h, w) map from :func:`core.tasks.cimt.dense.dense_probabilities`).
    floor : float
        Columns whose maximum is below ``floor`` (or all NaN) get NaN: no boundary there.

    Returns
    -------
    ndarray, shape (w,), float64
        Row index of the column's maximum (the first one on ties), NaN where none.
    """
    p = np.asarray(prob, dtype=np.float64)
    if p.ndim != 2 or p.size == 0:
        raise ValueError(f"prob must be a non-empty 2-D map (h, w), got shape {p.shape}")
    if not math.isfinite(floor):
        raise ValueError(f"floor must be a finite number, got {floor}")
    filled = np.where(np.isnan(p), -np.inf, p)
    rows = np.argmax(filled, axis=0).astype(np.float64)
    peak = filled[rows.astype(np.intp), np.arange(p.shape[1])]
    rows[~(peak >= floor)] = np.nan
    return rows


def rows_to_polyline(rows: Any, cols: Any = None) -> np.ndarray:
    """(N, 2) (row, col) polyline of the finite entries of a per-column row profile.

    ``cols`` defaults to ``0 .. len(rows) - 1``; NaN rows (no boundary) are left out.
    """
    r = np.asarray(rows, dtype=np.float64).reshape(-1)
    c = np.arange(r.size, dtype=np.float64) if cols is None else np.asarray(cols, np.float64)
    if c.shape != r.shape:
        raise ValueError(f"rows and cols differ in length: {r.size} and {c.size}")
    keep = np.isfinite(r)
    return np.column_stack([r[keep], c[keep]])


def resample_by_col(poly: Any, cols: Any) -> np.ndarray:
    """The polyline's rows at the given columns (linear interpolation).

    Parameters
    ----------
    poly : array_like, shape (N, 2)
        (row, col) ordered by column (non-decreasing).
    cols : array_like, shape (K,)
        Columns inside ``[poly[0, 1], poly[-1, 1]]``.

    Returns
    -------
    ndarray, shape (K, 2), float64
        (row, col) at ``cols``.
    """
    p = check_polyline(poly)
    c = np.asarray(cols, dtype=np.float64).reshape(-1)
    if c.size and (c.min() < p[0, 1] or c.max() > p[-1, 1]):
        raise ValueError(f"columns {c.min():g}-{c.max():g} reach beyond the polyline's "
                         f"columns {p[0, 1]:g}-{p[-1, 1]:g}")
    return np.column_stack([np.interp(c, p[:, 1], p[:, 0]), c])


@dataclass(frozen=True)
class ImtResult:
    """Intima-media thickness: ``value`` in ``unit`` ("mm" or "px") over ``n_cols`` columns.

    ``value_px`` is the same thickness in pixels (rows); ``sd`` the SD of the per-column
    thickness, in ``unit``.
    """

    value: float
    unit: str
    n_cols: int
    value_px: float
    sd: float

    def __str__(self) -> str:
        return f"{self.value:.3f} {self.unit}" if self.unit == "mm" else f"{self.value:.1f} px"


def imt(li: Any, ma: Any, spacing: tuple[float, float] | None = None) -> ImtResult:
    """Mean vertical distance MA - LI over the columns both boundaries span.

    Parameters
    ----------
    li, ma : array_like, shape (N, 2) and (M, 2)
        Lumen-intima and media-adventitia boundaries, (row, col) pixels ordered by column.
    spacing : (dy, dx) in mm per pixel, optional
        Pixel spacing (row spacing first). Vertical distances scale by ``dy``. Without it
        the thickness is in pixels (``unit == "px"``).

    Returns
    -------
    ImtResult
        Positive when MA lies below LI (larger rows), as at the far wall.
    """
    cols, r_li, r_ma = column_profiles(li, ma)
    gap = r_ma - r_li
    px = float(gap.mean())
    sd_px = float(gap.std(ddof=1)) if gap.size > 1 else 0.0
    if spacing is None:
        return ImtResult(px, "px", int(cols.size), px, sd_px)
    try:
        dy, dx = (float(v) for v in spacing)
    except (TypeError, ValueError):
        raise ValueError(f"spacing must be (dy, dx) in mm per pixel, got {spacing!r}") from None
    if not (dy > 0 and math.isfinite(dy) and dx > 0 and math.isfinite(dx)):
        raise ValueError(f"spacing must be positive and finite (dy, dx) mm, got {spacing!r}")
    return ImtResult(px * dy, "mm", int(cols.size), px, sd_px * dy)
