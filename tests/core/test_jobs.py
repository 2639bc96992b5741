"""Training and evaluation jobs: a run is reproducible from its row; predictions are N x C.

One tiny scratch run (3 training videos of 12 frames, 1 test video of 16, one crop per
frame, one epoch on the CPU in fp32) is trained once for the module and examined by
each test.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from core.events import Scored, SnapshotSaved, drain
from core.io.importer import import_study
from core.jobs import RunStarted, data_rng, evaluate_run, score_study, train_run
from core.jobs.records import split_positions
from core.store import Project
from core.synth import make_video
from core.tasks import get_task
from core.train.checkpoint import load_snapshot
from core.train.engine import TrainConfig
from core.train.model import build_alexnet
from core.train.predict import predict

OPTIONS = {"crops_per_frame": 1, "test_crops": 2}
CONFIG = TrainConfig(depth="scratch", init="gaussian", epochs=1, batch_size=8, seed=3,
                     device="cpu", precision="fp32")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(project folder, run id, events of train_run, test result of evaluate_run)."""
    tmp = tmp_path_factory.mktemp("jobs")
    rng = np.random.default_rng(0)
    with Project.create(tmp / "proj") as p:
        for v, (n, split) in enumerate([(12, "train")] * 3 + [(16, "test")]):
            synth = drain(make_video(tmp / f"v{v}.mp4", n, rng))
            st = drain(import_study(p, synth.path, split=split))
            p.set_labels([(st.id, f, "informative" if synth.labels[f] else "non-informative")
                          for f in range(n)], user="test")
        preview = p.studies()[0].id
        events: list = []
        out = drain(train_run(p, CONFIG, task="frames", task_options=OPTIONS,
                              preview_study=preview), events.append)
        res = drain(evaluate_run(p, out.run_id))
    return tmp / "proj", out.run_id, events, res


def rebuild_test(folder, run_id):
    """Everything from the run's row alone: (items, probs (N, C), result)."""
    with Project.open(folder) as p:
        run = p.run(run_id)
        t = get_task(run.task, **run.task_options)
        items = t.labelled_items(p, "test", run.split["test"])
        ds = drain(t.dataset(p, items, data_rng(run.seed, "test"), split="test"))
        sd, meta = load_snapshot(p.folder / run.best_snapshot)
    model = build_alexnet(len(t.class_names))
    model.load_state_dict(sd)
    pos, probs = drain(predict(model, ds, depth=run.depth, device=run.device,
                               precision=run.precision))
    items = items.subset(pos)
    return items, probs, t.evaluate(items, probs, rng=np.random.default_rng(run.seed))


def test_run_row_records_how_to_reproduce_it(trained):
    folder, run_id, _, _ = trained
    with Project.open(folder) as p:
        run = p.run(run_id)
        studies = {s.id: s for s in p.studies()}
    assert run.task == "frame_quality" and run.status == "finished"  # "frames" is an alias
    assert (run.seed, run.precision, run.device) == (3, "fp32", "cpu")
    assert run.arch == "alexnet-torchvision"
    assert {"torch", "torchvision", "numpy", "layertune"} <= set(run.versions)
    assert run.weights_source == "none (scratch)" and run.weights_sha256 is None
    assert run.task_options["crops_per_frame"] == 1 and run.task_options["test_crops"] == 2
    split = run.split
    assert split["unit"] == "subject" and split["train"] and split["val"]
    assert not set(split["train"]) & set(split["val"])
    train_subjects = {s.subject_id for s in studies.values() if s.split == "train"}
    assert set(split["train"]) | set(split["val"]) == train_subjects
    assert split["test"] == [s.id for s in studies.values() if s.split == "test"]
    assert re.fullmatch(r"snapshots/run-\d{4}/epoch-001-it-\d{6}\.pt", run.best_snapshot)


def test_stored_settings_reproduce_test_auc_bit_for_bit(trained):
    folder, run_id, _, res = trained
    items, probs, res2 = rebuild_test(folder, run_id)
    assert res2.auc == res.auc and 0.0 < res.auc < 1.0
    assert res2.to_dict() == res.to_dict()
    with Project.open(folder) as p:
        stored = p.predictions(run_id, split="test")
        assert p.run(run_id).metrics["test"] == res.to_dict()
    assert len(stored) == 1 and stored[0].item_kind == "frame"
    assert np.array_equal(stored[0].items, items.indices)
    assert np.array_equal(stored[0].probs, probs.astype(np.float32))
    assert len(np.unique(probs[:, 1])) > 1  # not a constant model: the check means something
    # a second evaluation in a fresh call gives the same numbers again
    with Project.open(folder) as p:
        again = drain(evaluate_run(p, run_id))
        assert np.array_equal(p.predictions(run_id, split="test")[0].probs, stored[0].probs)
    assert again.to_dict() == res.to_dict()


def test_predictions_are_n_by_c_and_val_ones_come_from_the_best_snapshot(trained):
    folder, run_id, events, _ = trained
    with Project.open(folder) as p:
        run = p.run(run_id)
        best = [s for s in p.snapshots(run_id) if s.path == run.best_snapshot]
        val = p.predictions(run_id, split="val")
        preview = p.predictions(run_id, split="preview")
        t = get_task(run.task, **run.task_options)
        items = t.labelled_items(p, "train")
        ds = drain(t.dataset(p, items, data_rng(run.seed, "train"), split="train"))
        sd, _ = load_snapshot(p.folder / run.best_snapshot)
        n_frames = p.study(preview[0].study_id).n_frames
    assert len(best) == 1 and val and preview
    for pred in val + preview:
        assert pred.probs.dtype == np.float32 and pred.probs.shape == (len(pred.items), 2)
        assert np.allclose(pred.probs.sum(axis=1), 1.0, atol=1e-6)
        assert pred.snapshot_id == best[0].id and pred.model_version.startswith(f"run {run_id}")
    # the validation predictions are the subjects of the recorded validation split, and
    # the scoring function of evaluation gives the engine's numbers exactly
    _, val_pos = split_positions(items, run.split)
    val_items = items.subset(val_pos)
    got = {(v.study_id, int(f)): row for v in val for f, row in zip(v.items, v.probs)}
    assert sorted(got) == sorted(zip(val_items.study_ids.tolist(), val_items.indices.tolist()))
    model = build_alexnet(2)
    model.load_state_dict(sd)
    val_ds = ds.subset(np.flatnonzero(np.isin(ds.items, val_pos)))
    pos, probs = drain(predict(model, val_ds, depth=run.depth, device="cpu", precision="fp32"))
    for k, i in enumerate(pos):
        assert np.array_equal(got[(int(items.study_ids[i]), int(items.indices[i]))],
                              probs[k].astype(np.float32))
    # the workspace gets frame numbers and N x C probabilities of the preview study
    scored = [e for e in events if isinstance(e, Scored)]
    assert scored and scored[-1].name == "strip"
    assert np.array_equal(scored[-1].items, preview[0].items)
    assert scored[-1].probs.shape == (len(preview[0].items), 2)
    assert np.allclose(scored[-1].positive_probs, scored[-1].probs[:, 1])
    assert set(preview[0].items.tolist()) == set(range(n_frames))
    assert any(isinstance(e, RunStarted) for e in events)
    assert any(isinstance(e, SnapshotSaved) for e in events)


def test_the_model_writes_no_labels(trained):
    folder, run_id, _, _ = trained
    with Project.open(folder) as p:
        for s in p.studies():
            for f in range(s.n_frames):
                assert all(ev.source == "expert" for ev in p.label_history(s.id, f))
        expert = p.labels(source="expert")
        assert len(expert) == 3 * 12 + 16


def test_score_study_stores_preview_predictions(trained):
    folder, run_id, _, _ = trained
    with Project.open(folder) as p:
        study = [s for s in p.studies() if s.split == "test"][0]
        ids, probs = drain(score_study(p, run_id, study.id))
        stored = p.predictions(run_id, split="preview", study_id=study.id)
    assert np.array_equal(ids, np.arange(study.n_frames)) and probs.shape == (len(ids), 2)
    assert len(stored) == 1 and np.array_equal(stored[0].probs, probs.astype(np.float32))


def test_evaluation_leaves_out_a_test_study_of_a_trained_subject(trained, tmp_path):
    import shutil

    folder, run_id, _, _ = trained
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    with Project.open(copy) as p:
        moved = next(s for s in p.studies() if s.split == "train")
        p.set_split(moved.id, "test")
        events: list = []
        drain(evaluate_run(p, run_id), events.append)
        tested = {pr.study_id for pr in p.predictions(run_id, split="test")}
        run = p.run(run_id)
    assert moved.id not in tested and moved.id not in run.split["test"]
    assert any(moved.name in getattr(e, "message", "") for e in events)


def test_threshold_is_youden_j_on_the_best_snapshots_validation_predictions(trained):
    from core.stats import youden_j, youden_threshold

    folder, run_id, _, _ = trained
    with Project.open(folder) as p:
        run = p.run(run_id)
        val = p.predictions(run_id, split="val")
        labels = {(s.id, lab.frame): lab.value for s in p.studies() for lab in p.labels(s.id)}
    thr = run.metrics["threshold"]
    assert thr["rule"] == "youden_j_validation"
    assert all(v.snapshot_id == val[0].snapshot_id for v in val)  # one (the best) snapshot
    scores = np.concatenate([v.probs[:, 1] for v in val]).astype(np.float64)
    y = np.array([labels[(v.study_id, int(f))] == "informative" for v in val for f in v.items])
    assert thr["n_val"] == len(y) and 0 < y.sum() < len(y)
    # stored probabilities are float32; the threshold was chosen on the float64 ones
    assert thr["value"] == pytest.approx(youden_threshold(scores, y), abs=1e-6)
    assert thr["j"] == pytest.approx(youden_j(scores, y), abs=1e-6)
    call = scores >= thr["value"]
    if thr["j"] > 0:  # the threshold reaches the J it reports
        assert call[y].mean() - call[~y].mean() == pytest.approx(thr["j"], abs=1e-6)
    else:  # this one-epoch model does not separate the validation frames: the median
        assert thr["value"] == pytest.approx(np.median(scores), abs=1e-6)


@pytest.fixture(scope="module")
def four_videos(tmp_path_factory):
    """A project of 4 training videos (15 labelled frames each, 25 fps) and 1 test video."""
    tmp = tmp_path_factory.mktemp("fractions")
    rng = np.random.default_rng(1)
    with Project.create(tmp / "proj") as p:
        for v, split in enumerate(["train"] * 4 + ["test"]):
            synth = drain(make_video(tmp / f"v{v}.mp4", 15, rng, size=(70, 100)))
            st = drain(import_study(p, synth.path, split=split))
            p.set_labels([(st.id, f, "informative" if synth.labels[f] else "non-informative")
                          for f in range(15)], user="test")
    return tmp / "proj"


def _train(folder, **kw):
    cfg = TrainConfig(depth="scratch", init="gaussian", epochs=1, batch_size=8, seed=5,
                      device="cpu", precision="fp32", max_iterations=1)
    events: list = []
    with Project.open(folder) as p:
        out = drain(train_run(p, cfg, task_options={"crops_per_frame": 1, "test_crops": 1},
                              **kw), events.append)
        run = p.run(out.run_id)
    return run, [e.message for e in events if hasattr(e, "level")]


def test_reduced_data_at_paper_scale_keeps_validation_fixed(four_videos):
    """--fraction 0.25 / 0.1 / 0.01 with 4 training videos: reduced within the videos,
    the validation video the same as without reduction, the Notice says what was kept."""
    full, _ = _train(four_videos)
    assert full.status == "finished" and "reduced" not in full.split
    n_train = full.split["n_train_items"]
    assert len(full.split["val"]) == 1 and n_train == 45  # 3 of 4 videos train
    for fraction in (0.25, 0.1, 0.01):
        run, notices = _train(four_videos, fraction=fraction)
        split = run.split
        assert run.status == "finished"
        assert (split["val"], split["n_val_items"]) == (full.split["val"],
                                                         full.split["n_val_items"])
        red = split["reduced"]
        assert red["level"] == "item" and red["of_items"] == n_train
        assert split["n_train_items"] == red["kept_items"] == max(2, round(fraction * n_train))
        assert len(split["train_items"]) == red["kept_items"]
        note = next(m for m in notices if m.startswith("reduced training data"))
        assert f"{red['kept_items']} of {n_train} labelled frames" in note
        assert "validation unchanged (1 video, 15 frames)" in note
        with Project.open(four_videos) as p:
            t = get_task(run.task, **run.task_options)
            train_pos, val_pos = split_positions(t.labelled_items(p, "train"), split)
        assert len(train_pos) == red["kept_items"] and len(val_pos) == 15
        assert run.config["n_items"] == red["kept_items"] + 15  # nothing else was decoded


def test_sample_interval_trains_on_one_frame_per_interval(four_videos):
    """The paper's 1 frame every 5 s, here every 0.2 s at 25 fps: frames 0, 5 and 10."""
    cfg = TrainConfig(depth="scratch", init="gaussian", epochs=1, batch_size=8, seed=5,
                      device="cpu", precision="fp32", max_iterations=1)
    with Project.open(four_videos) as p:
        assert {s.fps for s in p.studies()} == {25.0}
        out = drain(train_run(p, cfg, task_options={"crops_per_frame": 1, "test_crops": 1,
                                                    "sample_interval_s": 0.2}))
        run = p.run(out.run_id)
        val = p.predictions(run.id, split="val")
        t = get_task(run.task, **run.task_options)
        assert sorted(set(t.labelled_items(p, "train").indices.tolist())) == [0, 5, 10]
        assert len(t.labelled_items(p, "test")) == 15  # test frames are not sampled
    assert run.task_options["sample_interval_s"] == 0.2
    assert run.split["n_train_items"] + run.split["n_val_items"] == 4 * 3
    assert sorted({int(f) for v in val for f in v.items}) == [0, 5, 10]


@pytest.mark.slow
def test_training_learns(tmp_path):
    """Seeded, small: 4 videos of 30 frames, fc8 tuned on a fixed random trunk (no
    ImageNet weights offline) for 5 epochs. The validation AUC rises from chance to above
    0.8, which these synthetic frames allow (measured 0.52 after the first epoch, 0.89
    after the fifth); shuffled labels, a wrong sign or a layer that never updates fail.
    The threshold chosen on it separates the validation frames (Youden's J well above 0)."""
    import torch
    import torchvision

    from core.events import Validated

    torch.manual_seed(0)
    weights = tmp_path / "random-trunk.pth"
    torch.save(torchvision.models.alexnet(weights=None).state_dict(), weights)
    rng = np.random.default_rng(0)
    events: list = []
    with Project.create(tmp_path / "proj") as p:
        for v in range(4):
            synth = drain(make_video(tmp_path / f"v{v}.mp4", 30, rng))
            st = drain(import_study(p, synth.path, split="train"))
            p.set_labels([(st.id, f, "informative" if synth.labels[f] else "non-informative")
                          for f in range(30)], user="test")
        cfg = TrainConfig(depth="fc8", epochs=5, batch_size=16, seed=0, device="cpu",
                          precision="fp32", patience=5)
        out = drain(train_run(p, cfg, weights_path=weights,
                              task_options={"crops_per_frame": 2, "test_crops": 1}),
                    events.append)
        run = p.run(out.run_id)
    aucs = [e.auc for e in events if isinstance(e, Validated)]
    assert len(aucs) == 5
    assert out.result.best_auc > 0.8 and aucs[0] < out.result.best_auc - 0.15
    assert run.best_auc == pytest.approx(out.result.best_auc)
    assert run.metrics["threshold"]["rule"] == "youden_j_validation"
    assert run.metrics["threshold"]["j"] > 0.4


def test_bvlc_fine_tunes_from_weights_in_its_layout(trained, tmp_path):
    """Table I's architecture takes pretrained weights in its layout (item 29)."""
    import dataclasses

    import torch

    from core.jobs.evaluation import load_run_model
    from core.train import bvlc
    from core.train.weights import WeightsError, WeightsMissingError, resolve_weights

    weights = tmp_path / "bvlc-imagenet.pth"
    torch.manual_seed(0)
    torch.save(bvlc.BvlcAlexNet(1000).state_dict(), weights)
    tv = tmp_path / "torchvision-layout.pth"
    torch.save(build_alexnet(1000).state_dict(), tv)
    with pytest.raises(WeightsError, match="not an AlexNet in the BVLC"):
        resolve_weights(tv, arch="bvlc")
    with pytest.raises(WeightsMissingError, match="weights in that layout"):
        resolve_weights(arch="bvlc")
    folder, _, _, _ = trained
    cfg = dataclasses.replace(CONFIG, depth="fc7", arch="bvlc")
    with Project.open(folder) as p:
        out = drain(train_run(p, cfg, task_options=OPTIONS, weights_path=weights))
        run = p.run(out.run_id)
        assert run.weights_source.startswith("custom weights") and "bvlc" in run.arch
        res = drain(evaluate_run(p, out.run_id))
        assert res.n_pos + res.n_neg == 16
        # the frozen layers are the pretrained file's, bit for bit
        model = load_run_model(p, out.run_id).model
        want = torch.load(weights, weights_only=True)
        assert torch.equal(model.features[0].weight, want["features.0.weight"])
