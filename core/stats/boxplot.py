"""Tukey box-plot statistics with the mean and standard deviation beside them.

The CIMT results (SPEC §1.7) show, per interface, the distribution of the per-ROI distances
between the expert's and the system's boundary as a box plot with Tukey whiskers and the
mean ± sd beside the box.

Box: the quartiles by :func:`numpy.percentile`'s default ("linear", Hyndman & Fan type 7
[2]_, as matplotlib's ``boxplot`` uses). Whiskers (Tukey [1]_): the most extreme data
values within 1.5 interquartile ranges of the box (never inside the box: matplotlib's
``boxplot_stats`` rule); values beyond the whiskers are outliers.

References
----------
.. [1] J. W. Tukey, "Exploratory Data Analysis", Addison-Wesley, 1977.
.. [2] R. J. Hyndman, Y. Fan, "Sample quantiles in statistical packages", The American
   Statistician 50(4):361-365, 1996.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.stats._checks import check_scores

__all__ = ["BoxStats", "tukey_box"]


@dataclass(frozen=True)
class BoxStats:
    """One box of a Tukey box plot, plus the mean and the sample SD (``ddof = 1``).

    ``outliers`` are the values outside the whiskers, in ascending order. ``sd`` is NaN for
    a single value.
    """

    n: int
    q1: float
    median: float
    q3: float
    whisker_low: float
    whisker_high: float
    outliers: tuple[float, ...]
    mean: float
    sd: float

    @property
    def iqr(self) -> float:
        """Interquartile range ``q3 - q1``."""
        return self.q3 - self.q1

    def text(self, unit: str = "", digits: int = 3) -> str:
        """``"median 0.412 (IQR 0.301-0.530), mean 0.430 ± 0.110 mm, n = 12"``."""
        u = f" {unit}" if unit else ""
        f = f"{{:.{digits}f}}".format
        sd = "n/a" if math.isnan(self.sd) else f(self.sd)
        return (f"median {f(self.median)} (IQR {f(self.q1)}-{f(self.q3)}), mean "
                f"{f(self.mean)} ± {sd}{u}, n = {self.n}")


def tukey_box(values: Any, *, whis: float = 1.5) -> BoxStats:
    """Box-plot statistics of ``values`` with Tukey's whiskers, the mean and the SD.

    Parameters
    ----------
    values : array_like, shape (n,)
        Finite real values, ``n >= 1``.
    whis : float
        Whisker reach in interquartile ranges (Tukey's 1.5).

    Returns
    -------
    BoxStats
    """
    x = check_scores(values, name="values")
    if x.size == 0:
        raise ValueError("values is empty: a box plot needs at least one value")
    if not (whis >= 0 and math.isfinite(whis)):
        raise ValueError(f"whis must be a finite number >= 0, got {whis}")
    q1, med, q3 = (float(v) for v in np.percentile(x, [25.0, 50.0, 75.0]))
    reach = whis * (q3 - q1)
    lo_fence, hi_fence = q1 - reach, q3 + reach
    # As matplotlib's boxplot_stats: a whisker never ends inside the box.
    below = x[x <= hi_fence]
    above = x[x >= lo_fence]
    w_hi = float(below.max()) if below.size and below.max() >= q3 else q3
    w_lo = float(above.min()) if above.size and above.min() <= q1 else q1
    out = np.sort(x[(x < w_lo) | (x > w_hi)])
    return BoxStats(
        n=int(x.size), q1=q1, median=med, q3=q3,
        whisker_low=w_lo, whisker_high=w_hi,
        outliers=tuple(out.tolist()), mean=float(x.mean()),
        sd=float(x.std(ddof=1)) if x.size > 1 else math.nan,
    )
