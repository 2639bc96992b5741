"""Video-grouped bootstrap CI of the AUC and the ROC curve's pointwise band (issue 6, item 27).

Every figure is checked against a brute-force cluster bootstrap written here with the same
draws (:func:`core.stats.group_bootstrap_indices`), and the grouped CI is checked to be
wider than DeLong's where the frames of a video are alike, as it must be.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from stats_cases import binormal

from core import stats as M
from core.stats.roc_bootstrap import BAND_FPR


def _clustered(n_groups: int, per_group: int, seed: int):
    """Videos whose frames share most of their score: strongly correlated within a video."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(n_groups), per_group)
    y = (rng.random(g.size) < 0.5).astype(int)
    shift = rng.normal(size=n_groups)[g]
    gain = rng.normal(size=n_groups)[g]
    s = (1.0 + 0.8 * gain) * y + 0.8 * shift + 0.2 * rng.normal(size=g.size)
    return s, y, g


def test_grouped_auc_ci_and_band_equal_a_brute_force_cluster_bootstrap():
    s, y, g = _clustered(8, 30, seed=1)
    n_boot, alpha = 300, 0.05
    r = M.roc_analysis(s, y, n_boot=n_boot, alpha=alpha, rng=np.random.default_rng(5), groups=g)
    aucs, band = [], []
    for idx in M.group_bootstrap_indices(g, n_boot, np.random.default_rng(5)):
        ys, ss = y[idx], s[idx]
        if ys.min() == ys.max():  # a resample without one class has no curve
            continue
        aucs.append(M.auc(ss, ys))
        band.append([M.tpr_at_fpr(ss, ys, f) for f in BAND_FPR])
    want = np.quantile(aucs, [alpha / 2, 1 - alpha / 2])
    assert r.auc_ci_boot == pytest.approx(tuple(want), abs=1e-12)
    lo, hi = np.quantile(np.array(band), [alpha / 2, 1 - alpha / 2], axis=0)
    np.testing.assert_allclose(r.band_lo, lo, atol=1e-12)
    np.testing.assert_allclose(r.band_hi, hi, atol=1e-12)
    np.testing.assert_array_equal(r.band_fpr, BAND_FPR)
    assert r.n_groups == 8 and r.grouped


def test_grouped_ci_is_wider_than_delong_when_frames_of_a_video_are_alike():
    s, y, g = _clustered(10, 40, seed=2)
    r = M.roc_analysis(s, y, n_boot=500, groups=g)
    delong = r.auc_ci[1] - r.auc_ci[0]
    boot = r.auc_ci_boot[1] - r.auc_ci_boot[0]
    assert boot > 1.5 * delong  # DeLong treats the 400 frames as independent cases
    # with frames as the unit (no groups) the bootstrap agrees with DeLong instead
    flat = M.roc_analysis(s, y, n_boot=500)
    width = flat.auc_ci_boot[1] - flat.auc_ci_boot[0]
    assert 0.7 * delong < width < 1.4 * delong
    assert flat.n_groups == 0 and not flat.grouped


def test_band_holds_the_curve_and_is_ordered():
    s, y = binormal(400, 1.0, seed=3)
    g = np.arange(400) // 20
    r = M.roc_analysis(s, y, n_boot=400, groups=g)
    assert len(r.band_fpr) == len(r.band_lo) == len(r.band_hi) == 51
    assert np.all(r.band_lo <= r.band_hi + 1e-12)
    assert np.all(np.diff(r.band_lo) >= -1e-12) and np.all(np.diff(r.band_hi) >= -1e-12)
    assert r.band_lo[-1] == r.band_hi[-1] == 1.0
    curve = np.array([M.tpr_at_fpr(s, y, f) for f in r.band_fpr])
    inside = (r.band_lo - 1e-12 <= curve) & (curve <= r.band_hi + 1e-12)
    assert inside.mean() > 0.9
    mid = slice(5, 46)  # away from the corners the band has visible width
    assert np.all(r.band_hi[mid] - r.band_lo[mid] > 0.02)
    assert r.auc_ci_boot[0] < r.auc < r.auc_ci_boot[1]


def test_no_bootstrap_gives_no_band_and_nan_ci():
    s, y = binormal(60, 1.0, seed=4)
    r = M.roc_analysis(s, y, n_boot=0, groups=np.arange(60) % 3)
    assert math.isnan(r.auc_ci_boot[0]) and len(r.band_fpr) == 0
    assert r.to_dict()["auc_ci_boot"] == [None, None]


def test_to_dict_round_trips_and_reads_results_stored_before_the_band():
    s, y = binormal(80, 1.0, seed=5)
    r = M.roc_analysis(s, y, n_boot=100, groups=np.arange(80) % 4)
    d = json.loads(json.dumps(r.to_dict(), allow_nan=False))
    back = M.RocResult.from_dict(d)
    assert back.to_dict() == r.to_dict()
    np.testing.assert_array_equal(back.band_hi, r.band_hi)
    assert back.auc_ci_boot == r.auc_ci_boot and back.n_groups == 4
    old = {k: v for k, v in d.items()
           if k not in ("auc_ci_boot", "n_groups", "band_fpr", "band_lo", "band_hi")}
    legacy = M.RocResult.from_dict(old)
    assert legacy.auc == r.auc and legacy.auc_ci == r.auc_ci
    assert math.isnan(legacy.auc_ci_boot[0]) and legacy.n_groups == 0
    assert len(legacy.band_fpr) == 0
    assert json.dumps(legacy.to_dict(), allow_nan=False)


def test_operating_point_cis_are_unchanged_by_the_band():
    """The AUC and band come from the same replicates as the operating points."""
    from core.stats.roc import _bootstrap_tprs

    s, y, g = _clustered(6, 25, seed=6)
    r = M.roc_analysis(s, y, n_boot=200, rng=np.random.default_rng(1), groups=g)
    codes = np.unique(g, return_inverse=True)[1]
    reps = _bootstrap_tprs(s, y.astype(bool), (0.1, 0.15, 0.2), 200, np.random.default_rng(1),
                           codes)
    lo, hi = M.percentile_ci(reps)
    assert [op.tpr_ci for op in r.operating_points] == list(zip(lo.tolist(), hi.tolist()))
