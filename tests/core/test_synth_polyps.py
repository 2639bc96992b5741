"""Tests for the synthetic polyp video (core.synth.polyps)."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from core.events import Progress, drain
from core.synth.polyps import (
    POLYP_FRAME_SIZE,
    PolypVideoSpec,
    iter_polyp_frames,
    render_polyp_video,
    write_polyp_image_set,
    write_polyp_video,
)
from core.tasks.polyps.hits import lesion_labels


def test_frames_and_masks_have_the_documented_shapes_and_repeat_for_a_seed():
    frames, masks = render_polyp_video(5, seed=3)
    assert POLYP_FRAME_SIZE == (288, 384)
    assert frames.shape == (5, 288, 384, 3) and frames.dtype == np.uint8
    assert masks.shape == (5, 288, 384) and masks.dtype == bool
    again, again_masks = render_polyp_video(5, seed=3)
    assert np.array_equal(frames, again) and np.array_equal(masks, again_masks)
    other, _ = render_polyp_video(5, seed=4)
    assert not np.array_equal(frames, other)
    # the lazy iterator gives the same frames
    lazy = list(iter_polyp_frames(5, seed=3))
    assert all(np.array_equal(f, frames[i]) and np.array_equal(m, masks[i])
               for i, (f, m) in enumerate(lazy))


def test_masks_match_what_is_drawn():
    # The same scenes with and without their polyps (polyps draw from a generator of
    # their own, exposure is set on the polyp-free view): frames must be identical away
    # from the masks, and different on them.
    spec = PolypVideoSpec(occlusion=0.0, count_probs=(0.0, 0.5, 0.5), segment=(10, 20))
    frames, masks = render_polyp_video(40, seed=11, spec=spec)
    bare, bare_masks = render_polyp_video(40, seed=11, spec=replace(spec, count_probs=(1, 0, 0)))
    assert not bare_masks.any()
    assert masks.any(axis=(1, 2)).mean() > 0.8
    diff = np.abs(frames.astype(np.int16) - bare).max(axis=3)
    # a polyp's cast shadow and base line reach < 0.4 of the largest radius (50 px),
    # times the camera's zoom
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (81, 81))
    near = np.stack([cv2.dilate(m.astype(np.uint8), kernel) > 0 for m in masks])
    assert diff[~near].max() == 0
    assert (diff[masks] > 3).mean() > 0.9


def test_a_fold_in_front_hides_part_of_a_polyp():
    one = PolypVideoSpec(count_probs=(0.0, 1.0, 0.0), occlusion=0.0)
    hidden = replace(one, occlusion=1.0)
    shrunk = 0
    for seed in range(4):
        _, whole = render_polyp_video(1, seed=seed, spec=one)
        _, part = render_polyp_video(1, seed=seed, spec=hidden)
        assert not (part & ~whole).any()  # occlusion only takes pixels away
        shrunk += part.sum() < 0.97 * whole.sum()
    assert shrunk >= 3


def test_polyps_move_across_frames():
    spec = PolypVideoSpec(count_probs=(0.0, 1.0, 0.0), segment=(30, 30), speed=(30.0, 40.0))
    _, masks = render_polyp_video(30, seed=2, spec=spec)
    assert masks.any(axis=(1, 2)).all()
    cents = np.array([np.argwhere(m).mean(axis=0) for m in masks])
    assert np.hypot(*(cents[-1] - cents[0])) > 5  # the camera pans: it moves in the frame
    iou = [(a & b).sum() / (a | b).sum() for a, b in zip(masks[:-1], masks[1:])]
    assert min(iou) > 0.6  # ... smoothly, from frame to frame


def test_polyps_vary_in_number_and_size():
    counts, areas, colours = [], [], []
    for frame, mask in iter_polyp_frames(30, seed=5, stills=True):
        labels, n = lesion_labels(mask)
        counts.append(n)
        for k in range(1, n + 1):
            areas.append((labels == k).sum())
            colours.append(frame[labels == k].mean(axis=0))
    assert {0, 1, 2} <= set(counts)
    assert max(areas) > 5 * min(areas)
    colours = np.array(colours)
    assert np.ptp(colours[:, 1] / colours[:, 0]) > 0.1  # green/red: paler and redder polyps


def test_write_polyp_video_gives_the_rendered_masks(tmp_path):
    events = []
    synth = drain(write_polyp_video(tmp_path / "p.mp4", 8, seed=1), events.append)
    frames, masks = render_polyp_video(8, seed=1)
    assert np.array_equal(synth.masks, masks)
    assert sum(isinstance(e, Progress) for e in events) == 9
    cap = cv2.VideoCapture(synth.path)
    decoded = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        decoded.append(cv2.cvtColor(f, cv2.COLOR_BGR2RGB))
    cap.release()
    assert len(decoded) == 8
    assert np.abs(np.array(decoded, np.int16) - frames).mean() < 6  # lossy codec only


def test_write_polyp_video_removes_a_partial_file(tmp_path):
    gen = write_polyp_video(tmp_path / "p.avi", 20, seed=1)
    next(gen)
    next(gen)
    gen.close()
    assert not list(tmp_path.iterdir())


def test_write_polyp_image_set(tmp_path):
    stems = drain(write_polyp_image_set(tmp_path / "set", 4, seed=2))
    assert stems == ["0000", "0001", "0002", "0003"]
    stills = list(iter_polyp_frames(4, seed=2, stills=True,
                                    spec=PolypVideoSpec(count_probs=(0.0, 0.7, 0.3))))
    for stem, (frame, mask) in zip(stems, stills):
        img = cv2.cvtColor(cv2.imread(str(tmp_path / "set" / "images" / f"{stem}.png")),
                           cv2.COLOR_BGR2RGB)
        m = cv2.imread(str(tmp_path / "set" / "masks" / f"{stem}.png"), cv2.IMREAD_UNCHANGED)
        assert np.array_equal(img, frame)
        assert m.ndim == 2 and set(np.unique(m)) <= {0, 255}
        assert np.array_equal(m == 255, mask) and mask.any()  # every still has a polyp


@pytest.mark.parametrize("bad", [
    {"fps": 0}, {"segment": (5, 2)}, {"count_probs": (0.5, 0.6, 0.0)},
    {"count_probs": (1.0, 0.0)}, {"radius": (2.0, 10.0)}, {"occlusion": 1.5},
    {"speed": (5.0, 1.0)},
])
def test_spec_rejects_bad_values(bad):
    with pytest.raises(ValueError):
        PolypVideoSpec(**bad)


def test_bad_arguments():
    with pytest.raises(ValueError):
        render_polyp_video(0)
    with pytest.raises(ValueError):
        render_polyp_video(2, size=(40, 384))
