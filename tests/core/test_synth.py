"""Tests for the synthetic colonoscopy video generator (core.synth)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from scipy.stats import mannwhitneyu

from core.events import Progress, drain
from core.synth import ARTEFACTS, FRAME_SIZE, SynthVideo, make_video, render_frame

SMALL = (140, 200)  # (rows, cols) for tests that do not depend on the frame's content


def _auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """ROC AUC of ``scores`` for ``labels`` (1 positive) via the Mann-Whitney U statistic."""
    scores, labels = np.asarray(scores, float), np.asarray(labels)
    pos, neg = scores[labels == 1], scores[labels == 0]
    return float(mannwhitneyu(pos, neg).statistic / (pos.size * neg.size))


def _run(gen):
    """(list of yielded events, returned value) of a core generator."""
    events = []
    return events, drain(gen, events.append)


def _read_all(path: str) -> list[np.ndarray]:
    cap = cv2.VideoCapture(path)
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames


def _fine_detail(frame: np.ndarray) -> float:
    """Fine-detail coverage of a frame's centre: a texture feature.

    High-pass energy (grey minus its Gaussian blur) in a 12x12 grid of blocks over a
    centred square crop, each block normalised by its squared mean brightness; the 25th
    percentile over blocks asks for detail across the view, not at a few bright edges
    (bubble rims, glints).
    """
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)
    rows, cols = grey.shape
    n = 12
    k = int(0.65 * rows) // n * n
    r0, c0 = (rows - k) // 2, (cols - k) // 2
    crop = grey[r0 : r0 + k, c0 : c0 + k]
    high = crop - cv2.GaussianBlur(crop, (0, 0), 1.5 * cols / 500)
    b = k // n
    energy = (high**2).reshape(n, b, n, b).mean(axis=(1, 3))
    mean = crop.reshape(n, b, n, b).mean(axis=(1, 3))
    return float(np.quantile(energy / (mean**2 + 25.0), 0.25))


@pytest.fixture(scope="module")
def balanced_frames() -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """48 informative and 48 non-informative frames (12 per artefact) at the task size.

    Returns (mean RGB per frame (96, 3), labels (96,), frames).
    """
    rng = np.random.default_rng(2016)
    kinds = [(True, "none")] * len(ARTEFACTS) + [(False, a) for a in ARTEFACTS]
    frames, labels = [], []
    for _ in range(12):
        for informative, artefact in kinds:
            frames.append(render_frame(informative, artefact, rng))
            labels.append(int(informative))
    means = np.array([f.reshape(-1, 3).mean(axis=0) for f in frames])
    return means, np.array(labels), frames


@pytest.mark.parametrize(
    ("informative", "artefact"), [(True, "none")] + [(False, a) for a in ARTEFACTS]
)
def test_render_frame_shape_dtype_and_endoscope_mask(informative: bool, artefact: str) -> None:
    frame = render_frame(informative, artefact, np.random.default_rng(1))
    assert frame.shape == (*FRAME_SIZE, 3)
    assert frame.dtype == np.uint8
    # Black corners from the circular endoscope mask, a lit scene inside it.
    for r, c in ((0, 0), (0, -1), (-1, 0), (-1, -1)):
        assert frame[r, c].max() == 0
    centre = frame[FRAME_SIZE[0] // 2 - 40 : FRAME_SIZE[0] // 2 + 40, 200:300]
    assert centre.mean() > 10


def test_render_frame_other_size() -> None:
    frame = render_frame(False, "bubbles", np.random.default_rng(0), size=SMALL)
    assert frame.shape == (*SMALL, 3)
    assert frame.dtype == np.uint8


def test_render_frame_repeatable_with_seed() -> None:
    a = render_frame(True, "none", np.random.default_rng(7), t=0.2)
    b = render_frame(True, "none", np.random.default_rng(7), t=0.2)
    c = render_frame(True, "none", np.random.default_rng(8), t=0.2)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_camera_moves_slowly_within_a_scene() -> None:
    # The same generator state is the same scene; t moves the camera.
    f0, f1, f_far = (
        render_frame(True, "none", np.random.default_rng(3), t=t) for t in (0, 0.04, 2.0)
    )
    other = render_frame(True, "none", np.random.default_rng(4))
    step = np.abs(f0.astype(int) - f1).mean()
    assert 0 < step < 0.5 * np.abs(f0.astype(int) - f_far).mean()
    assert step < 0.5 * np.abs(f0.astype(int) - other).mean()


@pytest.mark.parametrize(
    ("informative", "artefact"),
    [(True, "bubbles"), (False, "none"), (False, "blur"), (True, "")],
)
def test_render_frame_rejects_inconsistent_kind(informative: bool, artefact: str) -> None:
    with pytest.raises(ValueError, match="artefact"):
        render_frame(informative, artefact, np.random.default_rng(0), size=SMALL)


def test_render_frame_rejects_tiny_size() -> None:
    with pytest.raises(ValueError, match="size"):
        render_frame(True, "none", np.random.default_rng(0), size=(16, 500))


def test_make_video_writes_readable_video(tmp_path: Path) -> None:
    n = 60
    events, video = _run(
        make_video(tmp_path / "demo.mp4", n, np.random.default_rng(5), size=SMALL, segment=(4, 8))
    )
    assert isinstance(video, SynthVideo)
    assert Path(video.path).exists() and Path(video.path).suffix in (".mp4", ".avi")
    # Labels and artefacts agree frame by frame.
    assert video.labels.shape == (n,) and video.labels.dtype == np.int8
    assert len(video.artefacts) == n
    for label, artefact in zip(video.labels, video.artefacts, strict=True):
        assert (label == 1) == (artefact == "none")
        assert artefact == "none" or artefact in ARTEFACTS
    assert 0 < video.labels.sum() < n  # both classes in 60 frames of runs of 4-8
    # Runs: every maximal run of one artefact is at least the minimum segment long
    # (only the last may be cut short by n_frames).
    change = np.flatnonzero(np.array(video.artefacts[1:]) != np.array(video.artefacts[:-1]))
    bounds = np.concatenate([[0], change + 1, [n]])
    assert all(length >= 4 for length in np.diff(bounds)[:-1])
    # Progress counts frames up to n.
    assert all(isinstance(e, Progress) and e.total == n for e in events)
    assert [e.done for e in events] == list(range(n + 1))
    # The file decodes to the right number of frames of the right size.
    frames = _read_all(video.path)
    assert len(frames) == n
    assert frames[0].shape == (*SMALL, 3)
    # Adjacent frames of a run are far more alike than frames across a change of kind.
    diffs = np.array([np.abs(frames[i].astype(int) - frames[i + 1]).mean() for i in range(n - 1)])
    within = np.setdiff1d(np.arange(n - 1), change)
    assert np.median(diffs[within]) < 0.5 * np.median(diffs[change])


def test_make_video_repeatable_and_avi(tmp_path: Path) -> None:
    _, a = _run(make_video(tmp_path / "a.avi", 12, np.random.default_rng(9), size=SMALL))
    _, b = _run(make_video(tmp_path / "b.avi", 12, np.random.default_rng(9), size=SMALL))
    assert a.path.endswith(".avi") and b.path.endswith(".avi")
    np.testing.assert_array_equal(a.labels, b.labels)
    assert a.artefacts == b.artefacts
    assert len(_read_all(a.path)) == 12


def test_make_video_closed_early_removes_partial_file(tmp_path: Path) -> None:
    gen = make_video(tmp_path / "cut.mp4", 50, np.random.default_rng(0), size=SMALL)
    for _ in range(5):
        next(gen)
    assert any(tmp_path.iterdir())
    gen.close()
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_frames": 0},
        {"informative_fraction": 1.5},
        {"segment": (5, 2)},
        {"segment": (0, 3)},
        {"fps": 0.0},
        {"size": (20, 20)},
    ],
)
def test_make_video_rejects_bad_arguments(tmp_path: Path, kwargs: dict) -> None:
    args = {"n_frames": 10, **kwargs}
    n_frames = args.pop("n_frames")
    with pytest.raises(ValueError):
        next(make_video(tmp_path / "x.mp4", n_frames, np.random.default_rng(0), **args))
    assert not any(tmp_path.iterdir())


def test_informative_fraction_extremes(tmp_path: Path) -> None:
    _, all_good = _run(
        make_video(
            tmp_path / "g.mp4", 10, np.random.default_rng(0), size=SMALL, informative_fraction=1
        )
    )
    _, all_bad = _run(
        make_video(
            tmp_path / "b.mp4", 10, np.random.default_rng(0), size=SMALL, informative_fraction=0
        )
    )
    assert all_good.labels.tolist() == [1] * 10
    assert all_bad.labels.tolist() == [0] * 10


def test_informative_fraction_is_kept_over_a_long_video(tmp_path: Path) -> None:
    _, video = _run(
        make_video(
            tmp_path / "f.mp4",
            240,
            np.random.default_rng(1),
            size=(70, 100),
            informative_fraction=0.3,
        )
    )
    assert abs(video.labels.mean() - 0.3) < 0.08


def test_mean_colour_does_not_separate_classes(balanced_frames) -> None:
    means, labels, _ = balanced_frames
    # Best single channel, in whichever direction suits it.
    for c in range(3):
        auc = _auc(means[:, c], labels)
        assert max(auc, 1 - auc) < 0.75, f"channel {c}: AUC {auc:.3f}"
    # Fisher LDA on the 3 mean channels, fit on half the frames, scored on the other half.
    train = np.arange(labels.size) % 2 == 0
    test = ~train
    x1, x0 = means[train & (labels == 1)], means[train & (labels == 0)]
    within = np.cov(x1, rowvar=False) + np.cov(x0, rowvar=False)
    w = np.linalg.solve(within, x1.mean(axis=0) - x0.mean(axis=0))
    auc = _auc(means[test] @ w, labels[test])
    assert auc < 0.75, f"LDA on mean RGB: held-out AUC {auc:.3f}"


def test_texture_separates_classes(balanced_frames) -> None:
    _, labels, frames = balanced_frames
    auc = _auc(np.array([_fine_detail(f) for f in frames]), labels)
    assert auc > 0.85, f"fine-detail feature: AUC {auc:.3f}"


def test_ambiguous_frames_are_harder_but_still_informative() -> None:
    """The demo's borderline scenes (item 33): the texture cue that separates clear frames
    (AUC > 0.85 above) separates ambiguous ones much less, yet better than chance."""
    rng = np.random.default_rng(2016)
    kinds = [(True, "none")] * len(ARTEFACTS) + [(False, a) for a in ARTEFACTS]
    detail, labels = [], []
    for _ in range(8):
        for informative, artefact in kinds:
            frame = render_frame(informative, artefact, rng, ambiguous=True)
            detail.append(_fine_detail(frame))
            labels.append(int(informative))
    auc = _auc(np.array(detail), np.array(labels))
    assert 0.55 < auc < 0.8, f"fine-detail feature on ambiguous frames: AUC {auc:.3f}"


def test_make_video_marks_ambiguous_segments(tmp_path: Path) -> None:
    plain = drain(make_video(tmp_path / "a.avi", 60, np.random.default_rng(3), size=SMALL))
    same = drain(make_video(tmp_path / "b.avi", 60, np.random.default_rng(3), size=SMALL,
                            ambiguous_fraction=0.0))
    assert not plain.ambiguous.any() and np.array_equal(plain.labels, same.labels)
    assert all(np.array_equal(x, y) for x, y in zip(_read_all(plain.path), _read_all(same.path)))
    hard = drain(make_video(tmp_path / "c.avi", 200, np.random.default_rng(3), size=SMALL,
                            ambiguous_fraction=0.5))
    assert hard.ambiguous.dtype == bool and hard.ambiguous.shape == (200,)
    assert 0.25 < hard.ambiguous.mean() < 0.75
    # whole segments (4..12 frames) are ambiguous, not single frames
    flips = np.flatnonzero(np.diff(hard.ambiguous.astype(int)))
    assert len(flips) > 0 and np.diff(flips).min() >= 4
    with pytest.raises(ValueError, match="ambiguous_fraction"):
        drain(make_video(tmp_path / "d.avi", 5, np.random.default_rng(0), ambiguous_fraction=2))
