"""Tests for the polyp candidate generator and the candidate-to-polyp hits."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.events import Progress, drain
from core.synth.polyps import iter_polyp_frames
from core.tasks.polyps.candidates import (
    GENERATOR,
    VERSION,
    CandidateParams,
    Detection,
    detect,
    generate,
)
from core.tasks.polyps.hits import candidate_lesions, lesion_labels, recall_report

KVASIR = Path(__file__).resolve().parents[2].parent / "shared" / "testdata" / "kvasir_seg"


def _disk(shape, centre, radius, delta, seed=0):
    """Mucosa-coloured noisy frame with a disk ``delta`` grey levels brighter (or darker)."""
    rng = np.random.default_rng(seed)
    img = np.empty((*shape, 3), np.float32)
    img[:] = (150, 90, 80)
    img += rng.normal(0, 4, img.shape).astype(np.float32)
    m = np.zeros(shape, np.uint8)
    cv2.circle(m, (centre[1], centre[0]), radius, 1, -1)
    img[m > 0] += delta
    return np.clip(img, 0, 255).astype(np.uint8)


def _centres(dets):
    return np.array([d.center for d in dets], np.float64).reshape(-1, 2)


# ----------------------------------------------------------------- the generator


def test_a_disk_is_found_with_its_box_at_any_frame_size():
    top = detect(_disk((288, 384), (140, 200), 30, 40))[0]
    assert isinstance(top, Detection)
    assert np.hypot(top.center[0] - 140, top.center[1] - 200) <= 2.5
    assert np.allclose(top.box, (110, 170, 171, 231), atol=4)  # the disk's own box
    # the same scene at twice the size is processed at the working scale, mapped back
    big = detect(_disk((576, 768), (280, 400), 60, 40))[0]
    assert np.hypot(big.center[0] - 280, big.center[1] - 400) <= 4
    assert np.allclose(big.box, (220, 340, 341, 461), atol=8)


def test_polarity_selects_bright_or_dark_blobs():
    bright, dark = _disk((288, 384), (140, 200), 30, 40), _disk((288, 384), (140, 200), 30, -40)

    def near(dets):
        return any(np.hypot(d.center[0] - 140, d.center[1] - 200) < 8 for d in dets)

    assert near(detect(bright, CandidateParams(polarity="bright")))
    assert not near(detect(bright, CandidateParams(polarity="dark")))
    assert near(detect(dark, CandidateParams(polarity="dark")))
    assert not near(detect(dark, CandidateParams(polarity="bright")))


def test_flat_frames_give_no_candidates_and_grey_frames_are_accepted():
    assert detect(np.full((120, 160, 3), 128, np.uint8)) == []
    assert detect(np.zeros((120, 160, 3), np.uint8)) == []
    grey = _disk((288, 384), (140, 200), 30, 40)[..., 1]
    assert np.hypot(*(np.array(detect(grey)[0].center) - (140, 200))) <= 2.5
    with pytest.raises(ValueError):
        detect(np.zeros((100, 100, 4), np.uint8))


def test_detections_are_ordered_capped_and_a_prefix_of_a_longer_list():
    frame, _ = next(iter_polyp_frames(1, seed=31, stills=True))
    full = detect(frame)
    assert 0 < len(full) <= CandidateParams().max_per_frame
    strengths = [d.strength for d in full]
    assert strengths == sorted(strengths, reverse=True)
    h, w = frame.shape[:2]
    for d in full:
        r0, c0, r1, c1 = d.box
        assert 0 <= r0 < r1 <= h and 0 <= c0 < c1 <= w
        assert r0 <= d.center[0] < r1 and c0 <= d.center[1] < c1
    # greedy suppression in score order: the top 5 are the first 5 of the top 30
    assert detect(frame, CandidateParams(max_per_frame=5)) == full[:5]


@pytest.fixture(scope="module")
def synthetic_run():
    """Stills of the demo's polyp scenes (seeds apart from those the defaults were set on)."""
    frames, masks = map(list, zip(*iter_polyp_frames(60, seed=123, stills=True)))
    dets = [detect(f) for f in frames]
    return frames, masks, dets


def test_recall_on_synthetic_polyps(synthetic_run):
    _, masks, dets = synthetic_run
    report = recall_report({i: _centres(d) for i, d in enumerate(dets)}, dict(enumerate(masks)))
    assert report.n_polyps >= 50
    assert report.recall >= 0.9, report.summary()
    assert report.candidates_per_frame <= 30


def test_the_generator_also_fires_outside_the_polyps(synthetic_run):
    # folds, the lumen and glare draw candidates too: false positives to learn away
    frames, masks, dets = synthetic_run
    outside = [int((candidate_lesions(_centres(d), m) == 0).sum()) for d, m in zip(dets, masks)]
    assert min(outside) >= 10
    empty = [o for o, m in zip(outside, masks) if not m.any()]
    assert empty and min(empty) >= 10  # frames without any polyp still get candidates
    # some false positives sit on specular highlights: centre within 6 px of saturated white
    on_glare = 0
    for f, m, d in zip(frames, masks, dets):
        white = (f.min(axis=2) >= 235).astype(np.uint8)
        dist = cv2.distanceTransform(1 - white, cv2.DIST_L2, 3)
        c = np.rint(_centres(d)).astype(int)
        on_glare += int(((dist[c[:, 0], c[:, 1]] <= 6) & (candidate_lesions(c, m) == 0)).sum())
    assert on_glare >= 20


def test_recall_on_the_kvasir_sample():
    if not (KVASIR / "images").is_dir():
        pytest.skip("Kvasir-SEG sample absent (../shared/testdata/kvasir_seg)")
    cands, masks = {}, {}
    for i, img in enumerate(sorted((KVASIR / "images").glob("*.jpg"))):
        frame = cv2.cvtColor(cv2.imread(str(img)), cv2.COLOR_BGR2RGB)
        masks[i] = cv2.imread(str(KVASIR / "masks" / img.name), cv2.IMREAD_GRAYSCALE) >= 128
        dets = detect(frame)  # full-size frames, up to 1348 x 1070
        h, w = frame.shape[:2]
        assert all(0 <= d.box[0] < d.box[2] <= h and 0 <= d.box[1] < d.box[3] <= w for d in dets)
        cands[i] = _centres(dets)
    report = recall_report(cands, masks, min_area=50)  # drop JPEG specks
    assert report.n_frames == 5 and report.n_polyps == 6
    assert report.recall >= 0.8, report.summary()
    assert report.candidates_per_frame <= 30


def test_generate_yields_progress_and_can_stop_between_frames():
    frames = [f for f, _ in iter_polyp_frames(3, seed=8, stills=True)]
    read = []

    def read_frame(i):
        read.append(i)
        return frames[i]

    events = []
    out = drain(generate(read_frame, [2, 0, 1]), events.append)
    assert list(out) == [2, 0, 1]
    assert all(out[i] == detect(frames[i]) for i in range(3))
    assert [e.done for e in events] == [0, 1, 2, 3] and all(isinstance(e, Progress) for e in events)
    read.clear()
    gen = generate(read_frame, [0, 1, 2])
    next(gen)
    next(gen)
    gen.close()  # cancelled after one frame: nothing more is read
    assert read == [0]


def test_vectorised_stages_match_the_per_pixel_loops():
    from benchmarks.bench_candidates import detect_reference

    frame = _disk((144, 192), (70, 100), 20, 35)
    frame = cv2.addWeighted(frame, 0.7, next(iter_polyp_frames(1, (144, 192), seed=4))[0], 0.3, 0)
    assert detect_reference(frame, CandidateParams(), {}) == detect(frame)


# ----------------------------------------------------------------- parameters


@pytest.mark.parametrize("bad", [
    {"work_size": 10}, {"channel_weights": (0.0, 0.0, 0.0)}, {"channel_weights": (1.0, -1.0, 0.5)},
    {"clean_size": -1}, {"smooth_sigma": -1.0}, {"canny_quantile": 1.0}, {"canny_low": 0.0},
    {"min_gradient": -1.0}, {"fov_level": 300}, {"fov_margin": -2}, {"highlight_level": 0},
    {"r_min": 20.0, "r_max": 10.0}, {"r_min": 0.5}, {"n_radii": 1}, {"radii_per_band": 0},
    {"radii_per_band": 50}, {"polarity": "up"}, {"cell_fraction": 0.0}, {"vote_blur": 2.0},
    {"threshold": -0.1}, {"nms_factor": -1.0}, {"max_per_frame": 0},
    {"support_tolerance": 1.0}, {"support_angle": 0.0}, {"box_quantile": 0.5},
])
def test_params_are_validated(bad):
    with pytest.raises(ValueError, match="CandidateParams"):
        CandidateParams(**bad)


def test_params_round_trip_and_identify_the_generator():
    assert GENERATOR == "polyp-vote" and VERSION == "1"
    p = CandidateParams(r_max=90.0, channel_weights=(0.2, 0.7, 0.1))
    d = p.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert CandidateParams.from_dict(d) == p
    with pytest.raises(ValueError, match="unknown"):
        CandidateParams.from_dict({**d, "radius": 3})


# ----------------------------------------------------------------- hits


def test_lesions_are_8_connected_components():
    mask = np.zeros((20, 20), bool)
    mask[2:5, 2:5] = True
    mask[5:8, 5:8] = True  # touches the first at a corner: the same polyp
    mask[12:18, 12:18] = True
    mask[0, 19] = True  # a speck
    labels, n = lesion_labels(mask)
    assert n == 3 and labels.dtype == np.int32
    assert labels[3, 3] == labels[6, 6] != labels[15, 15]
    labels, n = lesion_labels(mask, min_area=5)
    assert n == 2 and labels[0, 19] == 0


def test_candidate_lesions_round_and_clip_centres():
    mask = np.zeros((10, 10), bool)
    mask[3:5, 0:2] = True
    mask[8:10, 8:10] = True
    centres = np.array([[2.5, 0.0], [2.49, 0.0], [4.4, 1.4], [-3.0, -3.0], [20.0, 20.0],
                        [9.0, 5.0]])
    assert candidate_lesions(centres, mask).tolist() == [1, 0, 1, 0, 2, 0]
    assert candidate_lesions(np.zeros((0, 2)), mask).shape == (0,)
    with pytest.raises(ValueError):
        candidate_lesions(np.array([[np.nan, 1.0]]), mask)


def test_recall_report_counts_each_polyp_once_over_frames():
    two = np.zeros((30, 30), bool)
    two[2:8, 2:8] = True
    two[20:28, 20:28] = True
    one = np.zeros((30, 30), bool)
    one[10:15, 10:15] = True
    cands = {0: np.array([[4.0, 4.0], [5.0, 5.0], [15.0, 15.0]]),  # polyp 1 twice, 1 FP
             1: np.zeros((0, 2)),
             7: np.array([[1.0, 1.0]])}  # a frame without a mask: unlabelled, left out
    rep = recall_report(cands, {0: two, 1: one, 2: np.zeros((30, 30), bool)})
    assert (rep.n_frames, rep.n_polyps, rep.n_found) == (3, 3, 1)
    assert rep.recall == pytest.approx(1 / 3)
    assert rep.candidates_per_frame == pytest.approx(1.0)
    assert (rep.n_candidates, rep.n_false) == (3, 1)
    assert set(rep.to_dict()) >= {"n_frames", "n_polyps", "n_found", "recall",
                                  "candidates_per_frame"}
    assert "recall 0.333" in rep.summary()
    assert np.isnan(recall_report({}, {0: np.zeros((5, 5), bool)}).recall)


def test_hits_on_the_kvasir_frame_with_two_polyps():
    stats_file = KVASIR / "mask_stats_thr128.json"
    if not stats_file.is_file():
        pytest.skip("Kvasir-SEG sample absent (../shared/testdata/kvasir_seg)")
    name = "cju0roawvklrq0799vmjorwfv.jpg"
    mask = cv2.imread(str(KVASIR / "masks" / name), cv2.IMREAD_GRAYSCALE) >= 128
    comps = json.loads(stats_file.read_text())[name]["components_ge50px"]
    centres = np.array([[c["centroid_xy"][1], c["centroid_xy"][0]] for c in comps] + [[500, 50]])
    _, n = lesion_labels(mask, min_area=50)
    assert n == 2
    hit = candidate_lesions(centres, mask, min_area=50)
    assert hit[2] == 0 and sorted(hit[:2].tolist()) == [1, 2]
    rep = recall_report({0: centres[[0, 0, 2]]}, {0: mask}, min_area=50)
    assert (rep.n_polyps, rep.n_found) == (2, 1)
