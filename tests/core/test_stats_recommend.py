"""The depth recommendation on constructed results: ROC, FROC, per-ROI errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.stats.recommend import DEPTH_ORDER, recommend_depth


def roc_results(n=600, seed=0):
    rng = np.random.default_rng(seed)
    y = np.r_[np.ones(n // 2, int), np.zeros(n - n // 2, int)]
    good = y * 2.0 + rng.normal(0, 1, n)  # AUC about 0.92
    bad = y * 0.6 + rng.normal(0, 1, n)  # AUC about 0.66
    return y, good, bad


def test_depth_order_is_the_models():
    from core.train.model import DEPTHS

    assert DEPTH_ORDER == DEPTHS


def test_clearly_worse_shallow_depth_is_not_recommended():
    y, good, bad = roc_results()
    results = {"conv5": {"scores": good, "labels": y}, "fc8": {"scores": bad, "labels": y},
               "fc6": {"scores": good.copy(), "labels": y},
               "conv1": {"scores": good + 1e-3 * np.sin(np.arange(y.size)), "labels": y}}
    r = recommend_depth(results)
    assert r.metric == "auc" and r.higher_is_better
    # fc6 equals conv5 (the best and deeper): the shallowest that is as good
    assert r.depth == "fc6" and r.best_depth in ("fc6", "conv5")
    rows = {row.depth: row for row in r.rows}
    assert [row.depth for row in r.rows] == ["fc8", "fc6", "conv5", "conv1"]
    assert not rows["fc8"].passes and rows["fc8"].significantly_worse
    assert rows["fc8"].diff < -0.2 and rows["fc8"].p < 1e-6
    assert r.evidence.test.startswith("DeLong") and r.evidence.operating_point == "AUC"
    assert r.best_depth == "fc6"  # ties for the best go to the shallowest too
    assert r.evidence.margin == 0.02 and np.isnan(r.evidence.p)
    assert "fc6" in r.text() and "best" in r.text()
    json.dumps(r.to_dict())


def test_equal_depths_pick_the_shallowest():
    y, good, _ = roc_results()
    results = {d: {"scores": good, "labels": y} for d in ("conv3", "fc7", "scratch", "fc8")}
    r = recommend_depth(results)
    assert r.depth == "fc8" and r.best_depth == "fc8"
    assert [row.depth for row in r.rows] == ["fc8", "fc7", "conv3", "scratch"]
    assert all(row.passes for row in r.rows)


def test_noninferior_shallow_depth_with_evidence():
    rng = np.random.default_rng(99)  # not roc_results' stream
    y, good, _ = roc_results(n=2000, seed=1)
    nearly = good + rng.normal(0, 0.15, good.size)  # a little worse, well within 0.02
    r = recommend_depth({"fc7": {"scores": nearly, "labels": y},
                         "conv2": {"scores": good, "labels": y}})
    assert r.best_depth == "conv2" and r.depth == "fc7"
    row = r.rows[0]
    assert -0.02 < row.diff < 0 and row.diff_ci[0] > -0.02
    assert r.evidence.p == row.p_noninferiority < 0.025
    assert "non-inferior" in r.evidence.text and r.evidence.against == "conv2"
    # a margin tighter than the CI allows: the best is recommended
    tight = recommend_depth({"fc7": {"scores": nearly, "labels": y},
                             "conv2": {"scores": good, "labels": y}}, margin=0.0)
    assert tight.depth == "conv2"


def test_small_test_set_difference_rule_vs_noninferiority():
    """With few cases a worse depth is 'not significantly worse' but not shown
    non-inferior: the default rule does not pick it, rule='difference' does."""
    rng = np.random.default_rng(2)
    y = np.r_[np.ones(12, int), np.zeros(12, int)]
    best = y * 2.0 + rng.normal(0, 1, y.size)
    worse = y * 1.2 + rng.normal(0, 1, y.size)
    res = {"fc8": {"scores": worse, "labels": y}, "conv1": {"scores": best, "labels": y}}
    ni = recommend_depth(res)
    diff = recommend_depth(res, rule="difference")
    assert ni.best_depth == "conv1" and ni.depth == "conv1"
    assert diff.depth == "fc8" and not diff.rows[0].significantly_worse


def test_ids_align_cases_given_in_different_orders():
    y, good, bad = roc_results(n=200)
    ids = np.arange(y.size)
    perm = np.random.default_rng(0).permutation(y.size)
    a = recommend_depth({"fc8": {"scores": bad, "labels": y, "ids": ids},
                         "fc7": {"scores": good, "labels": y, "ids": ids}})
    b = recommend_depth({"fc8": {"scores": bad[perm], "labels": y[perm], "ids": ids[perm]},
                         "fc7": {"scores": good, "labels": y, "ids": ids}})
    assert a.to_dict() == b.to_dict()
    with pytest.raises(ValueError, match="labels differ"):
        recommend_depth({"fc8": {"scores": bad[perm], "labels": y[perm]},
                         "fc7": {"scores": good, "labels": y}})


def froc_results():
    rng = np.random.default_rng(3)
    imgs = [f"v{v}f{f}" for v in range(15) for f in range(4)]
    groups = {im: int(im[1:].split("f")[0]) for im in imgs}
    lesions = [(im, 1) for k, im in enumerate(imgs) if k % 2 == 0]
    with_lesion = {im for im, _ in lesions}
    fp_scores = rng.normal(0, 1, (len(imgs), 3))

    def det(strength, seed):
        r = np.random.default_rng(seed)
        s, li, ii = [], [], []
        for k, im in enumerate(imgs):
            if im in with_lesion:
                s.append(r.normal(strength, 0.5))
                li.append(1)
                ii.append(im)
            s += list(fp_scores[k])
            li += [0, 0, 0]
            ii += [im] * 3
        return {"scores": np.array(s), "lesion_ids": np.array(li),
                "image_ids": np.array(ii), "lesions": lesions, "groups": groups}

    return det


def test_froc_recommendation():
    det = froc_results()
    strong = det(3.0, 10)
    res = {"fc8": det(0.0, 11), "fc6": {**strong}, "conv4": strong, "conv1": det(2.0, 12)}
    r = recommend_depth(res, fp_rate=0.5, n_boot=300)
    assert r.metric == "sensitivity"
    assert r.depth == "fc6" and r.best_depth == "fc6"
    rows = {row.depth: row for row in r.rows}
    assert not rows["fc8"].passes and rows["fc8"].significantly_worse
    assert "0.5 FPs per image" in r.evidence.operating_point
    # the best one deeper: fc6 weaker than conv4 by far -> conv4
    res["fc6"] = det(1.0, 13)
    r = recommend_depth(res, fp_rate=0.5, n_boot=300)
    assert r.best_depth == "conv4" and r.depth == "conv4"
    with pytest.raises(ValueError, match="fp_rate"):
        recommend_depth(res)


def test_error_recommendation_with_wilcoxon():
    rng = np.random.default_rng(4)
    best = np.abs(rng.normal(0.05, 0.02, 80))  # mm
    res = {"fc8": {"errors": best + np.abs(rng.normal(0.05, 0.01, 80))},  # much worse
           "fc7": {"errors": best + rng.normal(0, 0.0005, 80)},  # as good
           "conv3": {"errors": best}}
    r = recommend_depth(res)
    assert r.metric == "error" and not r.higher_is_better
    assert r.depth == "fc7"
    rows = {row.depth: row for row in r.rows}
    assert rows["fc8"].significantly_worse and not rows["fc8"].passes
    assert rows["fc8"].diff > 0.04 and rows["fc8"].value_ci[0] < rows["fc8"].value
    assert r.margin == pytest.approx(0.1 * min(row.value for row in r.rows))
    assert r.evidence.test.startswith("Wilcoxon")


def test_bad_input():
    y, good, bad = roc_results(n=100)
    with pytest.raises(ValueError, match="different kinds"):
        recommend_depth({"fc8": {"scores": good, "labels": y}, "fc7": {"errors": good}})
    with pytest.raises(ValueError, match="same cases"):
        recommend_depth({"fc8": {"scores": good, "labels": y},
                         "fc7": {"scores": good[:50], "labels": y[:50]}})
    with pytest.raises(ValueError, match="rule"):
        recommend_depth({"fc8": {"scores": good, "labels": y}}, rule="vote")
    with pytest.raises(ValueError, match="order does not place"):
        recommend_depth({"fc8": {"scores": good, "labels": y}, "hog": {"scores": bad,
                         "labels": y}}, order=["fc8"])
    with pytest.raises(ValueError, match="cannot tell"):
        recommend_depth({"fc8": {"auc": 0.9}})
    # names outside the ladder (a handcrafted baseline) come after it
    r = recommend_depth({"hog": {"scores": bad, "labels": y}, "fc8": {"scores": good,
                         "labels": y}})
    assert [row.depth for row in r.rows] == ["fc8", "hog"] and r.depth == "fc8"
