"""Youden's J threshold and the plain verdict on a ROC result (issue 6, item 4).

The threshold is checked against a brute-force search over every cut; the verdict against
results whose CI includes 0.5, comes from one video, or has width 0.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from stats_cases import binormal

from core import stats as M


def _brute_j(s, y):
    """(best J, the set of thresholds t in the data reaching it) by trying every t."""
    best, where = -1.0, []
    for t in np.unique(s):
        call = s >= t
        j = call[y == 1].mean() - call[y == 0].mean()
        if j > best + 1e-12:
            best, where = j, [t]
        elif abs(j - best) <= 1e-12:
            where.append(t)
    return best, where


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_youden_threshold_reaches_the_largest_j(seed):
    s, y = binormal(301, 1.0, seed=seed, ties=6 if seed == 2 else None)
    t = M.youden_threshold(s, y)
    best, _ = _brute_j(s, y)
    call = s >= t
    assert call[y == 1].mean() - call[y == 0].mean() == pytest.approx(best, abs=1e-12)
    assert M.youden_j(s, y) == pytest.approx(best, abs=1e-12)
    assert t not in set(s.tolist())  # a midpoint between two scores, not on a case


def test_perfect_separation_gives_the_midpoint_of_the_gap():
    s = np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9])
    y = np.array([0, 0, 0, 1, 1, 1])
    assert M.youden_threshold(s, y) == pytest.approx(0.5)
    assert M.youden_j(s, y) == 1.0
    # probabilities far from 0.5 still get a threshold between the classes
    assert M.youden_threshold(s / 10, y) == pytest.approx(0.05)


def test_a_plateau_of_equal_j_is_resolved_in_its_middle():
    # J = 0.5 at three cuts (>= 0.6, >= 0.4, >= 0.2 by symmetry); the middle one wins.
    s = np.array([0.9, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05])
    y = np.array([1, 1, 0, 1, 0, 1, 0, 0])
    best, where = _brute_j(s, y)
    assert len(where) >= 2
    t = M.youden_threshold(s, y)
    call = s >= t
    assert call[y == 1].mean() - call[y == 0].mean() == pytest.approx(best)
    assert min(where) < t < max(where)


def test_uninformative_scores_give_the_median_and_j_zero():
    y = np.array([0, 1, 0, 1, 0, 1])
    assert M.youden_threshold(np.full(6, 0.5), y) == 0.5  # a constant model
    rev = np.array([0.9, 0.1, 0.8, 0.2, 0.7, 0.3])  # worse than chance everywhere
    assert M.youden_threshold(rev, y) == pytest.approx(np.median(rev))
    assert M.youden_j(rev, y) == 0.0
    with pytest.raises(ValueError, match="both classes"):
        M.youden_threshold([0.2, 0.4], [1, 1])


def _result(auc, ci, boot=(math.nan, math.nan), n_groups=0):
    return M.RocResult(auc=auc, auc_ci=ci, n_pos=10, n_neg=10, fpr=np.r_[0.0, 1.0],
                       tpr=np.r_[0.0, 1.0], operating_points=(), auc_ci_boot=boot,
                       n_groups=n_groups)


def test_verdict_says_no_better_than_chance_when_the_ci_includes_one_half():
    lines = M.verdict(_result(0.58, (0.45, 0.71)), 6)
    assert lines[0].startswith("No better than chance") and "includes 0.5" in lines[0]
    assert "DeLong" in lines[0] and len(lines) == 1
    good = M.verdict(_result(0.9, (0.85, 0.95)), 6)
    assert good == ["Better than chance: the AUC's 95% CI (0.850-0.950, DeLong) lies above 0.5."]
    assert M.verdict(_result(0.2, (0.1, 0.3)), 6)[0].startswith("Worse than chance")


def test_verdict_judges_by_the_video_level_ci_when_there_is_one():
    # DeLong (frames as independent cases) is above 0.5, the video-level CI is not
    r = _result(0.7, (0.62, 0.78), boot=(0.41, 0.9), n_groups=3)
    lines = M.verdict(r, 3)
    assert lines[0].startswith("No better than chance") and "video-level bootstrap" in lines[0]
    assert any("Only 3 test videos" in s for s in lines)


def test_verdict_on_one_video_and_on_a_degenerate_ci():
    lines = M.verdict(_result(1.0, (1.0, 1.0)), 1)
    assert any("A CI from one video is not reliable" in s for s in lines)
    assert any("width 0" in s for s in lines)
    assert not any("width 0" in s for s in M.verdict(_result(0.9, (0.8, 0.97)), 1))


def test_verdict_of_a_real_analysis_and_the_cli_text():
    from core.cli import _roc_text

    s, y = binormal(200, 0.1, seed=7)  # barely separated: the CI includes 0.5
    r = M.roc_analysis(s, y, n_boot=200, groups=np.arange(200) // 50)
    assert r.auc_ci_boot[0] < 0.5 < r.auc_ci_boot[1]
    text = _roc_text(r)
    assert "verdict: No better than chance" in text
    assert "bootstrap, 4 videos resampled" in text
