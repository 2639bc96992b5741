"""ROC analysis: curves, AUC with DeLong confidence intervals, operating points.

Three layers, as STYLE.md §14 asks: pure numpy/scipy functions (:func:`roc_curve`,
:func:`auc`, :func:`delong_ci`, :func:`delong_test`, :func:`tpr_at_fpr`,
:func:`roc_analysis`), an accumulator (:class:`RocAccumulator`) that collects scores batch
by batch, and plain results (:class:`RocResult`) that the trainer and the GUI adapt.

Conventions. ``scores`` are 1-D, any real dtype, larger meaning "more likely positive";
``labels`` are 1-D, 0 (negative) or 1 (positive), any numeric or bool dtype. A case is
called positive when ``score >= threshold``. Rates (FPR, TPR, AUC) are fractions in
[0, 1], never percentages.

References
----------
.. [1] E. R. DeLong, D. M. DeLong, D. L. Clarke-Pearson, "Comparing the areas under two or
   more correlated receiver operating characteristic curves: a nonparametric approach",
   Biometrics 44(3):837-845, 1988.
.. [2] X. Sun, W. Xu, "Fast implementation of DeLong's algorithm for comparing the areas
   under correlated receiver operating characteristic curves", IEEE Signal Processing
   Letters 21(11):1389-1393, 2014.
.. [3] J. A. Hanley, B. J. McNeil, "The meaning and use of the area under a receiver
   operating characteristic (ROC) curve", Radiology 143(1):29-36, 1982.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import norm, rankdata

__all__ = [
    "OperatingPoint",
    "RocAccumulator",
    "RocResult",
    "auc",
    "delong_ci",
    "delong_covariance",
    "delong_test",
    "delong_variance",
    "read_scores_csv",
    "roc_analysis",
    "roc_curve",
    "tpr_at_fpr",
]

DEFAULT_FPRS: tuple[float, ...] = (0.10, 0.15, 0.20)  # paper §1.6 operating points


# --------------------------------------------------------------------------- validation
def _check_labels(labels: Any, *, require_both: bool = True) -> np.ndarray:
    """Return ``labels`` as a 1-D bool array (True = positive) or raise ValueError."""
    y = np.asarray(labels)
    if y.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {y.shape}")
    if y.dtype == bool:
        pos = y.copy()
    elif np.issubdtype(y.dtype, np.number):
        bad = ~((y == 0) | (y == 1))  # NaN compares False to both, so it is caught here
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"labels must be 0 (negative) or 1 (positive); found {y[i]!r} at index {i}"
            )
        pos = y == 1
    else:
        raise ValueError(f"labels must be numeric or bool 0/1, got dtype {y.dtype}")
    if require_both:
        n_pos = int(pos.sum())
        if n_pos == 0 or n_pos == pos.size:
            raise ValueError(
                "labels must contain both classes (0 and 1); got "
                f"{n_pos} positive and {pos.size - n_pos} negative cases"
            )
    return pos


def _check_scores(scores: Any, n: int | None = None, name: str = "scores") -> np.ndarray:
    """Return ``scores`` as a 1-D float64 array of finite values or raise ValueError."""
    s = np.asarray(scores)
    if s.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {s.shape}")
    if not (np.issubdtype(s.dtype, np.number) or s.dtype == bool):
        raise ValueError(f"{name} must be numeric, got dtype {s.dtype}")
    if np.iscomplexobj(s):
        raise ValueError(f"{name} must be real, got dtype {s.dtype}")
    s = s.astype(np.float64)
    if n is not None and s.size != n:
        raise ValueError(f"{name} has {s.size} values but labels has {n}")
    bad = ~np.isfinite(s)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name} must be finite; found {s[i]} at index {i}")
    return s


def _check_xy(scores: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    pos = _check_labels(labels)
    return _check_scores(scores, pos.size), pos


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")


# --------------------------------------------------------------------------- ROC / AUC
def _binary_clf_curve(s: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, ...]:
    """Cumulative (fps, tps, thresholds) at each distinct score, highest first."""
    order = np.argsort(-s, kind="mergesort")
    s_sorted = s[order]
    # The last index of each run of equal scores: tied cases cross the threshold together.
    ends = np.r_[np.flatnonzero(np.diff(s_sorted)), s.size - 1]
    tps = np.cumsum(pos[order])[ends]
    fps = ends + 1 - tps
    return fps, tps, s_sorted[ends]


def roc_curve(scores: Any, labels: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Empirical ROC curve, one point per distinct score.

    Parameters
    ----------
    scores : array_like, shape (n,)
        Real scores, larger = more likely positive.
    labels : array_like, shape (n,)
        0/1 (or bool) ground truth; both classes must be present.

    Returns
    -------
    fpr, tpr : ndarray, shape (k + 1,), float64
        False- and true-positive rates, non-decreasing, from (0, 0) to (1, 1).
    thresholds : ndarray, shape (k + 1,), float64
        ``thresholds[i]`` gives ``(fpr[i], tpr[i])`` when ``score >= thresholds[i]`` is
        called positive; decreasing, with ``thresholds[0] = inf`` for the (0, 0) point.
        Equivalent to scikit-learn's ``roc_curve(..., drop_intermediate=False)``.
    """
    s, pos = _check_xy(scores, labels)
    fps, tps, thr = _binary_clf_curve(s, pos)
    fpr = np.r_[0.0, fps / fps[-1]]
    tpr = np.r_[0.0, tps / tps[-1]]
    return fpr, tpr, np.r_[np.inf, thr]


def auc(scores: Any, labels: Any) -> float:
    """Area under the ROC curve, Mann-Whitney form.

    ``P(score_pos > score_neg) + 0.5 * P(score_pos == score_neg)``, computed from midranks
    in O(n log n); equals the trapezoidal area under :func:`roc_curve`.

    Parameters
    ----------
    scores, labels : array_like, shape (n,)
        As in :func:`roc_curve`.

    Returns
    -------
    float
        AUC in [0, 1].
    """
    s, pos = _check_xy(scores, labels)
    m = int(pos.sum())
    n = pos.size - m
    ranks = rankdata(s)  # midranks: a tie contributes 1/2
    return float((ranks[pos].sum() - m * (m + 1) / 2.0) / (m * n))


def _interp_tpr(fpr: np.ndarray, tpr: np.ndarray, target: float) -> np.ndarray:
    """TPR at ``target`` FPR on curve(s) ``fpr``/``tpr`` of shape (..., k), non-decreasing.

    At an FPR where the curve has a vertical step the highest TPR is taken (the best
    sensitivity reachable without exceeding the FPR); between two FPRs the curve is the
    straight segment from the top of one step to the foot of the next.
    """
    last = fpr.shape[-1] - 1
    k = np.count_nonzero(fpr <= target, axis=-1) - 1  # last point with FPR <= target
    k1 = np.minimum(k + 1, last)
    f0 = np.take_along_axis(fpr, k[..., None], -1)[..., 0]
    f1 = np.take_along_axis(fpr, k1[..., None], -1)[..., 0]
    t0 = np.take_along_axis(tpr, k[..., None], -1)[..., 0]
    t1 = np.take_along_axis(tpr, k1[..., None], -1)[..., 0]
    span = f1 - f0
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(span > 0, (target - f0) / np.where(span > 0, span, 1.0), 0.0)
    return t0 + w * (t1 - t0)


def _check_fpr(fpr: float) -> float:
    f = float(fpr)
    if not 0.0 <= f <= 1.0:
        raise ValueError(f"false-positive rate must be in [0, 1], got {fpr}")
    return f


def tpr_at_fpr(scores: Any, labels: Any, fpr: float) -> float:
    """Sensitivity at a false-positive rate, linearly interpolated on the ROC curve.

    Parameters
    ----------
    scores, labels : array_like, shape (n,)
        As in :func:`roc_curve`.
    fpr : float
        Target false-positive rate in [0, 1] (0.10 means 10 %).

    Returns
    -------
    float
        TPR in [0, 1]. Where the curve is vertical at ``fpr`` the highest TPR is returned.
    """
    f = _check_fpr(fpr)
    x, y, _ = roc_curve(scores, labels)
    return float(_interp_tpr(x, y, f))


# --------------------------------------------------------------------------- DeLong
def delong_covariance(scores: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    """AUCs of k classifiers on the same cases and DeLong's covariance of them.

    Fast O(k n log n) algorithm of Sun & Xu [2]_ (midranks) for the structural components
    of DeLong et al. [1]_.

    Parameters
    ----------
    scores : array_like, shape (n,) or (k, n)
        One row of scores per classifier, columns are cases.
    labels : array_like, shape (n,)
        0/1 ground truth with at least 2 positive and 2 negative cases.

    Returns
    -------
    aucs : ndarray, shape (k,), float64
    cov : ndarray, shape (k, k), float64
        Estimated covariance matrix of ``aucs``.
    """
    pos = _check_labels(labels)
    x = np.asarray(scores)
    if x.ndim not in (1, 2):
        raise ValueError(f"scores must have shape (n,) or (k, n), got {x.shape}")
    rows = np.atleast_2d(x)
    s = np.stack([_check_scores(r, pos.size) for r in rows])
    m = int(pos.sum())
    n = pos.size - m
    if m < 2 or n < 2:
        raise ValueError(
            f"DeLong variance needs at least 2 positive and 2 negative cases, got {m} and {n}"
        )
    xp, xn = s[:, pos], s[:, ~pos]
    tx = rankdata(xp, axis=1)
    ty = rankdata(xn, axis=1)
    tz = rankdata(np.concatenate([xp, xn], axis=1), axis=1)
    aucs = (tz[:, :m].sum(axis=1) - m * (m + 1) / 2.0) / (m * n)
    # Rank among all minus rank among own class = number of other-class cases below
    # (ties 1/2): DeLong's structural components V10 (positives) and V01 (negatives).
    v10 = (tz[:, :m] - tx) / n
    v01 = 1.0 - (tz[:, m:] - ty) / m
    cov = np.atleast_2d(np.cov(v10, ddof=1)) / m + np.atleast_2d(np.cov(v01, ddof=1)) / n
    return aucs, cov


def delong_variance(scores: Any, labels: Any) -> float:
    """DeLong [1]_ estimate of the variance of the empirical AUC (fast algorithm [2]_).

    Parameters
    ----------
    scores, labels : array_like, shape (n,)
        As in :func:`roc_curve`; at least 2 cases of each class.

    Returns
    -------
    float
        Variance of the AUC (AUC units squared). The AUC itself is :func:`auc`.
    """
    _, cov = delong_covariance(_check_scores(scores), labels)
    return float(cov[0, 0])


def delong_ci(scores: Any, labels: Any, alpha: float = 0.05) -> tuple[float, float, float]:
    """AUC with its ``1 - alpha`` DeLong confidence interval.

    Wald interval ``auc ± z_{1-alpha/2} * sqrt(var)`` on the AUC scale, clipped to
    [0, 1] (as pROC's ``ci.auc(method="delong")``).

    Returns
    -------
    auc, lo, hi : float
    """
    _check_alpha(alpha)
    aucs, cov = delong_covariance(_check_scores(scores), labels)
    a = float(aucs[0])
    half = float(norm.ppf(1.0 - alpha / 2.0)) * math.sqrt(max(float(cov[0, 0]), 0.0))
    return a, max(0.0, a - half), min(1.0, a + half)


def delong_test(scores_a: Any, scores_b: Any, labels: Any) -> tuple[float, float]:
    """DeLong's paired test that two classifiers scored on the same cases have equal AUC.

    Parameters
    ----------
    scores_a, scores_b : array_like, shape (n,)
        Two classifiers' scores for the same cases, in the same order.
    labels : array_like, shape (n,)
        0/1 ground truth.

    Returns
    -------
    z : float
        ``(auc_a - auc_b) / sd(auc_a - auc_b)``; positive when ``a`` is better.
    p : float
        Two-sided p-value. Identical AUCs with a zero-variance difference give
        ``(0.0, 1.0)``; different AUCs with a zero-variance difference ``(±inf, 0.0)``.
    """
    a = _check_scores(scores_a, name="scores_a")
    b = _check_scores(scores_b, a.size, name="scores_b")
    aucs, cov = delong_covariance(np.stack([a, b]), labels)
    diff = float(aucs[0] - aucs[1])
    var = float(cov[0, 0] + cov[1, 1] - 2.0 * cov[0, 1])
    # Round-off can leave a tiny (even negative) variance for identical classifiers.
    if var <= 1e-12 * max(float(cov[0, 0] + cov[1, 1]), 1e-300):
        if abs(diff) <= 1e-12:
            return 0.0, 1.0
        return math.copysign(math.inf, diff), 0.0
    z = diff / math.sqrt(var)
    return z, float(2.0 * norm.sf(abs(z)))


# --------------------------------------------------------------------------- results
def _num(v: float) -> float | None:
    """JSON has no NaN/inf: map them to None."""
    return float(v) if math.isfinite(v) else None


def _unnum(v: Any, missing: float) -> float:
    return missing if v is None else float(v)


@dataclass(frozen=True)
class OperatingPoint:
    """One point of interest on a ROC curve.

    Attributes
    ----------
    fpr : float
        The requested false-positive rate, in [0, 1].
    tpr : float
        Sensitivity there (interpolated, see :func:`tpr_at_fpr`).
    tpr_ci : (float, float)
        Stratified-bootstrap percentile CI of ``tpr``; NaNs when no bootstrap was run.
    threshold : float
        The lowest score threshold (positive when ``score >= threshold``) whose empirical
        FPR does not exceed ``fpr``; ``inf`` when only "call nothing positive" does.
    """

    fpr: float
    tpr: float
    tpr_ci: tuple[float, float]
    threshold: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "fpr": _num(self.fpr),
            "tpr": _num(self.tpr),
            "tpr_ci": [_num(self.tpr_ci[0]), _num(self.tpr_ci[1])],
            "threshold": _num(self.threshold),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> OperatingPoint:
        lo, hi = d["tpr_ci"]
        return cls(
            fpr=float(d["fpr"]),
            tpr=float(d["tpr"]),
            tpr_ci=(_unnum(lo, math.nan), _unnum(hi, math.nan)),
            threshold=_unnum(d["threshold"], math.inf),
        )


@dataclass(frozen=True, eq=False)  # eq=False: fields hold arrays, == would be ambiguous
class RocResult:
    """Result of :func:`roc_analysis`.

    Attributes
    ----------
    auc : float
    auc_ci : (float, float)
        DeLong CI of the AUC at the analysis' ``alpha``.
    n_pos, n_neg : int
        Numbers of positive and negative cases.
    fpr, tpr : ndarray, shape (k + 1,), float64, read-only
        The ROC curve of :func:`roc_curve`.
    operating_points : tuple of OperatingPoint
        One per requested false-positive rate, in the order requested.
    """

    auc: float
    auc_ci: tuple[float, float]
    n_pos: int
    n_neg: int
    fpr: np.ndarray
    tpr: np.ndarray
    operating_points: tuple[OperatingPoint, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (lists, floats, ints; non-finite values become None)."""
        return {
            "auc": _num(self.auc),
            "auc_ci": [_num(self.auc_ci[0]), _num(self.auc_ci[1])],
            "n_pos": int(self.n_pos),
            "n_neg": int(self.n_neg),
            "fpr": [float(v) for v in self.fpr],
            "tpr": [float(v) for v in self.tpr],
            "operating_points": [op.to_dict() for op in self.operating_points],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RocResult:
        """Inverse of :meth:`to_dict`."""
        return cls(
            auc=float(d["auc"]),
            auc_ci=(float(d["auc_ci"][0]), float(d["auc_ci"][1])),
            n_pos=int(d["n_pos"]),
            n_neg=int(d["n_neg"]),
            fpr=_frozen(np.asarray(d["fpr"], dtype=np.float64)),
            tpr=_frozen(np.asarray(d["tpr"], dtype=np.float64)),
            operating_points=tuple(OperatingPoint.from_dict(o) for o in d["operating_points"]),
        )


def _frozen(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


# --------------------------------------------------------------------------- bootstrap
def _bootstrap_tprs(
    s: np.ndarray,
    pos: np.ndarray,
    fprs: Sequence[float],
    n_boot: int,
    rng: np.random.Generator,
    chunk_cells: int = 4_000_000,
) -> np.ndarray:
    """TPR at each of ``fprs`` on ``n_boot`` stratified bootstrap resamples.

    Positives and negatives are resampled separately (their counts stay fixed, as the
    study design fixed them). A resample is a vector of case multiplicities, so the sort
    and the grouping of tied scores are done once and every replicate is two cumulative
    sums. Returns shape (n_boot, len(fprs)).
    """
    order = np.argsort(-s, kind="mergesort")
    s_sorted, pos_sorted = s[order], pos[order]
    ends = np.r_[np.flatnonzero(np.diff(s_sorted)), s.size - 1]
    # Cases of each class at or above each distinct score: indices into the cumulative
    # multiplicities of that class (sorted by score, highest first).
    upto_pos = np.cumsum(pos_sorted)[ends]
    upto_neg = ends + 1 - upto_pos
    m, n = int(pos.sum()), int((~pos).sum())
    out = np.empty((n_boot, len(fprs)))
    step = max(1, chunk_cells // s.size)
    for start in range(0, n_boot, step):
        b = min(step, n_boot - start)
        rows = np.arange(b)[:, None]
        cum = []
        for k in (m, n):
            draws = (rng.integers(0, k, size=(b, k)) + k * rows).ravel()
            counts = np.bincount(draws, minlength=b * k).reshape(b, k)
            cum.append(np.concatenate([np.zeros((b, 1)), np.cumsum(counts, axis=1)], axis=1))
        zero = np.zeros((b, 1))
        tpr = np.concatenate([zero, cum[0][:, upto_pos] / m], axis=1)
        fpr = np.concatenate([zero, cum[1][:, upto_neg] / n], axis=1)
        for j, f in enumerate(fprs):
            out[start : start + b, j] = _interp_tpr(fpr, tpr, f)
    return out


def roc_analysis(
    scores: Any,
    labels: Any,
    fprs: Iterable[float] = DEFAULT_FPRS,
    alpha: float = 0.05,
    n_boot: int = 1000,
    rng: np.random.Generator | None = None,
) -> RocResult:
    """ROC curve, AUC with DeLong CI, and TPRs at chosen FPRs with bootstrap CIs.

    This is the evaluation of paper §1.6: "ROC with 95 % CIs; operating points 10 %, 15 %,
    20 % false positive rate".

    Parameters
    ----------
    scores, labels : array_like, shape (n,)
        As in :func:`roc_curve`; at least 2 cases of each class.
    fprs : iterable of float
        False-positive rates of the operating points, each in [0, 1].
    alpha : float
        1 - confidence level of every interval (0.05 gives 95 % CIs).
    n_boot : int
        Stratified bootstrap replicates for the TPR CIs; 0 skips them (CIs become NaN).
    rng : numpy.random.Generator, optional
        Source of the resampling; ``default_rng(0)`` when None, so results repeat.

    Returns
    -------
    RocResult
    """
    s, pos = _check_xy(scores, labels)
    _check_alpha(alpha)
    targets = tuple(_check_fpr(f) for f in fprs)
    if int(n_boot) != n_boot or n_boot < 0:
        raise ValueError(f"n_boot must be a non-negative integer, got {n_boot}")
    rng = np.random.default_rng(0) if rng is None else rng
    a, lo, hi = delong_ci(s, pos, alpha)
    fpr, tpr, thr = roc_curve(s, pos)
    if n_boot and targets:
        boot = _bootstrap_tprs(s, pos, targets, int(n_boot), rng)
        q = np.quantile(boot, [alpha / 2.0, 1.0 - alpha / 2.0], axis=0)
    else:
        q = np.full((2, len(targets)), np.nan)
    points = []
    for j, f in enumerate(targets):
        k = int(np.count_nonzero(fpr <= f)) - 1
        points.append(
            OperatingPoint(
                fpr=f,
                tpr=float(_interp_tpr(fpr, tpr, f)),
                tpr_ci=(float(q[0, j]), float(q[1, j])),
                threshold=float(thr[k]),
            )
        )
    n_pos = int(pos.sum())
    return RocResult(
        auc=a,
        auc_ci=(lo, hi),
        n_pos=n_pos,
        n_neg=pos.size - n_pos,
        fpr=_frozen(fpr),
        tpr=_frozen(tpr),
        operating_points=tuple(points),
    )


# --------------------------------------------------------------------------- accumulator
class RocAccumulator:
    """Collects (score, label) batches, e.g. one per validation step, then analyses them.

    ``result(**kw)`` equals ``roc_analysis(all_scores, all_labels, **kw)`` on the
    concatenation of the batches in the order they were added.
    """

    def __init__(self) -> None:
        self._scores: list[np.ndarray] = []
        self._labels: list[np.ndarray] = []
        self._n = 0

    def add(self, scores: Any, labels: Any) -> None:
        """Append a batch; scores and labels of shape (b,). A batch may hold one class."""
        pos = _check_labels(labels, require_both=False)
        s = _check_scores(scores, pos.size)
        self._scores.append(s)
        self._labels.append(pos)
        self._n += s.size

    @property
    def scores(self) -> np.ndarray:
        """All scores so far, shape (n,), float64."""
        return np.concatenate(self._scores) if self._scores else np.empty(0)

    @property
    def labels(self) -> np.ndarray:
        """All labels so far, shape (n,), bool (True = positive)."""
        return np.concatenate(self._labels) if self._labels else np.empty(0, dtype=bool)

    def result(self, **kw: Any) -> RocResult:
        """:func:`roc_analysis` of everything added; keywords are passed through."""
        if not self._n:
            raise ValueError("RocAccumulator is empty: add() scores and labels first")
        return roc_analysis(self.scores, self.labels, **kw)

    def reset(self) -> None:
        self._scores.clear()
        self._labels.clear()
        self._n = 0

    def __len__(self) -> int:
        return self._n


# --------------------------------------------------------------------------- CSV
def read_scores_csv(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a ``score,label`` CSV file (header row required, other columns ignored).

    Parameters
    ----------
    path : str or Path
        UTF-8 CSV; ``label`` is 0 or 1, ``score`` a finite real number. Blank lines are
        skipped.

    Returns
    -------
    scores : ndarray, shape (n,), float64
    labels : ndarray, shape (n,), int64 (0 or 1)

    Raises
    ------
    ValueError
        Naming the file and line of the first bad header or row.
    """
    p = Path(path)
    scores: list[float] = []
    labels: list[int] = []
    with p.open(newline="", encoding="utf-8-sig") as fh:  # -sig: Excel writes a BOM
        reader = csv.reader(fh)
        header = next(reader, None)
        cols = [c.strip().lower() for c in header] if header else []
        if "score" not in cols or "label" not in cols:
            raise ValueError(f"{p}:1: header must name columns 'score' and 'label', got {cols}")
        i_s, i_l = cols.index("score"), cols.index("label")
        for row in reader:
            line = reader.line_num
            if not any(c.strip() for c in row):
                continue
            if len(row) <= max(i_s, i_l):
                raise ValueError(f"{p}:{line}: expected {len(cols)} columns, got {len(row)}")
            raw_s, raw_l = row[i_s].strip(), row[i_l].strip()
            try:
                v = float(raw_s)
            except ValueError:
                raise ValueError(f"{p}:{line}: score {raw_s!r} is not a number") from None
            if not math.isfinite(v):
                raise ValueError(f"{p}:{line}: score {raw_s!r} is not finite")
            if raw_l not in ("0", "1"):
                raise ValueError(f"{p}:{line}: label {raw_l!r} must be 0 or 1")
            scores.append(v)
            labels.append(int(raw_l))
    if not scores:
        raise ValueError(f"{p}: no data rows after the header")
    return np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=np.int64)
