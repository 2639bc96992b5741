"""Boundary distance, Bland-Altman (by hand) and the paired Wilcoxon test."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import wilcoxon

from core.stats.agreement import (
    bland_altman,
    boundary_distance,
    column_profiles,
    paired_wilcoxon,
)


def test_boundary_distance_over_shared_columns():
    expert = np.array([[10.0, 0.0], [10.0, 10.0]])
    system = np.array([[12.0, 2.0], [8.0, 6.0], [8.0, 20.0]])  # columns 2..10 shared
    cols, ra, rb = column_profiles(expert, system)
    np.testing.assert_array_equal(cols, np.arange(2, 11))
    np.testing.assert_array_equal(ra, 10.0)
    np.testing.assert_allclose(rb, [12, 11, 10, 9, 8, 8, 8, 8, 8])
    assert boundary_distance(expert, system) == pytest.approx(np.mean([2, 1, 0, 1, 2, 2, 2, 2,
                                                                       2]))
    assert boundary_distance(expert, expert) == 0.0


def test_boundary_distance_bad_input():
    with pytest.raises(ValueError, match="share no image column"):
        boundary_distance([[1, 0], [1, 1]], [[1, 3], [1, 4]])
    with pytest.raises(ValueError, match="runs backwards at point 1"):
        boundary_distance([[1, 5], [1, 4]], [[1, 3], [1, 4]])
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        boundary_distance(np.zeros((3, 3)), [[1, 3], [1, 4]])
    with pytest.raises(ValueError, match="not finite"):
        boundary_distance([[np.nan, 0], [1, 4]], [[1, 3], [1, 4]])


def test_bland_altman_by_hand():
    a = [1.0, 2.0, 3.0, 4.0]
    b = [0.5, 2.5, 2.0, 3.0]
    r = bland_altman(a, b)
    # d = 0.5, -0.5, 1, 1: mean 0.5; squared deviations 0, 1, 0.25, 0.25 -> var 0.5
    assert r.n == 4 and r.bias == pytest.approx(0.5)
    assert r.sd == pytest.approx(math.sqrt(0.5))
    z = 1.959963984540054
    assert r.z == pytest.approx(z)
    assert r.loa_low == pytest.approx(0.5 - z * math.sqrt(0.5))
    assert r.loa_high == pytest.approx(0.5 + z * math.sqrt(0.5))
    t3 = 3.182446305284263  # Student t, 3 df, 0.975
    se_bias = math.sqrt(0.5) / 2
    assert r.bias_ci == pytest.approx((0.5 - t3 * se_bias, 0.5 + t3 * se_bias))
    se_loa = math.sqrt(0.5) * math.sqrt(1 / 4 + z * z / 6)
    assert r.loa_high_ci == pytest.approx((r.loa_high - t3 * se_loa, r.loa_high + t3 * se_loa))
    assert r.loa_low_ci == pytest.approx((r.loa_low - t3 * se_loa, r.loa_low + t3 * se_loa))
    assert r.means == (0.75, 2.25, 2.5, 3.5) and r.differences == (0.5, -0.5, 1.0, 1.0)


def test_bland_altman_bad_input():
    with pytest.raises(ValueError, match="paired"):
        bland_altman([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="at least 2"):
        bland_altman([1], [2])
    with pytest.raises(ValueError, match="finite"):
        bland_altman([1, np.inf], [2, 3])
    with pytest.raises(ValueError, match="alpha"):
        bland_altman([1, 2], [2, 3], alpha=1.5)


def test_paired_wilcoxon_matches_scipy_and_known_value():
    rng = np.random.default_rng(0)
    a = rng.normal(1.0, 0.2, 30)
    b = a - 0.05 + rng.normal(0, 0.05, 30)
    s, p = paired_wilcoxon(a, b)
    ref = wilcoxon(a - b)
    assert (s, p) == (float(ref.statistic), float(ref.pvalue))
    # exact null, n = 6 without ties: all differences positive -> T = 0, p = 2 / 2**6
    s, p = paired_wilcoxon([2, 3, 4, 5, 6, 7], [1.5, 2.4, 3.3, 4.2, 5.1, 6.0])
    assert s == 0.0 and p == pytest.approx(2 / 64)
    assert paired_wilcoxon([1, 2], [1, 2]) == (0.0, 1.0)
    with pytest.raises(ValueError, match="at least one pair"):
        paired_wilcoxon([], [])
