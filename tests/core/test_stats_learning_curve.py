"""Learning-curve fit (inverse power law, Figueroa et al. 2012) and labels needed."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from core.stats.learning_curve import inverse_power_law, learning_curve_fit

A, B, C = 0.95, 2.0, 0.6
N = np.array([40.0, 100.0, 200.0, 400.0])


def truth(n):
    return inverse_power_law(n, A, B, C)


def test_noise_free_points_are_recovered():
    y = truth(N)
    f = learning_curve_fit(N, y, ci=np.c_[y - 0.01, y + 0.01], n_boot=0)
    assert (f.a, f.b, f.c) == pytest.approx((A, B, C), rel=1e-4)
    np.testing.assert_allclose(f.predict(N), y, atol=1e-6)
    need = f.labels_needed(0.93)
    assert need.reachable
    assert need.estimate == pytest.approx((B / (A - 0.93)) ** (1 / C), rel=1e-3)
    assert need.current == 400 and need.more == pytest.approx(need.estimate - 400)
    assert math.isnan(need.lo)  # no bootstrap, no interval


def test_target_above_the_asymptote_is_not_reachable():
    y = truth(N)
    f = learning_curve_fit(N, y, ci=np.c_[y - 0.01, y + 0.01], n_boot=60, seed=1)
    need = f.labels_needed(0.99)
    assert not need.reachable and math.isinf(need.estimate)
    assert need.share_reachable < 0.5
    assert "not reachable" in need.text()
    json.dumps(need.to_dict())  # inf -> None
    assert need.to_dict()["estimate"] is None
    # a target already met needs no more labels
    assert f.labels_needed(0.5).more == 0.0


def test_bootstrap_interval_holds_the_truth():
    rng = np.random.default_rng(5)
    sd = 0.01
    y = truth(N) + rng.normal(0, sd, N.size)
    ci = np.c_[y - 1.96 * sd, y + 1.96 * sd]
    f = learning_curve_fit(N, y, ci=ci, n_boot=120, seed=3)
    assert len(f.replicates) >= 115
    assert f.sigma == pytest.approx(np.full(4, sd), rel=1e-3)
    need = f.labels_needed(0.9)
    true_n = (B / (A - 0.9)) ** (1 / C)
    assert need.lo <= true_n <= need.hi
    assert need.lo <= need.estimate <= need.hi
    lo, hi = f.band([50, 300, 2000])
    assert np.all(lo <= truth(np.array([50, 300, 2000])) + 1e-9)
    assert np.all(truth(np.array([50, 300, 2000])) <= hi + 1e-9)
    assert np.all(hi - lo > 0)
    # wider point CIs, wider extrapolation
    g = learning_curve_fit(N, y, ci=np.c_[y - 3 * 1.96 * sd, y + 3 * 1.96 * sd],
                           n_boot=120, seed=3)
    glo, ghi = g.band([2000])
    assert ghi[0] - glo[0] > hi[2] - lo[2]


def test_deterministic_for_a_seed():
    y = truth(N) + np.array([0.004, -0.003, 0.002, -0.001])
    ci = np.c_[y - 0.02, y + 0.02]
    a = learning_curve_fit(N, y, ci=ci, n_boot=50, seed=7)
    b = learning_curve_fit(N, y, ci=ci, n_boot=50, seed=7)
    np.testing.assert_array_equal(a.replicates, b.replicates)
    assert a.to_dict() == b.to_dict()


def test_without_cis_uses_the_residual_error():
    y = truth(np.r_[N, 800.0]) + np.array([0.004, -0.003, 0.002, -0.004, 0.001])
    f = learning_curve_fit(np.r_[N, 800.0], y, n_boot=30, seed=0)
    assert np.all(f.sigma == f.sigma[0]) and 0 < f.sigma[0] < 0.02
    assert abs(f.a - A) < 0.05


def test_bad_input():
    y = truth(N)
    with pytest.raises(ValueError, match="at least 3 distinct"):
        learning_curve_fit([10, 10, 20], [0.7, 0.71, 0.8], ci=[[0.6, 0.8]] * 3)
    with pytest.raises(ValueError, match="at least 4 points"):
        learning_curve_fit(N[:3], y[:3])
    with pytest.raises(ValueError, match="positive"):
        learning_curve_fit([0, 10, 20, 40], y, ci=np.c_[y - 0.1, y + 0.1])
    bad = np.c_[y - 0.01, y + 0.01]
    bad[1] = (y[1] + 0.01, y[1] + 0.02)
    with pytest.raises(ValueError, match=r"ci \[1\]"):
        learning_curve_fit(N, y, ci=bad)
    with pytest.raises(ValueError, match="upper"):
        learning_curve_fit(N, y, ci=np.c_[y - 0.01, y + 0.01], upper=0.8)
    with pytest.raises(ValueError, match="performance has 3 values"):
        learning_curve_fit(N, y[:3])
