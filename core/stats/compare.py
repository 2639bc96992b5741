"""Paired comparison of two classifiers' AUCs on the same cases (DeLong's test and CI).

Two models — two fine-tuning depths, a fine-tuned network against one trained from
scratch — scored on the same test cases give correlated AUCs: the same hard cases make
both look worse. DeLong, DeLong & Clarke-Pearson [1]_ estimate the covariance of the two
AUCs from the same structural components as their variances, so the difference is tested
(and given a confidence interval) with its proper standard error:

``z = (auc_a - auc_b) / sqrt(var_a + var_b - 2 cov_ab)``, ``p = 2 (1 - Phi(|z|))``, and
the Wald interval ``diff -/+ z_{1 - alpha/2} sd`` — exactly pROC's ``roc.test(method =
"delong", paired = TRUE)`` and its ``conf.int`` [2]_ (on pROC's aSAH data, wfns against
s100b: Z 2.20898359144091, p 0.0271757822291882, CI 0.0104061769564846 to
0.174214419249478; ``tests/core/test_stats_compare.py``).

The (co)variances are those of :func:`core.stats.delong.delong_covariance` (fast midrank
algorithm of Sun & Xu [3]_).

References
----------
.. [1] E. R. DeLong, D. M. DeLong, D. L. Clarke-Pearson, "Comparing the areas under two or
   more correlated receiver operating characteristic curves: a nonparametric approach",
   Biometrics 44(3):837-845, 1988.
.. [2] X. Robin et al., "pROC: an open-source package for R and S+ to analyze and compare
   ROC curves", BMC Bioinformatics 12:77, 2011.
.. [3] X. Sun, W. Xu, "Fast implementation of DeLong's algorithm for comparing the areas
   under correlated receiver operating characteristic curves", IEEE Signal Processing
   Letters 21(11):1389-1393, 2014.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import norm

from core.stats._checks import check_alpha, check_labels, check_scores
from core.stats.delong import delong_covariance

__all__ = ["PairedAuc", "paired_delong"]


def _num(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


@dataclass(frozen=True)
class PairedAuc:
    """Result of :func:`paired_delong`: model ``a`` against model ``b`` on the same cases.

    Attributes
    ----------
    auc_a, auc_b : float
        The two empirical AUCs.
    diff : float
        ``auc_a - auc_b`` (positive: ``a`` is better).
    diff_ci : (float, float)
        ``1 - alpha`` Wald interval of ``diff`` with DeLong's standard error (not clipped;
        the difference lies in [-1, 1]).
    se : float
        DeLong standard error of ``diff``.
    z : float
        ``diff / se`` (``±inf`` when ``se`` is 0 and the AUCs differ; 0 for identical
        models).
    p : float
        Two-sided p-value of "equal AUCs".
    n_pos, n_neg : int
        Positive and negative cases.
    alpha : float
        1 - confidence level of ``diff_ci``.
    """

    auc_a: float
    auc_b: float
    diff: float
    diff_ci: tuple[float, float]
    se: float
    z: float
    p: float
    n_pos: int
    n_neg: int
    alpha: float = 0.05

    @property
    def significant(self) -> bool:
        """``p < alpha``."""
        return self.p < self.alpha

    def noninferiority_p(self, margin: float) -> float:
        """One-sided p-value of "``a`` is worse than ``b`` by ``margin`` or more".

        Tests H0: ``auc_a - auc_b <= -margin`` against H1: ``auc_a - auc_b > -margin``
        with the same normal statistic: ``p = 1 - Phi((diff + margin) / se)`` (Walker &
        Nowacki, J Gen Intern Med 26(2):192-196, 2011). ``p < alpha / 2`` exactly when the
        lower end of :attr:`diff_ci` lies above ``-margin``.
        """
        m = float(margin)
        if not (math.isfinite(m) and m >= 0):
            raise ValueError(f"margin must be finite and >= 0, got {margin}")
        d = self.diff + m
        if self.se <= 0:
            return 0.0 if d > 0 else 1.0
        return float(norm.sf(d / self.se))

    def text(self, names: tuple[str, str] = ("A", "B")) -> str:
        """Plain summary: both AUCs, the difference with its CI, Z and p."""
        a, b = names
        level = round(100 * (1 - self.alpha))
        lo, hi = self.diff_ci
        verdict = (f"{a} and {b} differ significantly (p < {self.alpha:g})"
                   if self.significant else
                   f"no significant difference between {a} and {b} (p >= {self.alpha:g})")
        return "\n".join([
            f"AUC {a}: {self.auc_a:.4f}",
            f"AUC {b}: {self.auc_b:.4f}",
            f"difference {a} - {b}: {self.diff:+.4f} ({level} % CI {lo:+.4f} to {hi:+.4f})",
            f"DeLong paired test: Z = {self.z:.4f}, p = {self.p:.4g} "
            f"({self.n_pos} positive, {self.n_neg} negative cases)",
            verdict,
        ])

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (non-finite values become None)."""
        return {"auc_a": _num(self.auc_a), "auc_b": _num(self.auc_b),
                "diff": _num(self.diff),
                "diff_ci": [_num(self.diff_ci[0]), _num(self.diff_ci[1])],
                "se": _num(self.se), "z": _num(self.z), "p": _num(self.p),
                "n_pos": self.n_pos, "n_neg": self.n_neg, "alpha": self.alpha,
                "test": "DeLong paired (DeLong et al. 1988)"}


def paired_delong(scores_a: Any, scores_b: Any, labels: Any,
                  alpha: float = 0.05) -> PairedAuc:
    """Compare the AUCs of two models scored on the same cases (DeLong's paired test).

    Method: DeLong et al. [1]_ §3 with the fast covariance of Sun & Xu [3]_; the CI of the
    difference is the Wald interval on DeLong's standard error, as pROC's ``roc.test``
    [2]_. Swapping ``a`` and ``b`` negates ``diff``, ``z`` and the CI and keeps ``p``;
    identical scores give ``diff = 0, z = 0, p = 1``.

    Parameters
    ----------
    scores_a, scores_b : array_like, shape (n,)
        The two models' scores for the same cases, in the same order; larger = more likely
        positive.
    labels : array_like, shape (n,)
        0/1 ground truth, at least 2 cases of each class.
    alpha : float
        1 - confidence level of the CI of the difference (0.05: 95 %); also the level
        at which :attr:`PairedAuc.significant` is read.

    Returns
    -------
    PairedAuc
    """
    check_alpha(alpha)
    pos = check_labels(labels)
    a = check_scores(scores_a, pos.size, name="scores_a")
    b = check_scores(scores_b, pos.size, name="scores_b")
    aucs, cov = delong_covariance(np.stack([a, b]), pos)
    diff = float(aucs[0] - aucs[1])
    var = float(cov[0, 0] + cov[1, 1] - 2.0 * cov[0, 1])
    # Round-off can leave a tiny (even negative) variance for identical classifiers.
    if var <= 1e-12 * max(float(cov[0, 0] + cov[1, 1]), 1e-300):
        se = 0.0
        if abs(diff) <= 1e-12:
            diff, z, p = 0.0, 0.0, 1.0
        else:
            z, p = math.copysign(math.inf, diff), 0.0
    else:
        se = math.sqrt(var)
        z = diff / se
        p = float(2.0 * norm.sf(abs(z)))
    half = float(norm.ppf(1.0 - alpha / 2.0)) * se
    m = int(pos.sum())
    return PairedAuc(auc_a=float(aucs[0]), auc_b=float(aucs[1]), diff=diff,
                     diff_ci=(diff - half, diff + half), se=se, z=z, p=p, n_pos=m,
                     n_neg=int(pos.size) - m, alpha=float(alpha))
