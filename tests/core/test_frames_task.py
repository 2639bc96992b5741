"""The frame-quality task: the frame trained on is exactly the decoded frame; crops; groups."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from core.events import drain
from core.io.importer import import_study, open_study
from core.store import Project
from core.synth import make_video
from core.tasks import get_task, label_values, task_names
from core.tasks.frame_quality import (
    CLASS_NAMES,
    FRAME_SIZE,
    FrameQualityTask,
    FrameTaskConfig,
    load_frames,
)


@pytest.fixture
def project(tmp_path):
    p = Project.create(tmp_path / "proj")
    rng = np.random.default_rng(0)
    for v in range(3):
        synth = drain(make_video(tmp_path / f"v{v}.mp4", 20, rng))
        study = drain(import_study(p, synth.path))
        p.set_labels([(study.id, f, "informative" if synth.labels[f] else "non-informative")
                      for f in range(0, 20, 2)], user="test")
    yield p
    p.close()


def sequential_frames(path):
    cap = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, f = cap.read()
        if not ok:
            return out
        out.append(cv2.cvtColor(f, cv2.COLOR_BGR2RGB))


def test_trained_frame_is_the_sequentially_decoded_frame(project):
    study = project.studies()[1]
    seq = sequential_frames(study.path)
    assert len(seq) == study.n_frames == 20
    frames = [17, 3, 11, 0]
    got = drain(load_frames(study, frames, project))
    assert got.shape == (4, *FRAME_SIZE, 3)
    for k, f in enumerate(frames):
        assert np.array_equal(got[k], seq[f])  # synthetic videos are already 350 x 500
    with open_study(project, study) as src:  # what the viewer shows
        assert np.array_equal(src.read(11), seq[11])


def test_training_data_crops_labels_and_video_groups(project):
    task = FrameQualityTask(FrameTaskConfig(crops_per_frame=5))
    data = drain(task.training_data(project, np.random.default_rng(1)))
    ds = data.dataset
    assert len(data.keys) == 30 and len(ds) == 150
    assert set(np.unique(ds.groups)) == {s.id for s in project.studies()}
    # every crop of a frame carries that frame's label and item
    for item in (0, 7, 29):
        sel = ds.items == item
        assert sel.sum() == 5
        assert set(ds.labels[sel]) == {data.item_labels[item]}
        key = data.keys[item]
        assert project.label(key.study_id, key.index).value == (
            "informative" if data.item_labels[item] == 1 else "non-informative")
    b = ds.batch(np.arange(6))
    assert b.shape == (6, 227, 227, 3) and b.dtype == np.uint8


def test_one_video_falls_back_to_segments(tmp_path):
    with Project.create(tmp_path / "one") as p:
        synth = drain(make_video(tmp_path / "only.mp4", 30, np.random.default_rng(2)))
        study = drain(import_study(p, synth.path))
        p.set_labels([(study.id, f, "informative" if synth.labels[f] else "non-informative")
                      for f in range(30)])
        gen = FrameQualityTask(FrameTaskConfig(crops_per_frame=1)).training_data(
            p, np.random.default_rng(0))
        notices = []
        try:
            while True:
                ev = next(gen)
                if hasattr(ev, "level"):
                    notices.append(ev.message)
        except StopIteration as stop:
            data = stop.value
        assert any("one training video" in n.lower() for n in notices)
        assert len(np.unique(data.dataset.groups)) == 5


def test_preview_includes_labelled_frames(project):
    task = FrameQualityTask(FrameTaskConfig(preview_crops=2, preview_max_frames=4))
    study = project.studies()[0]
    ds = drain(task.preview_data(study, np.random.default_rng(0), [7, 13], project))
    items = set(np.unique(ds.items).tolist())
    assert {7, 13} <= items and 0 in items
    assert len(ds) == 2 * len(items)


def test_no_labels_is_a_clear_error(tmp_path):
    with Project.create(tmp_path / "empty") as p:
        with pytest.raises(ValueError, match="no labelled frames"):
            drain(FrameQualityTask().training_data(p, np.random.default_rng(0)))


def test_items_carry_labels_and_subjects(project):
    task = get_task("frame_quality")
    studies = project.studies()
    items = task.items(project, studies)
    assert len(items) == 30 and items.kind == "frame"
    assert np.array_equal(items.groups, np.repeat([s.subject_id for s in studies], 10))
    for s in studies:
        mine = items.study_ids == s.id
        assert np.array_equal(items.indices[mine], np.arange(0, 20, 2))
        for f, y in zip(items.indices[mine], items.labels[mine]):
            assert task.class_names[y] == project.label(s.id, int(f)).value


def test_patches_are_fixed_per_index(project):
    task = get_task("frame_quality", crops_per_frame=3, test_crops=5)
    items = task.labelled_items(project, "train")
    a = drain(task.dataset(project, items, np.random.default_rng(4), split="train"))
    b = drain(task.dataset(project, items, np.random.default_rng(4), split="test"))
    assert len(a) == 3 * len(items) and len(b) == 5 * len(items)
    assert np.array_equal(a.items, np.repeat(np.arange(len(items)), 3))
    assert np.array_equal(a.groups, items.groups[a.items])
    idx = np.array([7, 0, 7, 40])
    assert np.array_equal(a.batch(idx), a.batch(idx))  # rendered twice: the same pixels
    assert np.array_equal(a.subset(idx).batch(np.arange(4)), a.batch(idx))
    specs = a.specs
    r, c = specs.offsets[40]
    frame = a.images[specs.source[40]]
    assert np.array_equal(a.batch([40])[0], frame[r:r + 227, c:c + 227])


def test_preview_items_mark_unlabelled_frames(project):
    task = get_task("frame_quality", preview_max_frames=7)  # frames 0, 3, 6...
    study = project.studies()[0]
    items = task.preview_items(project, study)
    assert set(range(0, 20, 2)) <= set(items.indices.tolist())  # every labelled frame
    unlabelled = items.labels == -1
    assert unlabelled.any() and np.all(items.indices[unlabelled] % 2 == 1)


def test_evaluate_merges_positive_classes_into_a_roc(project):
    task = get_task("frame_quality")
    items = task.labelled_items(project, "train")
    probs = np.stack([1 - items.labels, items.labels], axis=1).astype(float)
    res = task.evaluate(items, probs)
    assert res.auc == 1.0 and res.n_pos == int(items.labels.sum())
    # the subjects (3 videos) are passed: the bootstrap CIs resample whole videos
    assert res.n_groups == 3 and res.grouped and len(res.band_fpr) == 51
    from core.stats import verdict

    assert any("width 0" in line for line in verdict(res, res.n_groups))  # perfect: degenerate
    with pytest.raises(ValueError, match="probs must be"):
        task.evaluate(items, probs[:, :1])


def test_registry_names_aliases_and_options():
    assert "frame_quality" in task_names() and "frames" not in task_names()
    task = get_task("frames", config=FrameTaskConfig(crops_per_frame=7))
    assert isinstance(task, FrameQualityTask) and task.name == "frame_quality"
    assert task.title == "Frame quality" and task.positive == (1,)
    again = get_task(task.name, **task.options)
    assert again.config == task.config
    assert label_values("frames") == label_values("frame_quality") == CLASS_NAMES
    assert label_values("no such task") is None
    with pytest.raises(ValueError, match="unknown task"):
        get_task("polyp_tennis")


def test_evaluation_averages_a_frames_crops(tmp_path):
    """A frame whose crops are all the same patch gets exactly that patch's probability;
    a textured frame gets the mean of its crops' softmax probabilities (not the softmax of
    their mean logits, not one crop's)."""
    import torch
    import torch.nn.functional as F

    from core.train.model import build_alexnet, initialise
    from core.train.predict import predict, to_input

    folder = tmp_path / "frames"
    folder.mkdir()
    rng = np.random.default_rng(0)
    flat = np.zeros((*FRAME_SIZE, 3), np.uint8)
    flat[:] = (180, 60, 40)
    noisy = cv2.GaussianBlur(rng.integers(0, 256, (*FRAME_SIZE, 3), dtype=np.uint8), (0, 0), 3)
    for k, img in enumerate([flat, noisy]):
        cv2.imwrite(str(folder / f"frame-{k:03d}.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    with Project.create(tmp_path / "proj") as p:
        study = drain(import_study(p, folder, split="test"))
        p.set_labels([(study.id, 0, "informative"), (study.id, 1, "non-informative")],
                     user="test")
        task = FrameQualityTask(FrameTaskConfig(test_crops=6))
        items = task.labelled_items(p, "test")
        ds = drain(task.dataset(p, items, np.random.default_rng(1), split="test"))
    model = build_alexnet(2)
    initialise(model, "msra", generator=torch.Generator().manual_seed(0))
    # a non-trivial classifier output: shift fc8 so the classes differ on these patches
    with torch.no_grad():
        model.classifier[6].bias.copy_(torch.tensor([0.3, -0.2]))
    pos, probs = drain(predict(model, ds, device="cpu", precision="fp32"))
    assert pos.tolist() == [0, 1] and len(ds) == 12
    model.eval()
    with torch.no_grad():
        one = F.softmax(model(to_input(flat[None, :227, :227], torch.device("cpu"))), 1)
        crops = ds.batch(np.flatnonzero(ds.items == 1))
        logits = model(to_input(crops, torch.device("cpu")))
    assert len({c.tobytes() for c in ds.batch(np.flatnonzero(ds.items == 0))}) == 1
    np.testing.assert_allclose(probs[0], one[0].numpy(), atol=1e-6)
    per_crop = F.softmax(logits, 1).numpy()
    assert len({round(float(v), 6) for v in per_crop[:, 1]}) > 1  # the crops do differ
    np.testing.assert_allclose(probs[1], per_crop.mean(axis=0), atol=1e-6)
    gap = np.abs(per_crop.mean(axis=0) - F.softmax(logits.mean(0), 0).numpy()).max()
    assert gap > 1e-5  # so the check above tells the two apart
