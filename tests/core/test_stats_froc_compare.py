"""Two FROC curves compared at an operating point by a paired bootstrap over subjects."""

from __future__ import annotations

import numpy as np
import pytest

import core.stats.froc_compare as fc
from core.stats import froc_analysis
from core.stats.froc_compare import Detections, compare_froc_at


def hand_made():
    """4 images in 2 videos, 1 lesion each. Detector A finds all 4 lesions above every
    false positive; detector B finds 2 of them (and those below two FPs)."""
    lesions = [("i1", 1), ("i2", 1), ("i3", 1), ("i4", 1)]
    groups = {"i1": 0, "i2": 0, "i3": 1, "i4": 1}
    a = Detections([0.9, 0.8, 0.85, 0.7, 0.2, 0.1, 0.15, 0.05],
                   [1, 1, 1, 1, 0, 0, 0, 0],
                   ["i1", "i2", "i3", "i4", "i1", "i2", "i3", "i4"])
    b = {"scores": [0.9, 0.3, 0.95, 0.8, 0.1],
         "lesion_ids": [1, 1, 0, 0, 0],
         "image_ids": ["i1", "i3", "i2", "i4", "i1"]}
    return a, b, lesions, groups


def test_hand_made_sensitivities():
    a, b, lesions, groups = hand_made()
    # A: 4 lesions before any FP -> 1.0 at 0.25 FP/image.
    # B: in score order FP(.95) TP(.9) FP(.8) TP(.3) FP(.1): at 0.25 FP/image (1 FP of 4
    # images) the curve is at (0.25, 0.25) -> step up to 0.5 at 0.5 FP/image.
    r = compare_froc_at(a, b, 0.25, lesions=lesions, groups=groups, n_boot=0)
    assert (r.sens_a, r.sens_b, r.diff) == pytest.approx((1.0, 0.25, 0.75))
    assert np.isnan(r.p) and r.n_boot == 0
    r = compare_froc_at(a, b, 0.5, lesions=lesions, groups=groups, n_boot=0)
    assert r.sens_b == pytest.approx(0.5)
    # several rates: the mean sensitivity over them (CPM-style)
    r = compare_froc_at(a, b, [0.25, 0.5], lesions=lesions, groups=groups, n_boot=0)
    assert r.sens_b == pytest.approx(0.375) and r.fp_rates == (0.25, 0.5)
    # matches the plain FROC analysis of each detector
    ref = froc_analysis(b["scores"], b["lesion_ids"], b["image_ids"], lesions=lesions,
                        fps=[0.25, 0.5], n_boot=0)
    assert r.sens_b == pytest.approx(ref.cpm)


def test_identical_detectors_are_paired_exactly():
    a, _, lesions, groups = hand_made()
    r = compare_froc_at(a, a, 0.25, lesions=lesions, groups=groups, n_boot=300, seed=4)
    assert r.diff == 0.0 and r.diff_ci == (0.0, 0.0) and r.p == 1.0
    assert r.resampled == "group" and r.n_boot_valid == 300
    assert np.all(r.replicates == 0)
    assert r.noninferiority_p(0.0) == 1.0
    assert r.noninferiority_p(0.01) == pytest.approx(1 / 301)


def synthetic(seed=0, n_videos=12, frames=4):
    rng = np.random.default_rng(seed)
    imgs = [f"v{v}f{f}" for v in range(n_videos) for f in range(frames)]
    groups = {im: int(im[1:].split("f")[0]) for im in imgs}
    lesions = [(im, 1) for k, im in enumerate(imgs) if k % 2 == 0]
    with_lesion = {im for im, _ in lesions}

    def det(strength):
        s, li, ii = [], [], []
        for im in imgs:
            if im in with_lesion:
                s.append(rng.normal(strength))
                li.append(1)
                ii.append(im)
            for _ in range(3):
                s.append(rng.normal(0))
                li.append(0)
                ii.append(im)
        return {"scores": np.array(s), "lesion_ids": np.array(li), "image_ids": np.array(ii)}

    return det, lesions, groups


def test_against_explicit_resampling():
    """Replicate by replicate, the paired difference equals the difference of two plain
    FROC analyses on the explicitly resampled videos (copies get new image ids)."""
    det, lesions, groups = synthetic(1, n_videos=6, frames=3)
    a, b = det(1.5), det(0.5)
    n_boot, seed, rate = 25, 7, 0.5
    r = compare_froc_at(a, b, rate, lesions=lesions, groups=groups, n_boot=n_boot, seed=seed)
    draws = np.random.default_rng(seed).integers(0, 6, size=(n_boot, 6))
    expect = []
    for row in draws:
        sens = []
        for d in (a, b):
            s, li, ii, les, imgs = [], [], [], [], []
            for copy, g in enumerate(row):
                keep = [im for im in groups if groups[im] == g]
                imgs += [f"{im}#{copy}" for im in keep]
                les += [(f"{im}#{copy}", 1) for im, _ in lesions if im in keep]
                for k in np.flatnonzero(np.isin(d["image_ids"], keep)):
                    s.append(d["scores"][k])
                    li.append(d["lesion_ids"][k])
                    ii.append(f"{d['image_ids'][k]}#{copy}")
            if not les:
                sens.append(np.nan)
                continue
            sens.append(froc_analysis(s, li, ii, lesions=les, images=imgs, fps=[rate],
                                      n_boot=0).cpm)
        expect.append(sens[0] - sens[1])
    expect = np.array(expect)
    np.testing.assert_allclose(r.replicates, expect[~np.isnan(expect)], atol=1e-12)


def test_chunking_does_not_change_the_pairing(monkeypatch):
    det, lesions, groups = synthetic(2)
    a, b = det(2.0), det(0.3)
    one = compare_froc_at(a, b, 1.0, lesions=lesions, groups=groups, n_boot=200, seed=3)
    monkeypatch.setattr(fc, "CHUNK_CELLS", 500)  # many chunks of unequal event counts
    many = compare_froc_at(a, b, 1.0, lesions=lesions, groups=groups, n_boot=200, seed=3)
    np.testing.assert_array_equal(one.replicates, many.replicates)


def test_clearly_better_detector_is_significant_and_swap_mirrors():
    det, lesions, groups = synthetic(0)
    a, b = det(3.0), det(0.0)
    r = compare_froc_at(a, b, 0.5, lesions=lesions, groups=groups, n_boot=500, seed=1)
    assert r.diff > 0.3 and r.diff_ci[0] > 0 and r.p < 0.01 and r.significant
    assert r.diff_ci[0] <= r.diff <= r.diff_ci[1]
    s = compare_froc_at(b, a, 0.5, lesions=lesions, groups=groups, n_boot=500, seed=1)
    assert s.diff == pytest.approx(-r.diff) and s.p == pytest.approx(r.p)
    np.testing.assert_allclose(s.replicates, -r.replicates)
    assert s.diff_ci == pytest.approx((-r.diff_ci[1], -r.diff_ci[0]))
    assert r.to_dict()["resampled"] == "group"


def test_similar_detectors_are_not_significant():
    det, lesions, groups = synthetic(5)
    a, b = det(1.0), det(1.0)
    r = compare_froc_at(a, b, 1.0, lesions=lesions, groups=groups, n_boot=400, seed=2)
    assert r.p > 0.05 and r.diff_ci[0] <= 0 <= r.diff_ci[1]
    # the p-value agrees with the percentile interval
    assert (r.p < 0.05) == (not r.diff_ci[0] <= 0 <= r.diff_ci[1])


def test_bad_input():
    a, b, lesions, groups = hand_made()
    with pytest.raises(ValueError, match="per='group' needs groups"):
        compare_froc_at(a, b, 0.5, lesions=lesions, per="group", n_boot=0)
    with pytest.raises(ValueError, match="at least one FP rate"):
        compare_froc_at(a, b, [], lesions=lesions, n_boot=0)
    with pytest.raises(ValueError, match="FP rates must be finite"):
        compare_froc_at(a, b, -1, lesions=lesions, n_boot=0)
    with pytest.raises(ValueError, match="b: missing image_ids"):
        compare_froc_at(a, {"scores": [1.0], "lesion_ids": [0]}, 0.5, lesions=lesions)
    with pytest.raises(ValueError, match="not in images"):
        compare_froc_at(a, b, 0.5, lesions=lesions, images=["i1", "i2"], n_boot=0)
