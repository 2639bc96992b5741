"""Tests of core.stats.bootstrap and the bootstrap CIs of roc_analysis.

The vectorised resampling is checked against plain loops over explicit resamples drawn
from the same generator; the cluster bootstrap against its definition (whole groups only,
an item bootstrap when every group has one item) and against the behaviour it exists for
(wider intervals when items of a group are correlated).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from stats_cases import binormal as _binormal

from core import stats as M


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


# --------------------------------------------------------------------------- helpers
def test_bootstrap_counts_are_the_multiplicities_of_plain_draws():
    counts = M.bootstrap_counts(7, 30, np.random.default_rng(3))
    draws = np.random.default_rng(3).integers(0, 7, size=(30, 7))
    assert counts.shape == (30, 7) and counts.dtype == np.int64
    for row, d in zip(counts, draws, strict=True):
        np.testing.assert_array_equal(row, np.bincount(d, minlength=7))
    assert np.all(counts.sum(axis=1) == 7)
    assert M.bootstrap_counts(7, 0, np.random.default_rng(3)).shape == (0, 7)


def test_percentile_ci_matches_quantiles_and_leaves_out_nan_replicates():
    x = np.random.default_rng(4).normal(size=(500, 3))
    lo, hi = M.percentile_ci(x, alpha=0.1)
    np.testing.assert_array_equal(lo, np.quantile(x, 0.05, axis=0))
    np.testing.assert_array_equal(hi, np.quantile(x, 0.95, axis=0))
    y = x.copy()
    y[::7, 1] = np.nan  # undefined replicates of the second statistic
    y[:, 2] = np.nan  # a statistic never defined
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "All-NaN slice" warning leaks out
        lo2, hi2 = M.percentile_ci(y, alpha=0.1)
    kept = x[np.arange(500) % 7 != 0, 1]
    assert (lo2[0], hi2[0]) == (lo[0], hi[0])
    assert (lo2[1], hi2[1]) == tuple(np.quantile(kept, [0.05, 0.95]))
    assert np.isnan(lo2[2]) and np.isnan(hi2[2])
    with pytest.raises(ValueError, match="alpha"):
        M.percentile_ci(x, alpha=0.0)


# --------------------------------------------------------------------------- groups
def test_group_bootstrap_indices_hold_whole_groups_only():
    rng = np.random.default_rng(20)
    sizes = [1, 2, 3, 5, 8, 13]
    keys = np.repeat([f"video{i}" for i in range(len(sizes))], sizes)
    groups = keys[rng.permutation(keys.size)]  # items of a group are not contiguous
    n, n_g = groups.size, len(sizes)
    resamples = list(M.group_bootstrap_indices(groups, 200, np.random.default_rng(21)))
    counts = M.group_bootstrap_counts(groups, 200, np.random.default_rng(21))
    assert len(resamples) == 200
    drawn_sizes = set()
    for idx, row in zip(resamples, counts, strict=True):
        mult = np.bincount(idx, minlength=n)
        np.testing.assert_array_equal(mult, row)  # the same draws as the counts
        times_drawn = {}
        for key in np.unique(groups):
            m = np.unique(mult[groups == key])
            assert m.size == 1  # every item of a group is drawn equally often
            times_drawn[key] = int(m[0])
        assert sum(times_drawn.values()) == n_g  # G groups drawn per replicate
        # In draw order, a drawn group's items come as one contiguous block.
        blocks = np.flatnonzero(np.r_[True, groups[idx][1:] != groups[idx][:-1]])
        block_sizes = np.diff(np.r_[blocks, idx.size])
        for b0, size in zip(blocks, block_sizes, strict=True):
            assert size % int((groups == groups[idx][b0]).sum()) == 0
        drawn_sizes.add(idx.size)
    assert len(drawn_sizes) > 5  # resample sizes vary with the groups drawn


def test_one_item_per_group_is_the_item_bootstrap():
    n, n_boot = 25, 40
    ours = list(M.group_bootstrap_indices(np.arange(n), n_boot, np.random.default_rng(22)))
    rng = np.random.default_rng(22)
    for idx in ours:
        np.testing.assert_array_equal(idx, rng.integers(0, n, size=n))
    np.testing.assert_array_equal(
        M.group_bootstrap_counts(np.arange(n), n_boot, np.random.default_rng(22)),
        M.bootstrap_counts(n, n_boot, np.random.default_rng(22)),
    )
    # String keys in another order: the same draws, relabelled through the sorted keys.
    perm = np.random.default_rng(23).permutation(n)
    keys = np.array([f"p{i:02d}" for i in perm])  # item i has the perm[i]-th sorted key
    item_of_code = np.argsort(perm)
    relabelled = list(M.group_bootstrap_indices(keys, n_boot, np.random.default_rng(22)))
    for a, b in zip(relabelled, ours, strict=True):
        np.testing.assert_array_equal(a, item_of_code[b])


def test_group_bootstrap_rejects_bad_groups_at_the_call():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="1-D"):
        M.group_bootstrap_indices([[1, 2]], 3, rng)  # raised before any iteration
    with pytest.raises(ValueError, match="finite"):
        M.group_bootstrap_counts([1.0, np.nan], 3, rng)
    with pytest.raises(ValueError, match="empty"):
        M.group_bootstrap_indices([], 3, rng)
    with pytest.raises(ValueError, match="n_boot"):
        M.group_bootstrap_indices([1, 2], -1, rng)


def test_roc_analysis_groups_equals_a_plain_loop_over_group_resamples():
    # Two all-positive groups and two all-negative ones: 1 resample in 8 draws no positive
    # (or no negative) case; it has no ROC curve and is left out of the interval.
    rng = np.random.default_rng(24)
    groups = np.repeat(np.arange(4), [6, 9, 4, 7])
    y = np.r_[np.ones(15), np.zeros(11)].astype(int)
    s = rng.normal(size=y.size) + 1.2 * y
    n_boot, alpha, fprs = 300, 0.1, (0.1, 0.3)
    r = M.roc_analysis(s, y, fprs=fprs, alpha=alpha, n_boot=n_boot,
                       rng=np.random.default_rng(25), groups=groups)  # fmt: skip
    vals, skipped = [], 0
    for idx in M.group_bootstrap_indices(groups, n_boot, np.random.default_rng(25)):
        if len(np.unique(y[idx])) < 2:
            skipped += 1
            continue
        vals.append([M.tpr_at_fpr(s[idx], y[idx], f) for f in fprs])
    assert n_boot // 20 < skipped < n_boot // 4
    want = np.quantile(np.array(vals), [alpha / 2, 1 - alpha / 2], axis=0)
    for j, op in enumerate(r.operating_points):
        assert op.tpr_ci == pytest.approx(tuple(want[:, j]), abs=1e-12)
    # The point estimates and the DeLong AUC interval do not depend on the groups.
    plain = M.roc_analysis(s, y, fprs=fprs, alpha=alpha, n_boot=0)
    assert [op.tpr for op in r.operating_points] == [op.tpr for op in plain.operating_points]
    assert r.auc_ci == plain.auc_ci


def test_group_bootstrap_in_chunks_equals_one_pass():
    from core.stats.roc import _bootstrap_tprs

    rng = np.random.default_rng(26)
    groups = rng.integers(0, 12, 90)
    y = rng.integers(0, 2, 90).astype(bool)
    s = np.round(rng.normal(size=90) + y, 1)
    one = _bootstrap_tprs(s, y, (0.1, 0.2), 50, np.random.default_rng(1), groups)
    chunked = _bootstrap_tprs(s, y, (0.1, 0.2), 50, np.random.default_rng(1), groups,
                              chunk_cells=90 * 7)  # fmt: skip
    np.testing.assert_array_equal(one, chunked)


def _clustered(n_groups: int, per_group: int, tau: float, seed: int):
    """Half positive items in groups; ``tau`` of the score variance is shared per group."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(n_groups), per_group)
    y = (rng.random(g.size) < 0.5).astype(int)
    shift = rng.normal(size=n_groups)[g]  # moves every score of a group together
    gain = rng.normal(size=n_groups)[g]  # and how well the group separates the classes
    s = (1.0 + tau * gain) * y + tau * shift + (1.0 - tau) * rng.normal(size=g.size)
    return s, y, g


@pytest.mark.parametrize(("tau", "lo", "hi"), [(0.9, 1.8, np.inf), (0.0, 0.6, 1.6)])
def test_cluster_ci_is_wider_only_when_items_of_a_group_are_correlated(tau, lo, hi):
    s, y, g = _clustered(40, 25, tau, seed=27)
    items = M.roc_analysis(s, y, n_boot=400)
    clusters = M.roc_analysis(s, y, n_boot=400, groups=g)
    for op_i, op_c in zip(items.operating_points, clusters.operating_points, strict=True):
        ratio = (op_c.tpr_ci[1] - op_c.tpr_ci[0]) / (op_i.tpr_ci[1] - op_i.tpr_ci[0])
        assert lo < ratio < hi
        assert op_c.tpr_ci[0] <= op_c.tpr <= op_c.tpr_ci[1]


@pytest.mark.parametrize(
    ("groups", "match"),
    [
        (np.arange(19), "19 values but labels has 20"),
        (np.arange(20).reshape(4, 5), "1-D"),
        (np.r_[np.arange(19.0), np.inf], "finite"),
        (np.array(["a"] * 10 + [None] * 10, dtype=object), "one type"),
    ],
)
def test_roc_analysis_rejects_bad_groups(groups, match):
    s, y = _binormal(20, 1.0, seed=28)
    with pytest.raises(ValueError, match=match):
        M.roc_analysis(s, y, groups=groups)


def test_a_single_group_falls_back_to_the_item_bootstrap():
    # One video: nothing to resample between videos; the CIs are the per-frame ones.
    s, y = _binormal(60, 1.0, seed=29)
    one = M.roc_analysis(s, y, n_boot=200, groups=np.full(60, "video.mp4"))
    none = M.roc_analysis(s, y, n_boot=200)
    # the one video is remembered (a verdict says a CI from one video is not reliable)
    assert (one.n_groups, none.n_groups) == (1, 0) and not one.grouped
    assert {**one.to_dict(), "n_groups": 0} == none.to_dict()
    assert all(op.tpr_ci[1] > op.tpr_ci[0] for op in one.operating_points)
