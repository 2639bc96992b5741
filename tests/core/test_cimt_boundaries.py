"""Thinning of confidence maps, polylines by column and the IMT."""

from __future__ import annotations

import numpy as np
import pytest

from core.tasks.cimt.boundaries import imt, resample_by_col, rows_to_polyline, thin


def test_thin_picks_the_row_of_maximum_response():
    rng = np.random.default_rng(0)
    prob = rng.random((20, 15)) * 0.5
    rows = rng.integers(0, 20, 15)
    prob[rows, np.arange(15)] = 0.9
    np.testing.assert_array_equal(thin(prob), rows.astype(float))
    assert thin(prob).dtype == np.float64


def test_thin_floor_nan_and_ties():
    prob = np.zeros((5, 4))
    prob[2, 0] = 0.8
    prob[[1, 3], 1] = 0.6  # a tie: the first row wins
    prob[:, 2] = np.nan  # no data
    prob[4, 3] = 0.2  # below the floor
    rows = thin(prob, floor=0.5)
    assert rows[0] == 2 and rows[1] == 1
    assert np.isnan(rows[2]) and np.isnan(rows[3])
    assert thin(prob)[3] == 4  # default floor 0 keeps it
    with pytest.raises(ValueError, match="2-D"):
        thin(np.zeros(5))


def test_rows_to_polyline_and_resample():
    line = rows_to_polyline([3.0, np.nan, 5.0, 7.0])
    np.testing.assert_array_equal(line, [[3, 0], [5, 2], [7, 3]])
    got = resample_by_col(line, [0.0, 1.0, 2.5])
    np.testing.assert_allclose(got, [[3, 0], [4, 1], [6, 2.5]])
    with pytest.raises(ValueError, match="beyond"):
        resample_by_col(line, [4.0])
    with pytest.raises(ValueError, match="runs backwards at point 2"):
        resample_by_col([[1, 0], [1, 2], [1, 1]], [1.0])


def test_imt_in_pixels_and_mm_from_known_spacing():
    cols = np.arange(0, 50, dtype=np.float64)
    li = np.column_stack([40 + 0.1 * cols, cols])
    ma = np.column_stack([52 + 0.1 * cols, cols])  # 12 px below everywhere
    px = imt(li, ma)
    assert px.unit == "px" and px.value == pytest.approx(12.0) and px.n_cols == 50
    mm = imt(li, ma, spacing=(0.06, 0.05))  # dy 0.06 mm/px: 0.72 mm
    assert mm.unit == "mm" and mm.value == pytest.approx(0.72) and mm.value_px == px.value
    assert str(mm) == "0.720 mm"


def test_imt_over_shared_columns_with_interpolation():
    li = np.array([[10.0, 0.0], [10.0, 100.0]])
    ma = np.array([[20.0, 10.5], [30.0, 20.5]])  # columns 11..20 shared
    r = imt(li, ma, spacing=(0.1, 0.1))
    assert r.n_cols == 10
    expect = np.mean(20.0 + (np.arange(11, 21) - 10.5) - 10.0)
    assert r.value_px == pytest.approx(expect)
    assert r.value == pytest.approx(expect * 0.1)


def test_imt_bad_input():
    li = np.array([[10.0, 0.0], [10.0, 5.0]])
    ma = np.array([[20.0, 6.0], [20.0, 9.0]])
    with pytest.raises(ValueError, match="share no image column"):
        imt(li, ma)
    with pytest.raises(ValueError, match="positive"):
        imt(li, li + [5, 0], spacing=(0.0, 0.1))
    with pytest.raises(ValueError, match="spacing"):
        imt(li, li + [5, 0], spacing=0.1)
