"""Agreement between two raters or two systems: boundaries, Bland-Altman, paired test.

``column_profiles``  two open boundaries resampled on the image columns they share
``boundary_distance`` mean absolute vertical distance between two boundaries (pixels), the
                     per-ROI error of a CIMT interface (SPEC §1.7)
``bland_altman``     bias and 95 % limits of agreement with their confidence intervals [1]_ [2]_
``paired_wilcoxon``  Wilcoxon signed-rank test of paired measurements [3]_ (scipy)

Boundaries are polylines ``(N, 2)`` of (row, col) in pixels, ordered by column (columns
non-decreasing), as the CIMT tracings and snakes are stored. Vertical distances are in
pixels; multiply by the row spacing ``dy`` (mm per pixel) for millimetres.

References
----------
.. [1] J. M. Bland, D. G. Altman, "Statistical methods for assessing agreement between two
   methods of clinical measurement", The Lancet 327(8476):307-310, 1986.
.. [2] J. M. Bland, D. G. Altman, "Measuring agreement in method comparison studies",
   Statistical Methods in Medical Research 8(2):135-160, 1999.
.. [3] F. Wilcoxon, "Individual comparisons by ranking methods", Biometrics Bulletin
   1(6):80-83, 1945.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import norm, t, wilcoxon

from core.stats._checks import check_alpha, check_scores

__all__ = [
    "BlandAltman",
    "bland_altman",
    "boundary_distance",
    "check_polyline",
    "column_profiles",
    "paired_wilcoxon",
]


def check_polyline(poly: Any, name: str = "polyline") -> np.ndarray:
    """Return ``poly`` as an (N, 2) float64 (row, col) array ordered by column, or raise.

    Raises ValueError when it is not (N, 2) with N >= 1, holds a non-finite value, or runs
    backwards (a column smaller than the one before it), naming the first offending point.
    """
    p = np.asarray(poly, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 2 or p.shape[0] < 1:
        raise ValueError(f"{name} must be an (N, 2) array of (row, col) points, got shape "
                         f"{p.shape}")
    bad = ~np.isfinite(p).all(axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name} point {i} is not finite: {p[i].tolist()}")
    back = np.diff(p[:, 1]) < 0
    if back.any():
        i = int(np.flatnonzero(back)[0]) + 1
        raise ValueError(f"{name} runs backwards at point {i}: column {p[i, 1]:g} comes after "
                         f"column {p[i - 1, 1]:g} (points must be ordered left to right)")
    return p


def _rows_at(p: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Rows of the polyline ``p`` (checked) linearly interpolated at ``cols`` (inside it).

    Where a column repeats (a vertical step), the first of the points at that column wins
    on the left and the last on the right, as :func:`numpy.interp` does.
    """
    return np.interp(cols, p[:, 1], p[:, 0])


def column_profiles(a: Any, b: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two boundaries sampled on the integer image columns that both span.

    Parameters
    ----------
    a, b : array_like, shape (N, 2) and (M, 2)
        Polylines of (row, col) in pixels, ordered by column.

    Returns
    -------
    cols : ndarray, shape (K,), float64
        The integer columns ``ceil(max(first cols)) .. floor(min(last cols))``.
    rows_a, rows_b : ndarray, shape (K,), float64
        Each boundary's row at those columns (linear interpolation between its points).

    Raises
    ------
    ValueError
        When the two boundaries share no integer column.
    """
    pa, pb = check_polyline(a, "first boundary"), check_polyline(b, "second boundary")
    lo = math.ceil(max(pa[0, 1], pb[0, 1]))
    hi = math.floor(min(pa[-1, 1], pb[-1, 1]))
    if hi < lo:
        raise ValueError(
            f"the boundaries share no image column: columns {pa[0, 1]:g}-{pa[-1, 1]:g} "
            f"and {pb[0, 1]:g}-{pb[-1, 1]:g}")
    cols = np.arange(lo, hi + 1, dtype=np.float64)
    return cols, _rows_at(pa, cols), _rows_at(pb, cols)


def boundary_distance(expert: Any, system: Any) -> float:
    """Mean absolute vertical distance between two boundaries over their shared columns.

    The per-ROI error of a CIMT interface (LI or MA) between the expert's tracing and the
    system's boundary (SPEC §1.7): ``mean_c |row_expert(c) - row_system(c)|`` over the
    integer columns both span (:func:`column_profiles`).

    Parameters
    ----------
    expert, system : array_like, shape (N, 2) and (M, 2)
        Polylines of (row, col) in pixels, ordered by column.

    Returns
    -------
    float
        Pixels (multiply by the row spacing in mm per pixel for millimetres).
    """
    _, ra, rb = column_profiles(expert, system)
    return float(np.mean(np.abs(ra - rb)))


@dataclass(frozen=True)
class BlandAltman:
    """Bland-Altman agreement of paired measurements ``a`` and ``b`` (differences a - b).

    ``bias`` is the mean difference, ``sd`` its sample standard deviation (n - 1), the limits
    of agreement ``bias -/+ z sd`` (z = 1.96 for 95 %); each CI is ``(low, high)`` at level
    ``1 - alpha``. ``means`` and ``differences`` are the points of the plot, in input order.
    """

    n: int
    bias: float
    sd: float
    loa_low: float
    loa_high: float
    bias_ci: tuple[float, float]
    loa_low_ci: tuple[float, float]
    loa_high_ci: tuple[float, float]
    z: float
    alpha: float
    means: tuple[float, ...]
    differences: tuple[float, ...]


def _paired(a: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
    x = check_scores(a, name="a")
    y = check_scores(b, name="b")
    if x.size != y.size:
        raise ValueError(f"a and b must be paired: a has {x.size} values, b has {y.size}")
    return x, y


def bland_altman(a: Any, b: Any, *, alpha: float = 0.05) -> BlandAltman:
    """Bias and limits of agreement of paired measurements, with confidence intervals.

    Method of Bland & Altman [1]_ [2]_: differences ``d = a - b``; bias ``mean(d)``; limits
    of agreement ``mean(d) -/+ z s`` with ``s`` the sample SD of ``d`` and ``z`` the normal
    quantile ``1 - alpha / 2`` (1.96). Confidence intervals use Student's t with ``n - 1``
    degrees of freedom and the standard errors of [2]_:
    ``SE(bias) = s / sqrt(n)`` and ``SE(limit) = s sqrt(1/n + z**2 / (2 (n - 1)))`` (about
    ``sqrt(3 s**2 / n)``, the approximation of [1]_).

    Parameters
    ----------
    a, b : array_like, shape (n,)
        Paired finite measurements (e.g. IMT by the system and by the expert, in mm),
        ``n >= 2``.
    alpha : float
        ``1 - alpha`` is the level of the limits and of their CIs (0.05: 95 %).

    Returns
    -------
    BlandAltman
    """
    check_alpha(alpha)
    x, y = _paired(a, b)
    n = x.size
    if n < 2:
        raise ValueError(f"Bland-Altman needs at least 2 pairs, got {n}")
    d = x - y
    bias = float(d.mean())
    sd = float(d.std(ddof=1))
    z = float(norm.ppf(1.0 - alpha / 2.0))
    tq = float(t.ppf(1.0 - alpha / 2.0, n - 1))
    se_bias = sd / math.sqrt(n)
    se_loa = sd * math.sqrt(1.0 / n + z * z / (2.0 * (n - 1)))
    lo, hi = bias - z * sd, bias + z * sd
    return BlandAltman(
        n=n, bias=bias, sd=sd, loa_low=lo, loa_high=hi,
        bias_ci=(bias - tq * se_bias, bias + tq * se_bias),
        loa_low_ci=(lo - tq * se_loa, lo + tq * se_loa),
        loa_high_ci=(hi - tq * se_loa, hi + tq * se_loa),
        z=z, alpha=float(alpha),
        means=tuple(((x + y) / 2.0).tolist()), differences=tuple(d.tolist()),
    )


def paired_wilcoxon(a: Any, b: Any) -> tuple[float, float]:
    """Two-sided Wilcoxon signed-rank test [3]_ of paired measurements ``a`` and ``b``.

    Calls :func:`scipy.stats.wilcoxon` on ``a - b`` with its defaults (zero differences
    dropped, ``zero_method="wilcox"``; exact null distribution for small samples without
    ties, normal approximation otherwise). Use it to compare two runs on the same ROIs,
    e.g. the per-ROI LI errors of two configurations.

    Parameters
    ----------
    a, b : array_like, shape (n,)
        Paired finite values, ``n >= 1``.

    Returns
    -------
    statistic : float
        scipy's statistic (the smaller of the positive and negative rank sums).
    p : float
        Two-sided p-value. When every difference is zero there is no evidence of a
        difference and ``(0.0, 1.0)`` is returned.
    """
    x, y = _paired(a, b)
    if x.size == 0:
        raise ValueError("the Wilcoxon test needs at least one pair")
    d = x - y
    if not np.any(d != 0):
        return 0.0, 1.0
    res = wilcoxon(d)
    return float(res.statistic), float(res.pvalue)
