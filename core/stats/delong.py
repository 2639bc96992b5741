"""DeLong's nonparametric variance of the AUC, its confidence interval and paired test.

The AUC of scores ``s`` for labels ``y`` is the Mann-Whitney statistic
``P(s_pos > s_neg) + 0.5 P(s_pos == s_neg)``. DeLong, DeLong & Clarke-Pearson [1]_ write
its variance (and the covariance of the AUCs of several classifiers scored on the same
cases) through "structural components": for each positive case the fraction of negatives
it outranks (V10), for each negative the fraction of positives that outrank it (V01). Sun
& Xu [2]_ showed these are differences of midranks, which gives the O(k n log n) algorithm
used here instead of the O(k m n) pair matrices.

Conventions as in :mod:`core.stats.roc`: ``scores`` real, larger = more likely positive;
``labels`` 0/1 (or bool).

References
----------
.. [1] E. R. DeLong, D. M. DeLong, D. L. Clarke-Pearson, "Comparing the areas under two or
   more correlated receiver operating characteristic curves: a nonparametric approach",
   Biometrics 44(3):837-845, 1988.
.. [2] X. Sun, W. Xu, "Fast implementation of DeLong's algorithm for comparing the areas
   under correlated receiver operating characteristic curves", IEEE Signal Processing
   Letters 21(11):1389-1393, 2014.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.stats import norm, rankdata

from core.stats._checks import check_alpha, check_labels, check_scores

__all__ = ["delong_ci", "delong_covariance", "delong_test", "delong_variance"]


def delong_covariance(scores: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    """AUCs of k classifiers on the same cases and DeLong's covariance of them.

    Method: DeLong et al. [1]_ structural components, computed with the fast midrank
    algorithm of Sun & Xu [2]_ in O(k n log n).

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
    pos = check_labels(labels)
    x = np.asarray(scores)
    if x.ndim not in (1, 2):
        raise ValueError(f"scores must have shape (n,) or (k, n), got {x.shape}")
    rows = np.atleast_2d(x)
    s = np.stack([check_scores(r, pos.size) for r in rows])
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
        As in :func:`core.stats.roc.roc_curve`; at least 2 cases of each class.

    Returns
    -------
    float
        Variance of the AUC (AUC units squared). The AUC itself is
        :func:`core.stats.roc.auc`.
    """
    _, cov = delong_covariance(check_scores(scores), labels)
    return float(cov[0, 0])


def delong_ci(scores: Any, labels: Any, alpha: float = 0.05) -> tuple[float, float, float]:
    """AUC with its ``1 - alpha`` DeLong confidence interval.

    Method: Wald interval ``auc ± z_{1-alpha/2} * sqrt(var)`` on the AUC scale with the
    DeLong variance [1]_ (fast algorithm [2]_), clipped to [0, 1] — as pROC's
    ``ci.auc(method="delong")`` (Robin et al., BMC Bioinformatics 12:77, 2011).

    Parameters
    ----------
    scores, labels : array_like, shape (n,)
        As in :func:`core.stats.roc.roc_curve`; at least 2 cases of each class.
    alpha : float
        1 - confidence level, in (0, 1); 0.05 gives a 95 % interval.

    Returns
    -------
    auc, lo, hi : float
    """
    check_alpha(alpha)
    aucs, cov = delong_covariance(check_scores(scores), labels)
    a = float(aucs[0])
    half = float(norm.ppf(1.0 - alpha / 2.0)) * math.sqrt(max(float(cov[0, 0]), 0.0))
    return a, max(0.0, a - half), min(1.0, a + half)


def delong_test(scores_a: Any, scores_b: Any, labels: Any) -> tuple[float, float]:
    """DeLong's paired test that two classifiers scored on the same cases have equal AUC.

    Method: DeLong et al. [1]_ §3: ``z = (auc_a - auc_b) / sqrt(var_a + var_b - 2 cov_ab)``
    with the (co)variances of :func:`delong_covariance`, referred to the standard normal
    distribution (pROC's ``roc.test(method="delong")``).

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
    a = check_scores(scores_a, name="scores_a")
    b = check_scores(scores_b, a.size, name="scores_b")
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
