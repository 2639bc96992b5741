"""Tests of core.stats.delong: DeLong variance, covariance, CI and the paired test.

Every check compares against something computed another way: DeLong's structural
components written out as O(m n) matrices, per-category hand computation on Hanley &
McNeil's published table, and pROC's documented output on its ``aSAH`` example.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm
from stats_cases import binormal as _binormal
from stats_cases import psi as _psi

from core import stats as M

# --------------------------------------------------------------------------- references
# pROC's aSAH data (Turck et al., Intensive Care Med 36:107-115, 2010; shipped with pROC,
# Robin et al., BMC Bioinformatics 12:77, 2011), in the package's row order.
# Label 1 = outcome "Poor" (41 of 113), the class pROC treats as cases.
ASAH_POOR = [
    0, 0, 0, 0, 1, 1, 0, 1, 0, 0, 1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 1, 0, 1, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 1, 0, 0, 1, 1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 1, 0,
    0, 0, 1, 0, 1, 0, 0, 1, 1, 1, 0, 1, 1, 0, 1, 1, 1, 1, 0, 0, 0, 1, 1, 0, 1, 0, 0, 0,
    0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0,
    0,
]  # fmt: skip
ASAH_S100B = [
    0.13, 0.14, 0.10, 0.04, 0.13, 0.10, 0.47, 0.16, 0.18, 0.10, 0.12, 0.10, 0.44, 0.71,
    0.04, 0.08, 0.49, 0.04, 0.07, 0.33, 0.09, 0.09, 0.07, 0.11, 0.07, 0.17, 0.07, 0.11,
    0.13, 0.19, 0.05, 0.16, 0.41, 0.14, 0.34, 0.35, 0.48, 0.09, 0.96, 0.25, 0.50, 0.46,
    0.16, 0.07, 0.43, 0.45, 0.11, 0.08, 0.09, 0.86, 0.52, 0.08, 0.06, 0.13, 2.07, 0.10,
    0.14, 0.15, 0.07, 0.06, 0.77, 0.05, 0.09, 0.30, 0.03, 0.09, 0.04, 0.23, 0.70, 0.09,
    0.27, 0.71, 0.08, 0.26, 0.08, 0.16, 0.09, 0.13, 0.10, 0.08, 0.11, 0.33, 0.11, 0.28,
    0.07, 0.10, 0.32, 0.22, 0.07, 0.05, 0.24, 0.38, 0.10, 0.15, 0.08, 0.14, 0.10, 0.07,
    0.04, 0.19, 0.56, 0.14, 0.58, 0.32, 0.82, 0.74, 0.15, 0.47, 0.17, 0.44, 0.15, 0.50,
    0.48,
]  # fmt: skip
ASAH_WFNS = [
    1, 1, 1, 1, 3, 2, 5, 4, 1, 2, 5, 2, 5, 5, 1, 2, 5, 2, 2, 5, 2, 1, 1, 1, 1, 2, 1, 2,
    1, 1, 3, 4, 2, 1, 4, 5, 4, 1, 4, 2, 5, 5, 1, 1, 2, 4, 1, 1, 2, 5, 5, 2, 1, 2, 5, 1,
    2, 2, 2, 1, 5, 1, 1, 2, 5, 2, 1, 4, 5, 2, 4, 4, 1, 4, 1, 2, 1, 4, 2, 1, 2, 3, 2, 4,
    2, 1, 4, 5, 1, 1, 5, 4, 2, 2, 1, 1, 1, 3, 1, 2, 5, 2, 2, 5, 5, 5, 2, 4, 4, 5, 1, 1,
    1,
]  # fmt: skip

# Hanley & McNeil (Radiology 143:29-36, 1982), Table 1: CT ratings 1 (definitely normal)
# .. 5 (definitely abnormal) of 58 normal and 51 abnormal patients.
HM_NORMAL = np.array([33, 6, 6, 11, 2])
HM_ABNORMAL = np.array([3, 2, 2, 11, 33])


def _hm_data() -> tuple[np.ndarray, np.ndarray]:
    ratings = np.arange(1, 6)
    scores = np.r_[np.repeat(ratings, HM_NORMAL), np.repeat(ratings, HM_ABNORMAL)]
    labels = np.r_[np.zeros(HM_NORMAL.sum(), int), np.ones(HM_ABNORMAL.sum(), int)]
    return scores, labels


def _delong_slow(score_rows: list[np.ndarray], y: np.ndarray):
    """DeLong et al. (1988) written from the definition with O(m n) kernel matrices."""
    psis = [_psi(np.asarray(s, float), y) for s in score_rows]
    aucs = np.array([p.mean() for p in psis])
    v10 = np.array([p.mean(axis=1) for p in psis])  # one per positive
    v01 = np.array([p.mean(axis=0) for p in psis])  # one per negative
    k = len(psis)
    cov = np.empty((k, k))
    for i in range(k):
        for j in range(k):
            s10 = np.sum((v10[i] - aucs[i]) * (v10[j] - aucs[j])) / (v10.shape[1] - 1)
            s01 = np.sum((v01[i] - aucs[i]) * (v01[j] - aucs[j])) / (v01.shape[1] - 1)
            cov[i, j] = s10 / v10.shape[1] + s01 / v01.shape[1]
    return aucs, cov


# --------------------------------------------------------------------------- DeLong
@pytest.mark.parametrize(("ties", "seed"), [(None, 6), (2, 7)])
def test_delong_variance_and_covariance_match_the_slow_definition(ties, seed):
    s, y = _binormal(150, 0.9, seed=seed, ties=ties)
    rng = np.random.default_rng(seed)
    s2 = s + rng.normal(scale=0.8, size=s.size)  # correlated second reader
    if ties is not None:
        s2 = np.round(s2)
    aucs_ref, cov_ref = _delong_slow([s, s2], y)
    assert M.delong_variance(s, y) == pytest.approx(cov_ref[0, 0], rel=1e-12)
    aucs, cov = M.delong_covariance(np.stack([s, s2]), y)
    np.testing.assert_allclose(aucs, aucs_ref, atol=1e-14)
    np.testing.assert_allclose(cov, cov_ref, rtol=1e-10, atol=1e-17)
    assert cov[0, 1] > 0  # the two readers share cases, so their AUCs covary


def test_delong_on_hanley_mcneil_table():
    s, y = _hm_data()
    a, lo, hi = M.delong_ci(s, y)
    assert round(a, 3) == 0.893  # the area Hanley & McNeil report for this table
    # Structural components by hand, one value per rating category.
    nn, na = HM_NORMAL.sum(), HM_ABNORMAL.sum()
    below_n = np.r_[0, np.cumsum(HM_NORMAL)[:-1]]  # normals rated lower than category c
    above_a = HM_ABNORMAL.sum() - np.cumsum(HM_ABNORMAL)  # abnormals rated higher
    v10 = (below_n + 0.5 * HM_NORMAL) / nn  # per abnormal case of category c
    v01 = (above_a + 0.5 * HM_ABNORMAL) / na  # per normal case of category c
    area = np.sum(HM_ABNORMAL * v10) / na
    var10 = np.sum(HM_ABNORMAL * (v10 - area) ** 2) / (na - 1)
    var01 = np.sum(HM_NORMAL * (v01 - area) ** 2) / (nn - 1)
    se = math.sqrt(var10 / na + var01 / nn)
    assert a == pytest.approx(area, abs=1e-12)
    assert math.sqrt(M.delong_variance(s, y)) == pytest.approx(se, rel=1e-12)
    assert (lo, hi) == pytest.approx((area - 1.959963985 * se, area + 1.959963985 * se))
    # Hanley & McNeil's own (exponential-model) SE for this table is 0.032; DeLong's
    # empirical estimate is a different estimator but must be close.
    assert abs(se - 0.032) < 0.002


def test_delong_matches_proc_documented_asah_example():
    # pROC: roc(aSAH$outcome, aSAH$s100b, ci=TRUE) -> "Area under the curve: 0.7314",
    # "95% CI: 0.6301-0.8326 (DeLong)"; roc.test(roc_s100b, roc_wfns) -> "Z = -2.209,
    # p-value = 0.02718", AUCs 0.7313686 and 0.8236789.
    y = np.array(ASAH_POOR)
    assert (y.size, int(y.sum())) == (113, 41)
    a, lo, hi = M.delong_ci(ASAH_S100B, y)
    assert (round(a, 4), round(lo, 4), round(hi, 4)) == (0.7314, 0.6301, 0.8326)
    assert M.auc(ASAH_WFNS, y) == pytest.approx(0.8236789, abs=5e-8)
    z, p = M.delong_test(ASAH_S100B, ASAH_WFNS, y)
    assert round(z, 3) == -2.209 and round(p, 5) == 0.02718
    z2, p2 = M.delong_test(ASAH_WFNS, ASAH_S100B, y)
    assert z2 == pytest.approx(-z) and p2 == pytest.approx(p)


def test_delong_ci_level_and_clipping():
    s, y = _binormal(80, 0.6, seed=8)
    a, lo95, hi95 = M.delong_ci(s, y, alpha=0.05)
    _, lo80, hi80 = M.delong_ci(s, y, alpha=0.20)
    assert lo95 < lo80 < a < hi80 < hi95
    assert (hi95 - a) / (hi80 - a) == pytest.approx(norm.ppf(0.975) / norm.ppf(0.9))
    # Nearly separable: the Wald interval would pass 1, it is clipped.
    y = np.r_[np.zeros(10), np.ones(10)]
    s = np.arange(20.0)
    s[[9, 10]] = s[[10, 9]]  # one inverted pair of 100: AUC 0.99, Wald upper end > 1
    a, lo, hi = M.delong_ci(s, y)
    assert a == pytest.approx(0.99) and hi == 1.0 and 0.9 < lo < a
    assert M.delong_ci([1, 2, 3, 4], [0, 0, 1, 1]) == (1.0, 1.0, 1.0)


def test_delong_test_identical_and_clearly_different():
    s, y = _binormal(200, 1.0, seed=10)
    assert M.delong_test(s, s, y) == (0.0, 1.0)
    assert M.delong_test(s, s * 3.0 + 1.0, y) == (0.0, 1.0)  # same ranking
    noise = np.random.default_rng(101).normal(size=s.size)
    z, p = M.delong_test(s, noise, y)  # a real marker against pure noise
    assert z > 3 and p < 1e-3
    z2, p2 = M.delong_test(noise, s, y)
    assert z2 == pytest.approx(-z) and p2 == pytest.approx(p)
    z, p = M.delong_test(s, s + 0.3 * noise, y)  # AUCs 0.764 vs 0.759: not significant
    assert p > 0.05
