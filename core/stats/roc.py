"""ROC analysis: curves, AUC, operating points, and the full analysis of paper §1.6.

:func:`roc_curve`, :func:`auc` and :func:`tpr_at_fpr` are pure numpy/scipy functions;
:func:`roc_analysis` combines them with DeLong's AUC interval (:mod:`core.stats.delong`)
and bootstrap intervals of the operating points (:mod:`core.stats.bootstrap`) into a plain
:class:`RocResult` that the trainer and the GUI adapt (STYLE.md §14).

Conventions. ``scores`` are 1-D, any real dtype, larger meaning "more likely positive";
``labels`` are 1-D, 0 (negative) or 1 (positive), any numeric or bool dtype. A case is
called positive when ``score >= threshold``. Rates (FPR, TPR, AUC) are fractions in
[0, 1], never percentages.

References
----------
.. [1] J. A. Hanley, B. J. McNeil, "The meaning and use of the area under a receiver
   operating characteristic (ROC) curve", Radiology 143(1):29-36, 1982.
.. [2] T. Fawcett, "An introduction to ROC analysis", Pattern Recognition Letters
   27(8):861-874, 2006.
.. [3] B. Efron, R. J. Tibshirani, "An Introduction to the Bootstrap", Chapman & Hall,
   1993 (two-sample resampling ch. 8, percentile interval ch. 13).
.. [4] C. A. Field, A. H. Welsh, "Bootstrapping clustered data", Journal of the Royal
   Statistical Society B 69(3):369-390, 2007.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.stats import rankdata

from core.stats._checks import check_alpha, check_fpr, check_groups, check_n_boot, check_xy
from core.stats.bootstrap import percentile_ci
from core.stats.delong import delong_ci
from core.stats.roc_bootstrap import BAND_FPR, _interp_tpr, bootstrap_curves

__all__ = [
    "DEFAULT_FPRS",
    "OperatingPoint",
    "RocResult",
    "auc",
    "roc_analysis",
    "roc_curve",
    "tpr_at_fpr",
]

DEFAULT_FPRS: tuple[float, ...] = (0.10, 0.15, 0.20)  # paper §1.6 operating points


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

    Method: sweep the threshold down through the sorted distinct scores and count the
    cases at or above it (Fawcett [2]_, Algorithm 2); tied scores move together, so a tie
    between classes is one diagonal step.

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
    s, pos = check_xy(scores, labels)
    fps, tps, thr = _binary_clf_curve(s, pos)
    fpr = np.r_[0.0, fps / fps[-1]]
    tpr = np.r_[0.0, tps / tps[-1]]
    return fpr, tpr, np.r_[np.inf, thr]


def auc(scores: Any, labels: Any) -> float:
    """Area under the ROC curve, Mann-Whitney form.

    Method: ``P(score_pos > score_neg) + 0.5 * P(score_pos == score_neg)``, the
    Mann-Whitney U statistic over ``m n`` (Hanley & McNeil [1]_), computed from midranks
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
    s, pos = check_xy(scores, labels)
    m = int(pos.sum())
    n = pos.size - m
    ranks = rankdata(s)  # midranks: a tie contributes 1/2
    return float((ranks[pos].sum() - m * (m + 1) / 2.0) / (m * n))


def tpr_at_fpr(scores: Any, labels: Any, fpr: float) -> float:
    """Sensitivity at a false-positive rate, linearly interpolated on the ROC curve.

    Method: on the empirical curve of :func:`roc_curve`, take the top of the vertical step
    at ``fpr`` if there is one, otherwise interpolate linearly between the top of the
    step before and the foot of the step after (the segment a randomised choice between
    the two thresholds achieves, Fawcett [2]_ §10).

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
    f = check_fpr(fpr)
    x, y, _ = roc_curve(scores, labels)
    return float(_interp_tpr(x, y, f))


# --------------------------------------------------------------------------- results
def _num(v: float) -> float | None:
    """JSON has no NaN/inf: map them to None."""
    return float(v) if math.isfinite(v) else None


def _unnum(v: Any, missing: float) -> float:
    return missing if v is None else float(v)


def _frozen(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


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
        Bootstrap percentile CI of ``tpr`` (stratified by class, or by whole groups when
        :func:`roc_analysis` was given ``groups``); NaNs when no bootstrap was run.
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
    auc_ci_boot : (float, float)
        Bootstrap percentile CI of the AUC: over whole groups (videos, patients) when
        ``n_groups >= 2``, else over cases stratified by class; NaNs when no bootstrap
        was run (and in results stored before it existed).
    n_groups : int
        Distinct groups the analysis was given (0: none given). With 2 or more every
        bootstrap interval resamples whole groups.
    band_fpr, band_lo, band_hi : ndarray, shape (m,), float64, read-only
        Pointwise bootstrap band of the curve: at each FPR of ``band_fpr`` the percentile
        interval of the replicates' TPRs (vertical averaging); empty when no bootstrap
        was run.
    """

    auc: float
    auc_ci: tuple[float, float]
    n_pos: int
    n_neg: int
    fpr: np.ndarray
    tpr: np.ndarray
    operating_points: tuple[OperatingPoint, ...]
    auc_ci_boot: tuple[float, float] = (math.nan, math.nan)
    n_groups: int = 0
    band_fpr: np.ndarray = field(default_factory=lambda: _frozen(np.zeros(0)))
    band_lo: np.ndarray = field(default_factory=lambda: _frozen(np.zeros(0)))
    band_hi: np.ndarray = field(default_factory=lambda: _frozen(np.zeros(0)))

    @property
    def grouped(self) -> bool:
        """True when the bootstrap intervals resampled whole groups (videos)."""
        return self.n_groups >= 2

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
            "auc_ci_boot": [_num(self.auc_ci_boot[0]), _num(self.auc_ci_boot[1])],
            "n_groups": int(self.n_groups),
            "band_fpr": [float(v) for v in self.band_fpr],
            "band_lo": [_num(v) for v in self.band_lo],
            "band_hi": [_num(v) for v in self.band_hi],
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
            # results stored before these existed lack them: no bootstrap AUC CI, no band
            auc_ci_boot=tuple(_unnum(v, math.nan) for v in d.get("auc_ci_boot") or
                              (None, None)),
            n_groups=int(d.get("n_groups", 0)),
            band_fpr=_band(d.get("band_fpr")),
            band_lo=_band(d.get("band_lo")),
            band_hi=_band(d.get("band_hi")),
        )


def _band(values: Any) -> np.ndarray:
    return _frozen(np.asarray([_unnum(v, math.nan) for v in values or ()], dtype=np.float64))


def _bootstrap_tprs(
    s: np.ndarray,
    pos: np.ndarray,
    fprs: Sequence[float],
    n_boot: int,
    rng: np.random.Generator,
    codes: np.ndarray | None = None,
    chunk_cells: int = 4_000_000,
) -> np.ndarray:
    """TPR at each of ``fprs`` on ``n_boot`` bootstrap resamples, shape (n_boot, len(fprs)).

    The operating-point part of :func:`core.stats.roc_bootstrap.bootstrap_curves`.
    """
    return bootstrap_curves(s, pos, fprs, n_boot, rng, codes, chunk_cells).tprs


def roc_analysis(
    scores: Any,
    labels: Any,
    fprs: Iterable[float] = DEFAULT_FPRS,
    alpha: float = 0.05,
    n_boot: int = 1000,
    rng: np.random.Generator | None = None,
    *,
    groups: Any = None,
) -> RocResult:
    """ROC curve, AUC with DeLong CI, and TPRs at chosen FPRs with bootstrap CIs.

    This is the evaluation of paper §1.6: "ROC with 95 % CIs; operating points 10 %, 15 %,
    20 % false positive rate". Methods: curve and AUC as :func:`roc_curve` and
    :func:`auc`; AUC interval :func:`core.stats.delong.delong_ci`; operating-point
    intervals are bootstrap percentile intervals (:func:`core.stats.bootstrap.percentile_ci`)
    — stratified by class over cases [3]_, or over whole groups (cluster bootstrap [4]_)
    when ``groups`` is given.

    Parameters
    ----------
    scores, labels : array_like, shape (n,)
        As in :func:`roc_curve`; at least 2 cases of each class.
    fprs : iterable of float
        False-positive rates of the operating points, each in [0, 1].
    alpha : float
        1 - confidence level of every interval (0.05 gives 95 % CIs).
    n_boot : int
        Bootstrap replicates for the TPR CIs, the bootstrap AUC CI and the band; 0 skips
        them (CIs become NaN, the band empty).
    rng : numpy.random.Generator, optional
        Source of the resampling; ``default_rng(0)`` when None, so results repeat.
    groups : array_like, shape (n,), optional
        Group key per case (video or patient id). With 2 or more distinct keys the TPR
        CIs resample whole groups with replacement, which keeps the correlation of cases
        within a group; replicates that drew no case of one class are left out. With a
        single key there is no between-group variation to resample and the CIs are those
        of ``groups=None`` (they then describe new frames of that video, not new videos).
        ``auc_ci`` stays DeLong's, which treats cases as independent (too narrow when
        the frames of a video are alike); ``auc_ci_boot`` and the curve's pointwise band
        (``band_*``) come from the same bootstrap as the TPR CIs, so with groups they
        respect the videos.

    Returns
    -------
    RocResult
    """
    s, pos = check_xy(scores, labels)
    check_alpha(alpha)
    targets = tuple(check_fpr(f) for f in fprs)
    n_boot = check_n_boot(n_boot)
    codes, n_groups = None, 0
    if groups is not None:
        codes, n_groups = check_groups(groups, pos.size)
        if n_groups < 2:  # nothing to resample between groups: resample the cases
            codes = None
    rng = np.random.default_rng(0) if rng is None else rng
    a, lo, hi = delong_ci(s, pos, alpha)
    fpr, tpr, thr = roc_curve(s, pos)
    q_lo = q_hi = np.full(len(targets), np.nan)
    boot_ci, band = (math.nan, math.nan), (np.zeros(0), np.zeros(0), np.zeros(0))
    if n_boot:
        reps = bootstrap_curves(s, pos, targets, n_boot, rng, codes)
        if targets:
            q_lo, q_hi = percentile_ci(reps.tprs, alpha)
        b_lo, b_hi = percentile_ci(reps.aucs, alpha)
        boot_ci = (float(b_lo), float(b_hi))
        band = (BAND_FPR.copy(), *percentile_ci(reps.band, alpha))
    points = []
    for j, f in enumerate(targets):
        k = int(np.count_nonzero(fpr <= f)) - 1
        points.append(
            OperatingPoint(
                fpr=f,
                tpr=float(_interp_tpr(fpr, tpr, f)),
                tpr_ci=(float(q_lo[j]), float(q_hi[j])),
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
        auc_ci_boot=boot_ci,
        n_groups=int(n_groups),
        band_fpr=_frozen(band[0]),
        band_lo=_frozen(np.asarray(band[1], np.float64)),
        band_hi=_frozen(np.asarray(band[2], np.float64)),
    )
