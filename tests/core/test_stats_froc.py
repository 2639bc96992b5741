"""FROC: a hand-computed example, interpolation, CPM, counts, verdicts and bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from core.stats import (
    DEFAULT_FROC_FPS,
    FrocResult,
    froc_analysis,
    froc_curve,
    froc_sensitivity,
)

# The hand-computed example. Six frames in two videos: f5 holds a lesion no candidate
# hits; f6 holds nothing at all (no candidate, no lesion) but counts in the FP rate.
#
#  cand  frame score lesion ignore   what it is
#  c0    f1    0.95  1      -        detects (f1,1)
#  c1    f1    0.90  1      -        duplicate on (f1,1): neither TP nor FP
#  c2    f1    0.80  -      -        FP
#  c3    f2    0.85  2      -        detects (f2,2)
#  c4    f2    0.60  -      1        ignored
#  c5    f3    0.70  -      -        FP
#  c6    f4    0.50  1      -        detects (f4,1)
#  c7    f4    0.50  -      -        FP tied with c6: TP and FP cross together (diagonal)
#  c8    f4    0.40  -      -        FP
#  c9    f2    0.30  1      1        ignored: so (f2,1) stays missed
#  c10   f3    0.20  -      -        FP
#
# Events, highest first: .95 TP, .85 TP, .80 FP, .70 FP, .50 TP+FP, .40 FP, .20 FP.
# 5 lesions, 6 images: FPs per image = FP count / 6, sensitivity = TP count / 5.
CANDS = [
    ("f1", 0.95, "1", 0), ("f1", 0.90, "1", 0), ("f1", 0.80, "", 0), ("f2", 0.85, "2", 0),
    ("f2", 0.60, "", 1), ("f3", 0.70, "", 0), ("f4", 0.50, "1", 0), ("f4", 0.50, "", 0),
    ("f4", 0.40, "", 0), ("f2", 0.30, "1", 1), ("f3", 0.20, "", 0),
]
LESIONS = [("f1", "1"), ("f2", "1"), ("f2", "2"), ("f4", "1"), ("f5", "1")]
IMAGES = ["f1", "f2", "f3", "f4", "f5", "f6"]
VIDEO = {"f1": "A", "f2": "A", "f3": "A", "f4": "B", "f5": "B", "f6": "B"}

CURVE_FPS = [0, 0, 0, 1 / 6, 2 / 6, 3 / 6, 4 / 6, 5 / 6]
CURVE_SENS = [0, 0.2, 0.4, 0.4, 0.4, 0.6, 0.6, 0.6]
CURVE_THR = [math.inf, 0.95, 0.85, 0.80, 0.70, 0.50, 0.40, 0.20]


def example(**kw):
    img, s, les, ign = zip(*CANDS)
    args = dict(lesions=LESIONS, images=IMAGES, ignore=np.array(ign))
    args.update(kw)
    return np.array(s), np.array(les), np.array(img), args


def test_hand_computed_curve():
    s, les, img, kw = example()
    fps, sens, thr = froc_curve(s, les, img, **kw)
    np.testing.assert_allclose(fps, CURVE_FPS, rtol=0, atol=1e-15)
    np.testing.assert_allclose(sens, CURVE_SENS, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(thr, CURVE_THR)


def test_hand_computed_points_cpm_and_counts():
    s, les, img, kw = example()
    res = froc_analysis(s, les, img, **kw, n_boot=0)
    # 1/8 and 1/4: on flat stretches at 0.4; 1/2 is exactly the point (3/6, 0.6); beyond
    # the last point (5/6 FPs per image) the sensitivity is held at 0.6.
    expect = [0.4, 0.4, 0.6, 0.6, 0.6, 0.6, 0.6]
    assert [p.fp_rate for p in res.points] == list(DEFAULT_FROC_FPS)
    np.testing.assert_allclose([p.sensitivity for p in res.points], expect, atol=1e-15)
    assert res.cpm == pytest.approx(3.8 / 7, abs=1e-15)
    assert [p.threshold for p in res.points[:3]] == [0.85, 0.80, 0.50]
    assert (res.n_lesions, res.n_images, res.n_tp, res.n_fp) == (5, 6, 3, 5)
    assert (res.n_ignored, res.n_duplicates) == (2, 1)
    assert all(math.isnan(v) for p in res.points for v in p.ci)
    assert res.max_fp_rate == pytest.approx(5 / 6)


def test_diagonal_step_and_vertical_step():
    s, les, img, kw = example()
    res = froc_analysis(s, les, img, **kw, fps=[0.0, 0.4, 0.5], n_boot=0)
    # At 0 FPs: the top of the vertical step (0, 0) -> (0, 0.4). At 0.4: on the diagonal
    # from (2/6, 0.4) to (3/6, 0.6), a share (0.4 - 1/3) / (1/6) = 0.4 of the way.
    got = [p.sensitivity for p in res.points]
    assert got == pytest.approx([0.4, 0.4 + 0.4 * 0.2, 0.6], abs=1e-12)


def test_images_without_candidates_count():
    s, les, img, kw = example()
    with_f6 = froc_analysis(s, les, img, **kw, n_boot=0)
    kw.pop("images")
    union = froc_analysis(s, les, img, **kw, n_boot=0)  # f6 is in neither file
    assert (with_f6.n_images, union.n_images) == (6, 5)
    np.testing.assert_allclose(union.curve_fps * 5, with_f6.curve_fps * 6, atol=1e-12)


def test_fp_per_group():
    s, les, img, kw = example(groups=VIDEO)
    fps, sens, _ = froc_curve(s, les, img, **kw, per="group")
    np.testing.assert_allclose(fps, np.asarray(CURVE_FPS) * 6 / 2, atol=1e-15)
    res = froc_analysis(s, les, img, **kw, per="group", fps=[1.0, 1.25, 1.5], n_boot=0)
    assert [p.sensitivity for p in res.points] == pytest.approx([0.4, 0.5, 0.6], abs=1e-12)
    assert res.per == "group" and res.n_groups == 2


def test_integer_ids_follow_the_hits_convention():
    # lesion 0 = no lesion, as core.tasks.polyps.hits.candidate_lesions returns
    s, les, img, kw = example()
    les_int = np.array([int(v) if v else 0 for v in les])
    frame = {f: i for i, f in enumerate(IMAGES)}
    img_int = np.array([frame[v] for v in img])
    kw = dict(lesions=[(frame[f], int(k)) for f, k in LESIONS], images=range(6),
              ignore=kw["ignore"])
    fps, sens, _ = froc_curve(s, les_int, img_int, **kw)
    np.testing.assert_allclose(sens, CURVE_SENS, atol=1e-15)
    np.testing.assert_allclose(fps, CURVE_FPS, atol=1e-15)


def test_interpolation_is_numpy_interp_on_the_curve():
    rng = np.random.default_rng(3)
    for trial in range(20):
        n_img = int(rng.integers(2, 12))
        n = int(rng.integers(1, 60))
        img = rng.integers(0, n_img, n)
        les = np.where(rng.random(n) < 0.4, rng.integers(1, 3, n), 0)
        lesions = sorted({(i, k) for i, k in zip(img, les) if k} | {(0, 9)})
        s = np.round(rng.random(n) * 6) / 6  # many ties, vertical and diagonal steps
        fps, sens, _ = froc_curve(s, les, img, lesions=lesions, images=range(n_img))
        assert np.all(np.diff(fps) >= 0) and np.all(np.diff(sens) >= 0)
        rates = [0, 0.01, 0.125, 0.2, 0.25, 0.5, 1, 1.5, 2, 4, 8, *fps[1:4]]
        np.testing.assert_allclose(froc_sensitivity(fps, sens, rates),
                                   np.interp(rates, fps, sens), rtol=0, atol=1e-12,
                                   err_msg=f"trial {trial}")


def test_cpm_is_mean_of_points_and_to_dict_round_trip():
    s, les, img, kw = example(groups=VIDEO)
    res = froc_analysis(s, les, img, **kw, fps=[0.25, 0.5, 1.0], n_boot=200, seed=1)
    assert res.cpm == pytest.approx(np.mean([p.sensitivity for p in res.points]))
    d = json.loads(json.dumps(res.to_dict()))
    assert d["curve_thresholds"][0] is None and d["n_tp"] == 3 and d["resampled"] == "group"
    back = FrocResult.from_dict(d)
    assert back.cpm == res.cpm and back.cpm_ci == res.cpm_ci and back.points == res.points
    np.testing.assert_array_equal(back.curve_thresholds, res.curve_thresholds)
    np.testing.assert_array_equal(back.band_lo, res.band_lo)
    assert back.verdict() == res.verdict() == d["verdict"]


def test_verdict_sentences():
    s, les, img, kw = example()
    res = froc_analysis(s, les, img, **kw, n_boot=100)
    text = " ".join(res.verdict())
    assert "Only 5 lesions" in text and "0.20" in text
    assert "treats images as independent" in text
    assert "held flat" in text and "1, 2, 4, 8" in text
    grouped = " ".join(froc_analysis(s, les, img, **kw | {"groups": VIDEO}).verdict())
    assert "Only 2 groups" in grouped
    one = " ".join(froc_analysis(s, les, img, **kw | {"groups": dict.fromkeys(IMAGES, "V")},
                                 n_boot=50).verdict())
    assert "one group" in one and "not reliable" in one
    off = froc_analysis(s, les, img, **kw, n_boot=0).verdict()
    assert "bootstrap was off" in off[0]
    none = froc_analysis([0.5], [""], ["f1"], lesions=[("f1", "1")], images=IMAGES)
    assert any("No lesion was hit" in v for v in none.verdict())
    assert all(p.sensitivity == 0 for p in none.points)


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(scores=[0.1, 0.2]), "image_ids has"),
        (dict(scores=[np.nan] + [0.5] * 10), "finite"),
        (dict(lesion_ids=["9"] + [""] * 10), "candidate 0: lesion '9' of image 'f1' is not"),
        (dict(lesions=LESIONS + [("f1", "1")]), "listed more than once"),
        (dict(lesions=[]), "lesions is empty"),
        (dict(lesions=[("f1",)]), "expected an (image_id, lesion_id) pair"),
        (dict(images=["f1", "f2"]), "candidate 5: image 'f3' is not in images"),
        (dict(images=IMAGES + ["f1"]), "listed more than once"),
        (dict(ignore=[2] * 11), "ignore must be 0/1"),
        (dict(groups={"f1": "A"}), "has no group"),
        (dict(fps=[-1.0]), "FP rates"),
        (dict(per="video"), "per must be one of"),
        (dict(per="group"), "needs groups"),
        (dict(n_boot=-1), "n_boot"),
        (dict(image_ids=[None] * 11), "not an id"),
    ],
)
def test_bad_input(change, message):
    s, les, img, kw = example()
    args = dict(scores=s, lesion_ids=les, image_ids=img, **kw)
    args.update(change)
    pos = [args.pop(k) for k in ("scores", "lesion_ids", "image_ids")]
    with pytest.raises(ValueError, match=None) as err:
        froc_analysis(*pos, **args)
    assert message in str(err.value)


def test_id_forms_agree():
    # pandas-style float column with NaN, an object array with None, an (L, 2) array of
    # integer lesions: one curve; 3 and "3" are one image id
    expect = froc_curve([0.9, 0.5, 0.4], ["1", "", "2"], ["3", "3", "4"],
                        lesions=[("3", "1"), ("4", "2")])
    for les, img, lesions in (
        (np.array([1.0, np.nan, 2.0]), [3, 3, 4], [(3, 1), (4, 2)]),
        (np.array(["1", None, 2], dtype=object), ["3", 3, 4], [("3", "1"), (4, 2)]),
        (np.array([1, 0, 2]), np.array([3, 3, 4]), np.array([[3, 1], [4, 2]])),
    ):
        got = froc_curve([0.9, 0.5, 0.4], les, img, lesions=lesions)
        for a, b in zip(got, expect):
            np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="not an id"):
        froc_curve([0.9], [1.5], [3], lesions=[(3, 1)])
