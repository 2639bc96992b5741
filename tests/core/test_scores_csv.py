"""Tests of core.io.scores_csv: the ``score,label`` table read by ``layertune stats``."""

from __future__ import annotations

import numpy as np
import pytest

from core.io import scores_csv as M


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
