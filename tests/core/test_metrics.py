"""Tests of core.stats: ROC curve, AUC, DeLong CI/test, operating points, accumulator.

Every check compares against something computed another way: scipy's Mann-Whitney U,
brute-force pair counts and thresholds, DeLong's structural components written out as
O(m n) matrices, per-category hand computation on Hanley & McNeil's published table, and
pROC's documented output on its ``aSAH`` example.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.stats import mannwhitneyu, norm

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


def _binormal(n: int, d: float, seed: int, ties: int | None = None):
    """n cases, half positive, positives shifted by d; optionally rounded to ``ties`` levels."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    s = rng.normal(size=n) + d * y
    if ties is not None:
        s = np.round(s * ties / 4.0)
    return s, y


def _psi(s: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(m, n) kernel: 1 if positive > negative, 1/2 if tied, 0 otherwise."""
    sp, sn = s[y == 1][:, None], s[y == 0][None, :]
    return (sp > sn) + 0.5 * (sp == sn)


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


# --------------------------------------------------------------------------- AUC
@pytest.mark.parametrize("ties", [None, 3])
def test_auc_matches_mann_whitney_u(ties):
    s, y = _binormal(301, 0.8, seed=1, ties=ties)
    u = mannwhitneyu(s[y == 1], s[y == 0], alternative="two-sided").statistic
    assert M.auc(s, y) == pytest.approx(u / ((y == 1).sum() * (y == 0).sum()), abs=1e-12)


def test_auc_matches_brute_force_pairs_and_trapezoid_with_ties():
    s, y = _binormal(200, 0.5, seed=2, ties=2)  # few levels: many tied pairs
    assert len(np.unique(s)) < 15
    want = _psi(s, y).mean()
    assert M.auc(s, y) == pytest.approx(want, abs=1e-12)
    fpr, tpr, _ = M.roc_curve(s, y)
    trapezoid = np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0)
    assert trapezoid == pytest.approx(want, abs=1e-12)


def test_auc_extremes_and_direction():
    y = np.array([0, 0, 1, 1])
    assert M.auc([1, 2, 3, 4], y) == 1.0
    assert M.auc([4, 3, 2, 1], y) == 0.0
    assert M.auc([5, 5, 5, 5], y) == 0.5


def test_any_numeric_dtype_gives_the_same_answer():
    s, y = _binormal(100, 1.0, seed=3, ties=4)
    ref = M.auc(s, y)
    assert M.auc(s.astype(np.int16), y.astype(np.uint8)) == ref
    assert M.auc(s.astype(np.float32), y.astype(bool)) == ref
    assert M.auc(list(s), [float(v) for v in y]) == ref


# --------------------------------------------------------------------------- ROC curve
def test_roc_curve_matches_brute_force_thresholds():
    s, y = _binormal(120, 0.7, seed=4, ties=3)
    fpr, tpr, thr = M.roc_curve(s, y)
    levels = np.sort(np.unique(s))[::-1]
    assert thr[0] == np.inf and (fpr[0], tpr[0]) == (0.0, 0.0)
    np.testing.assert_array_equal(thr[1:], levels)
    want_fpr = [np.mean(s[y == 0] >= t) for t in levels]
    want_tpr = [np.mean(s[y == 1] >= t) for t in levels]
    np.testing.assert_allclose(fpr[1:], want_fpr, atol=1e-15)
    np.testing.assert_allclose(tpr[1:], want_tpr, atol=1e-15)
    assert (fpr[-1], tpr[-1]) == (1.0, 1.0)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)


def test_roc_curve_small_hand_example():
    # Scores 3 > 2 = 2 > 1: the tie (one positive, one negative) is a diagonal step.
    fpr, tpr, thr = M.roc_curve([3, 2, 2, 1], [1, 1, 0, 0])
    np.testing.assert_array_equal(fpr, [0, 0, 0.5, 1])
    np.testing.assert_array_equal(tpr, [0, 0.5, 1, 1])
    np.testing.assert_array_equal(thr, [np.inf, 3, 2, 1])


# --------------------------------------------------------------------------- TPR at FPR
@pytest.mark.parametrize(
    ("target", "want"),
    [(0.0, 0.5), (0.1, 0.6), (0.25, 0.75), (0.5, 1.0), (0.8, 1.0), (1.0, 1.0)],
)
def test_tpr_at_fpr_interpolates_the_hand_made_curve(target, want):
    # Curve (0,0) (0,.5) (.5,1) (1,1): vertical at 0 (take the top), straight to (.5, 1).
    assert M.tpr_at_fpr([3, 2, 2, 1], [1, 1, 0, 0], target) == pytest.approx(want)


def test_tpr_at_fpr_steps():
    # Distinct scores: curve (0,0) (0,.5) (1/3,.5) (1/3,1) (2/3,1) (1,1).
    s, y = [5, 4, 3, 2, 1], [1, 0, 1, 0, 0]
    assert M.tpr_at_fpr(s, y, 0.2) == pytest.approx(0.5)
    assert M.tpr_at_fpr(s, y, 1 / 3) == pytest.approx(1.0)  # top of the vertical step
    assert M.tpr_at_fpr(s, y, 0.3333) == pytest.approx(0.5)  # just before it


def test_tpr_at_fpr_matches_np_interp_on_the_top_of_each_step():
    s, y = _binormal(400, 1.0, seed=5)
    fpr, tpr, _ = M.roc_curve(s, y)
    top_f, idx = np.unique(fpr[::-1], return_index=True)  # last point of each FPR level
    top_t = tpr[::-1][idx]
    for f in (0.1, 0.15, 0.2, 0.333):
        # Between levels our segment runs to the foot of the next step, so compare with
        # interpolation between the top of one level and the foot of the next.
        k = np.searchsorted(top_f, f, side="right") - 1
        foot = tpr[np.flatnonzero(fpr == top_f[k + 1])[0]]
        w = (f - top_f[k]) / (top_f[k + 1] - top_f[k])
        assert M.tpr_at_fpr(s, y, f) == pytest.approx(top_t[k] + w * (foot - top_t[k]))


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


# --------------------------------------------------------------------------- roc_analysis
def test_roc_analysis_fields_and_operating_points():
    s, y = _binormal(600, 1.0, seed=11)
    r = M.roc_analysis(s, y, n_boot=300)
    assert (r.n_pos, r.n_neg) == (300, 300)
    assert r.auc == M.auc(s, y) and r.auc_ci == M.delong_ci(s, y)[1:]
    assert [op.fpr for op in r.operating_points] == [0.10, 0.15, 0.20]
    neg = s[y == 0]
    for op in r.operating_points:
        assert op.tpr == M.tpr_at_fpr(s, y, op.fpr)
        lo, hi = op.tpr_ci
        assert lo <= op.tpr <= hi and hi - lo < 0.25
        # The threshold is the lowest one whose FPR does not exceed the target.
        assert np.mean(neg >= op.threshold) <= op.fpr
        assert np.mean(neg >= np.max(s[s < op.threshold])) > op.fpr
    with pytest.raises(ValueError, match="read-only"):
        r.fpr[0] = 1.0


def test_roc_analysis_is_repeatable_and_uses_the_given_rng():
    s, y = _binormal(200, 1.0, seed=12)
    a = M.roc_analysis(s, y, n_boot=200)
    b = M.roc_analysis(s, y, n_boot=200)
    c = M.roc_analysis(s, y, n_boot=200, rng=np.random.default_rng(99))
    assert a.to_dict() == b.to_dict()
    assert a.operating_points[0].tpr_ci != c.operating_points[0].tpr_ci


def test_bootstrap_equals_a_plain_loop_over_resamples():
    # Mirrors the resampling layout: per replicate, indices into the positives and into
    # the negatives, each class sorted by descending score.
    s, y = _binormal(60, 0.8, seed=13, ties=4)
    n_boot, alpha = 50, 0.1
    r = M.roc_analysis(s, y, fprs=(0.1, 0.3), alpha=alpha, n_boot=n_boot,
                       rng=np.random.default_rng(5))  # fmt: skip
    sp, sn = -np.sort(-s[y == 1]), -np.sort(-s[y == 0])
    rng = np.random.default_rng(5)
    ip = rng.integers(0, sp.size, size=(n_boot, sp.size))
    ineg = rng.integers(0, sn.size, size=(n_boot, sn.size))
    yy = np.r_[np.ones(sp.size), np.zeros(sn.size)]
    for j, f in enumerate((0.1, 0.3)):
        vals = [M.tpr_at_fpr(np.r_[sp[ip[b]], sn[ineg[b]]], yy, f) for b in range(n_boot)]
        want = np.quantile(vals, [alpha / 2, 1 - alpha / 2])
        assert r.operating_points[j].tpr_ci == pytest.approx(tuple(want), abs=1e-12)


def test_bootstrap_ci_narrows_with_more_data():
    small = M.roc_analysis(*_binormal(100, 1.0, seed=14), n_boot=400)
    large = M.roc_analysis(*_binormal(2000, 1.0, seed=14), n_boot=400)
    for op_s, op_l in zip(small.operating_points, large.operating_points, strict=True):
        w_s = op_s.tpr_ci[1] - op_s.tpr_ci[0]
        w_l = op_l.tpr_ci[1] - op_l.tpr_ci[0]
        assert op_l.tpr_ci[0] <= op_l.tpr <= op_l.tpr_ci[1]
        assert w_l < 0.5 * w_s  # ~ 1/sqrt(20) in theory
    assert large.auc_ci[1] - large.auc_ci[0] < 0.5 * (small.auc_ci[1] - small.auc_ci[0])


def test_to_dict_is_strict_json_and_round_trips():
    s, y = _binormal(50, 1.0, seed=15)
    r = M.roc_analysis(s, y, n_boot=0)  # no bootstrap: NaN CIs become None
    d = r.to_dict()
    text = json.dumps(d, allow_nan=False)
    assert d["operating_points"][0]["tpr_ci"] == [None, None]
    back = M.RocResult.from_dict(json.loads(text))
    assert back.to_dict() == d
    np.testing.assert_array_equal(back.fpr, r.fpr)
    assert math.isnan(back.operating_points[0].tpr_ci[0])


# --------------------------------------------------------------------------- accumulator
def test_accumulator_equals_the_one_shot_analysis():
    s, y = _binormal(300, 0.9, seed=16, ties=5)
    acc = M.RocAccumulator()
    acc.add(s[:7], np.zeros(7, int) + y[:7])
    acc.add(s[7:8], y[7:8])  # a batch of one case, one class
    acc.add(list(s[8:]), list(y[8:]))
    assert len(acc) == 300
    got = acc.result(n_boot=100, fprs=(0.05, 0.2))
    want = M.roc_analysis(s, y, n_boot=100, fprs=(0.05, 0.2))
    assert got.to_dict() == want.to_dict()
    acc.reset()
    assert len(acc) == 0
    with pytest.raises(ValueError, match="empty"):
        acc.result()


def test_accumulator_rejects_bad_batches_and_needs_both_classes():
    acc = M.RocAccumulator()
    with pytest.raises(ValueError, match="0 .negative. or 1"):
        acc.add([0.1, 0.2], [0, 2])
    with pytest.raises(ValueError, match="finite"):
        acc.add([0.1, np.nan], [0, 1])
    assert len(acc) == 0  # rejected batches leave nothing behind
    acc.add([0.1, 0.2], [1, 1])
    with pytest.raises(ValueError, match="both classes"):
        acc.result()


# --------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("scores", "labels", "match"),
    [
        ([0.1, 0.2, 0.3], [1, 1, 1], "both classes"),
        ([0.1, 0.2, 0.3], [0, 0, 0], "both classes"),
        ([0.1, 0.2, 0.3], [0, 1, 2], "0 .negative. or 1"),
        ([0.1, 0.2, 0.3], [0, 1, np.nan], "0 .negative. or 1"),
        ([0.1, 0.2, 0.3], [0, 1, 0.5], "0 .negative. or 1"),
        ([0.1, 0.2, 0.3], ["a", "b", "a"], "numeric"),
        ([0.1, np.nan, 0.3], [0, 1, 0], "finite"),
        ([0.1, np.inf, 0.3], [0, 1, 0], "finite"),
        ([0.1, 0.2], [0, 1, 0], "2 values but labels has 3"),
        ([[0.1, 0.2]], [0, 1], "1-D"),
        ([0.1, 0.2], [[0, 1]], "1-D"),
        (["x", "y"], [0, 1], "numeric"),
    ],
)
def test_bad_inputs_raise(scores, labels, match):
    for fn in (M.roc_curve, M.auc, M.delong_ci, M.roc_analysis):
        with pytest.raises(ValueError, match=match):
            fn(scores, labels)


def test_bad_options_raise():
    s, y = _binormal(20, 1.0, seed=17)
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        M.tpr_at_fpr(s, y, 1.5)
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        M.roc_analysis(s, y, fprs=(0.1, -0.1))
    with pytest.raises(ValueError, match="alpha"):
        M.delong_ci(s, y, alpha=1.0)
    with pytest.raises(ValueError, match="n_boot"):
        M.roc_analysis(s, y, n_boot=-1)
    with pytest.raises(ValueError, match="at least 2 positive"):
        M.delong_ci([0.1, 0.2, 0.3], [0, 0, 1])
    with pytest.raises(ValueError, match="scores_b has 3 values"):
        M.delong_test([0.1, 0.2, 0.3, 0.4], [0.1, 0.2, 0.3], [0, 0, 1, 1])


# --------------------------------------------------------------------------- CSV
def test_read_scores_csv(tmp_path):
    p = tmp_path / "scores.csv"
    p.write_text("\ufeffcase, Label ,score\nA,1,0.9\n\nB,0,-1e-3\nC,1,2\n", encoding="utf-8")
    s, y = M.read_scores_csv(p)
    np.testing.assert_array_equal(s, [0.9, -0.001, 2.0])
    np.testing.assert_array_equal(y, [1, 0, 1])
    assert s.dtype == np.float64 and y.dtype == np.int64


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("score,label\n0.5,1\n0.2,true\n", r"scores\.csv:3: label 'true' must be 0 or 1"),
        ("score,label\n0.5,1\n0.2,2\n", r"scores\.csv:3: label '2'"),
        ("score,label\n0.5,1\nhigh,0\n", r"scores\.csv:3: score 'high' is not a number"),
        ("score,label\n0.5,1\n\nnan,0\n", r"scores\.csv:4: score 'nan' is not finite"),
        ("score,label\n0.5\n", r"scores\.csv:2: expected 2 columns"),
        ("prob,truth\n0.5,1\n", r"scores\.csv:1: header must name"),
        ("", r"scores\.csv:1: header must name"),
        ("score,label\n", r"no data rows"),
    ],
)
def test_read_scores_csv_errors_name_file_and_line(tmp_path, text, match):
    p = tmp_path / "scores.csv"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=match):
        M.read_scores_csv(p)
