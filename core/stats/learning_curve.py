"""Learning curve: performance against the number of labels, fitted and extrapolated.

The label-budget experiment trains one depth on 10, 25, 50 and 100 % of the labels and
asks how many labels would reach a target ("sensitivity 0.9 at 10 % FPR"). Figueroa et
al. [1]_ model the curve by an inverse power law

``perf(n) = a - b * n ** (-c)``,  ``b >= 0``, ``c > 0``,

rising towards the asymptote ``a`` (the best the model could do with unlimited labels),
fitted by weighted nonlinear least squares (weights ``1 / sigma**2`` from each point's
CI), and extrapolated: the target ``t`` is reached at ``n = (b / (a - t)) ** (1 / c)``
when ``a > t`` and never otherwise.

Uncertainty: a parametric bootstrap [2]_ (ch. 6): each replicate redraws every point's
performance from a normal distribution with its own standard error (from its CI, as
``(hi - lo) / (2 z)``; without CIs, the residual standard error of the fit), refits the
curve, and reads the prediction and the labels needed from it; the percentile intervals
of the replicates are the bands. A replicate whose asymptote does not pass the target
needs infinitely many labels, so the upper end of that interval may be infinite — "not
reachable" is a possible answer and :class:`LabelsNeeded` says how often it came up.

References
----------
.. [1] R. L. Figueroa, Q. Zeng-Treitler, S. Kandula, L. H. Ngo, "Predicting sample size
   required for classification performance", BMC Medical Informatics and Decision
   Making 12:8, 2012.
.. [2] B. Efron, R. J. Tibshirani, "An Introduction to the Bootstrap", Chapman & Hall,
   1993.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import least_squares
from scipy.stats import norm

from core.stats._checks import check_alpha, check_n_boot, check_scores
from core.stats.bootstrap import percentile_ci

__all__ = ["LabelsNeeded", "LearningCurveFit", "inverse_power_law", "learning_curve_fit"]

C_STARTS = (0.25, 0.5, 1.0, 2.0)
C_MAX = 10.0


def inverse_power_law(n: Any, a: float, b: float, c: float) -> np.ndarray:
    """``a - b * n ** (-c)`` (Figueroa et al. [1]_)."""
    return a - b * np.power(np.asarray(n, dtype=np.float64), -c)


def _num(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def _needed(p: np.ndarray, target: float) -> np.ndarray:
    """Labels at which each fit ``p`` (k, 3) reaches ``target``; inf when it never does."""
    a, b, c = p[:, 0], p[:, 1], p[:, 2]
    out = np.full(a.shape, np.inf)
    ok = (a > target) & (c > 0)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        out[ok] = np.power(np.maximum(b[ok], 0.0) / (a[ok] - target), 1.0 / c[ok])
    return np.where(np.isnan(out), np.inf, out)


@dataclass(frozen=True)
class LabelsNeeded:
    """How many labels the fitted curve needs to reach ``target``.

    Attributes
    ----------
    target : float
    reachable : bool
        The fitted asymptote lies above the target; when False, ``estimate`` is inf
        ("not reachable").
    estimate, lo, hi : float
        Labels needed (point fit) with its bootstrap percentile interval (``hi`` may be
        inf: some replicates never reach the target).
    share_reachable : float
        Share of bootstrap replicates whose asymptote passes the target.
    current : float
        The largest label count fitted; ``estimate - current`` more labels are needed.
    """

    target: float
    reachable: bool
    estimate: float
    lo: float
    hi: float
    share_reachable: float
    current: float

    @property
    def more(self) -> float:
        """Labels still to add: ``max(0, estimate - current)``."""
        return max(0.0, self.estimate - self.current)

    def text(self, unit: str = "labels") -> str:
        if not self.reachable:
            return (f"target {self.target:g} not reachable: the curve levels off below it "
                    f"({100 * self.share_reachable:.0f} % of bootstrap fits reach it)")
        hi = "no bound" if math.isinf(self.hi) else f"{self.hi:,.0f}"
        return (f"about {self.estimate:,.0f} {unit} to reach {self.target:g} "
                f"(range {self.lo:,.0f} to {hi}); {self.more:,.0f} more than now")

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "reachable": self.reachable,
                "estimate": _num(self.estimate), "lo": _num(self.lo), "hi": _num(self.hi),
                "share_reachable": self.share_reachable, "current": self.current,
                "more": _num(self.more), "text": self.text()}


@dataclass(frozen=True, eq=False)  # eq=False: holds arrays
class LearningCurveFit:
    """Result of :func:`learning_curve_fit`: ``perf(n) = a - b n^-c`` and its replicates.

    Attributes
    ----------
    a, b, c : float
        Fitted asymptote, scale and rate.
    n_labels, performance, sigma : ndarray, shape (k,)
        The points fitted and the standard error used for each.
    replicates : ndarray, shape (n_valid, 3)
        ``(a, b, c)`` of each bootstrap refit that converged.
    n_boot : int
        Replicates drawn.
    alpha : float
        1 - level of the bands.
    upper : float
        Bound on the asymptote (1 for AUC or sensitivity).
    """

    a: float
    b: float
    c: float
    n_labels: np.ndarray
    performance: np.ndarray
    sigma: np.ndarray
    replicates: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    n_boot: int = 0
    alpha: float = 0.05
    upper: float = 1.0

    @property
    def params(self) -> np.ndarray:
        return np.array([self.a, self.b, self.c])

    def predict(self, n: Any) -> np.ndarray:
        """Fitted performance at label counts ``n``."""
        return inverse_power_law(n, self.a, self.b, self.c)

    def band(self, n: Any) -> tuple[np.ndarray, np.ndarray]:
        """Pointwise ``1 - alpha`` percentile band of the replicates' curves at ``n``."""
        x = np.atleast_1d(np.asarray(n, dtype=np.float64))
        if not len(self.replicates):
            nan = np.full(x.shape, np.nan)
            return nan, nan.copy()
        r = self.replicates
        curves = r[:, :1] - r[:, 1:2] * np.power(x[None, :], -r[:, 2:3])
        lo, hi = percentile_ci(curves, self.alpha)
        return np.asarray(lo), np.asarray(hi)

    def labels_needed(self, target: float) -> LabelsNeeded:
        """Labels at which the curve reaches ``target``, with its bootstrap interval."""
        t = float(target)
        if not math.isfinite(t):
            raise ValueError(f"target must be finite, got {target}")
        est = float(_needed(self.params[None, :], t)[0])
        reps = _needed(self.replicates, t) if len(self.replicates) else np.zeros(0)
        if reps.size:
            # order statistics, not interpolation: an infinite replicate stays infinite
            q = np.quantile(reps, [self.alpha / 2, 1 - self.alpha / 2],
                            method="inverted_cdf")
            lo, hi = float(q[0]), float(q[1])
            share = float(np.isfinite(reps).mean())
        else:
            lo = hi = math.nan
            share = math.nan
        return LabelsNeeded(target=t, reachable=math.isfinite(est), estimate=est, lo=lo,
                            hi=hi, share_reachable=share,
                            current=float(self.n_labels.max()))

    def to_dict(self) -> dict[str, Any]:
        return {"model": "a - b * n^-c (Figueroa et al. 2012)", "a": self.a, "b": self.b,
                "c": self.c, "n_labels": self.n_labels.tolist(),
                "performance": self.performance.tolist(), "sigma": self.sigma.tolist(),
                "n_boot": self.n_boot, "n_boot_valid": len(self.replicates),
                "alpha": self.alpha, "upper": self.upper}


def _fit(n: np.ndarray, y: np.ndarray, s: np.ndarray, upper: float,
         starts: list[np.ndarray]) -> np.ndarray | None:
    """Best weighted least-squares fit over the starting points; None when none
    converges.

    Solved as ``a - b' (n / n_min) ** -c`` (``b' = b n_min ** -c``: all three parameters
    in units of the performance, which keeps a flat curve, where ``c`` is hardly
    identified, from taking hundreds of iterations) with the analytic Jacobian, by
    :func:`scipy.optimize.least_squares` (trust-region reflective, the bounds below).
    """
    best, best_ssr = None, math.inf
    n0 = float(np.min(n))
    x = n / n0
    ln_x = np.log(x)
    w = 1.0 / s
    lo = np.array([float(np.min(y)) - 1.0, 0.0, 1e-6])
    hi = np.array([upper, np.inf, C_MAX])

    def resid(q: np.ndarray) -> np.ndarray:
        return (q[0] - q[1] * np.power(x, -q[2]) - y) * w

    def jac(q: np.ndarray) -> np.ndarray:
        xc = np.power(x, -q[2])
        return np.stack([w, -xc * w, q[1] * xc * ln_x * w], axis=1)

    for p0 in starts:
        q0 = np.array([p0[0], p0[1] * n0 ** (-p0[2]), p0[2]], dtype=np.float64)
        q0 = np.clip(q0, lo, np.nextafter(hi, -np.inf))
        try:
            r = least_squares(resid, q0, jac=jac, bounds=(lo, hi), method="trf",
                              x_scale="jac", max_nfev=2000)
        except (ValueError, FloatingPointError):
            continue
        if r.status <= 0 or not np.all(np.isfinite(r.x)):
            continue
        ssr = float(r.fun @ r.fun)
        if ssr < best_ssr:
            a, b_scaled, c = (float(v) for v in r.x)
            best, best_ssr = np.array([a, b_scaled * n0 ** c, c]), ssr
    return best


def _starts(n: np.ndarray, y: np.ndarray, upper: float) -> list[np.ndarray]:
    a0 = min(upper, float(y.max()) + 0.5 * float(np.ptp(y)) + 1e-3)
    out = []
    for c0 in C_STARTS:
        b0 = max((a0 - float(y.min())) * float(n.min()) ** c0, 1e-6)
        out.append(np.array([a0, b0, c0]))
    return out


def learning_curve_fit(
    n_labels: Any,
    performance: Any,
    ci: Any = None,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
    upper: float = 1.0,
) -> LearningCurveFit:
    """Fit ``perf = a - b n^-c`` to (label count, performance) points, with bootstrap.

    Method: inverse power law of Figueroa et al. [1]_ by weighted nonlinear least squares
    (:func:`scipy.optimize.least_squares`, a few starting rates, the best fit kept);
    uncertainty by a parametric bootstrap [2]_ of the points (module docstring).

    Parameters
    ----------
    n_labels : array_like, shape (k,)
        Label counts (labelled videos, frames, ...), positive, at least 3 distinct.
    performance : array_like, shape (k,)
        The metric at each count (AUC, sensitivity at an operating point: higher is
        better).
    ci : array_like, shape (k, 2), optional
        ``1 - alpha`` CI of each point (e.g. DeLong's for an AUC): gives its standard
        error ``(hi - lo) / (2 z_{1 - alpha/2})``. Without it every point gets the residual
        standard error of an unweighted fit (needs at least 4 points).
    n_boot : int
        Bootstrap replicates (0: point fit only, NaN bands).
    seed : int
        Seed of ``numpy.random.default_rng``.
    alpha : float
        1 - level of the CIs given and of the bands returned.
    upper : float
        Upper bound of the asymptote (1 for AUC or sensitivity).

    Returns
    -------
    LearningCurveFit

    Raises
    ------
    ValueError
        Fewer than 3 distinct counts, a count <= 0, a CI that does not hold its point,
        no convergent fit.
    """
    check_alpha(alpha)
    n_boot = check_n_boot(n_boot)
    n = check_scores(n_labels, name="n_labels")
    y = check_scores(performance, n.size, name="performance")
    if np.any(n <= 0):
        raise ValueError("n_labels must all be positive")
    if np.unique(n).size < 3:
        raise ValueError(f"a learning curve needs at least 3 distinct label counts, got "
                         f"{np.unique(n).size}")
    if not math.isfinite(upper) or upper <= float(y.max()) - 1e-12:
        raise ValueError(f"upper ({upper}) must be finite and at least the best performance")
    z = float(norm.ppf(1 - alpha / 2))
    if ci is not None:
        c = np.asarray(ci, dtype=np.float64)
        if c.shape != (n.size, 2) or not np.isfinite(c).all():
            raise ValueError(f"ci must be finite, shape ({n.size}, 2), got {c.shape}")
        if np.any(c[:, 0] > y + 1e-12) or np.any(c[:, 1] < y - 1e-12):
            i = int(np.flatnonzero((c[:, 0] > y + 1e-12) | (c[:, 1] < y - 1e-12))[0])
            raise ValueError(f"ci [{i}] ({c[i, 0]:g}, {c[i, 1]:g}) does not hold its point "
                             f"{y[i]:g}")
        s = np.maximum((c[:, 1] - c[:, 0]) / (2 * z), 1e-6)
    else:
        if n.size < 4:
            raise ValueError("without CIs the fit needs at least 4 points (to estimate "
                             "the noise); pass ci")
        s = np.ones(n.size)
    p = _fit(n, y, s, upper, _starts(n, y, upper))
    if p is None:
        raise ValueError("the inverse power law could not be fitted to these points")
    if ci is None:
        resid = y - inverse_power_law(n, *p)
        s = np.full(n.size, max(math.sqrt(float(resid @ resid) / (n.size - 3)), 1e-6))
    rng = np.random.default_rng(seed)
    reps = []
    for _ in range(n_boot):
        yb = y + rng.standard_normal(n.size) * s
        pb = _fit(n, yb, s, upper, [p])  # from the point fit; other starts if it fails
        if pb is None:
            pb = _fit(n, yb, s, upper, _starts(n, yb, upper))
        if pb is not None:
            reps.append(pb)
    r = np.asarray(reps, dtype=np.float64).reshape(-1, 3)
    for arr in (n, y, s, r):
        arr.setflags(write=False)
    return LearningCurveFit(a=float(p[0]), b=float(p[1]), c=float(p[2]), n_labels=n,
                            performance=y, sigma=s, replicates=r, n_boot=n_boot,
                            alpha=float(alpha), upper=float(upper))
