"""Tests of core.stats.roc (ROC curve, AUC, TPR at FPR, roc_analysis, results) and
core.stats.accumulate, plus the input checks every public function shares.

Every check compares against something computed another way: scipy's Mann-Whitney U,
brute-force pair counts and thresholds, and the one-shot analysis for the accumulator.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.stats import mannwhitneyu
from stats_cases import binormal as _binormal
from stats_cases import psi as _psi

from core import stats as M


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


def test_accumulator_carries_groups_into_the_analysis():
    s, y = _binormal(240, 0.9, seed=18)
    g = np.repeat(np.arange(24), 10)
    acc = M.RocAccumulator()
    for i in range(0, 240, 40):
        acc.add(s[i : i + 40], y[i : i + 40], groups=g[i : i + 40])
    np.testing.assert_array_equal(acc.groups, g)
    got = acc.result(n_boot=100)
    want = M.roc_analysis(s, y, n_boot=100, groups=g)
    assert got.to_dict() == want.to_dict()
    assert got.to_dict() != M.roc_analysis(s, y, n_boot=100).to_dict()
    with pytest.raises(ValueError, match="every batch or with none"):
        acc.add(s[:3], y[:3])
    with pytest.raises(ValueError, match="again"):
        acc.result(groups=g)
    acc.reset()
    assert acc.groups is None
    acc.add(s[:3], y[:3])
    with pytest.raises(ValueError, match="every batch or with none"):
        acc.add(s[3:6], y[3:6], groups=[1, 2, 3])
    with pytest.raises(ValueError, match="shape"):
        M.RocAccumulator().add(s[:3], y[:3], groups=[1, 2])
