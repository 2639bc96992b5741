"""Tukey box-plot statistics against numpy."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.stats.boxplot import tukey_box


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_box_stats_match_numpy(seed):
    rng = np.random.default_rng(seed)
    x = np.r_[rng.normal(0.5, 0.1, 60), [1.5, 1.9, -0.8]]  # three clear outliers
    b = tukey_box(x)
    q1, med, q3 = np.percentile(x, [25, 50, 75])
    assert (b.q1, b.median, b.q3) == (q1, med, q3)
    iqr = q3 - q1
    inside = x[(x >= q1 - 1.5 * iqr) & (x <= q3 + 1.5 * iqr)]
    assert b.whisker_low == inside.min() and b.whisker_high == inside.max()
    outside = np.sort(x[(x < q1 - 1.5 * iqr) | (x > q3 + 1.5 * iqr)])
    assert b.outliers == tuple(outside) and {-0.8, 1.5, 1.9} <= set(b.outliers)
    assert b.mean == pytest.approx(np.mean(x)) and b.sd == pytest.approx(np.std(x, ddof=1))
    assert b.n == x.size and b.iqr == pytest.approx(iqr)


def test_box_by_hand():
    b = tukey_box([1, 2, 3, 4, 100])
    # linear quantiles: q1 = 2, median 3, q3 = 4; fences -1 and 7
    assert (b.q1, b.median, b.q3) == (2.0, 3.0, 4.0)
    assert (b.whisker_low, b.whisker_high) == (1.0, 4.0)
    assert b.outliers == (100.0,)
    assert b.mean == 22.0
    assert "median 3.000 (IQR 2.000-4.000), mean 22.000 ±" in b.text("mm")


def test_single_value_and_whiskers_never_inside_the_box():
    one = tukey_box([0.4])
    assert one.q1 == one.q3 == one.whisker_low == one.whisker_high == 0.4
    assert math.isnan(one.sd) and "n/a" in one.text()
    two = tukey_box([0.0, 10.0], whis=0.0)  # no value within the box's zero-reach fences
    assert (two.whisker_low, two.whisker_high) == (two.q1, two.q3) == (2.5, 7.5)
    assert two.outliers == (0.0, 10.0)


def test_bad_values():
    with pytest.raises(ValueError, match="empty"):
        tukey_box([])
    with pytest.raises(ValueError, match="finite"):
        tukey_box([1.0, np.nan])
    with pytest.raises(ValueError, match="whis"):
        tukey_box([1.0], whis=-1)
