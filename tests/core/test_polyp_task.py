"""The polyp task end to end: truth -> candidate labels, the generator job, patches,
FROC evaluation, training and evaluating a run, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.cli import main
from core.events import drain
from core.io.importer import import_path
from core.jobs import evaluate_run, train_run
from core.jobs.candidates import generate_candidates, label_study_candidates
from core.store import Project
from core.store.geometry import Box, Mask, Point
from core.synth.polyps import write_polyp_video
from core.tasks import get_task
from core.tasks.polyps.candidates import CandidateParams
from core.tasks.polyps.truth import FrameTruth, candidate_truth, study_truth
from core.train.engine import TrainConfig

KVASIR = Path(__file__).resolve().parents[2].parent / "shared" / "testdata" / "kvasir_seg"


def _two_polyp_mask() -> np.ndarray:
    m = np.zeros((60, 80), bool)
    m[10:20, 10:20] = True
    m[30:50, 40:70] = True
    return m


def test_candidate_truth_hits_decisions_and_unknown_frames():
    t = FrameTruth(mask=_two_polyp_mask())
    centers = np.array([[15, 15], [16, 14], [40, 55], [5, 70], [45, 45]], float)
    extents = np.c_[centers - 4, centers + 4]
    labels, lesions = candidate_truth(t, centers, extents)
    assert labels.tolist() == [1, 1, 1, 0, 1]
    assert lesions == ["m1", "m1", "m2", None, "m2"]  # two on polyp 1: both hit it
    assert t.lesions == ["m1", "m2"]
    # a decision overrides the mask; an accepted one off the mask is a polyp of its own
    t.decisions = [(7, 45.0, 45.0, "not polyp"), (8, 5.0, 70.0, "polyp")]
    labels, lesions = candidate_truth(t, centers, extents)
    assert labels.tolist() == [1, 1, 1, 1, 0]
    assert lesions[3] == "p8" and lesions[4] is None
    assert t.lesions == ["m1", "m2", "p8"]
    # no truth on the frame: unknown; an empty mask: every candidate a false positive
    assert candidate_truth(None, centers, extents)[0].tolist() == [-1] * 5
    empty = FrameTruth(mask=np.zeros((60, 80), bool))
    assert candidate_truth(empty, centers, extents)[0].tolist() == [0] * 5
    assert empty.lesions == []
    # a box is a polyp too
    boxed = FrameTruth(boxes=[(3, (0.0, 60.0, 10.0, 80.0))])
    assert candidate_truth(boxed, centers, extents)[1][3] == "b3"


def test_jpeg_specks_are_not_polyps():
    m = _two_polyp_mask()
    m[0, 0] = True  # what a thresholded JPEG mask can keep
    assert FrameTruth(mask=m).lesions == ["m1", "m2"]


@pytest.fixture(scope="module")
def polyp_project(tmp_path_factory):
    """Two training videos and one test video of 6 frames, every frame masked, the
    generator run with at most 12 candidates per frame (seeds whose first frames show
    polyps)."""
    root = tmp_path_factory.mktemp("polyps")
    project = Project.create(root / "p")
    ids = []
    for k, (split, seed) in enumerate((("train", 12), ("train", 15), ("test", 16))):
        sv = drain(write_polyp_video(root / f"v{k}.mp4", 6, seed=seed))
        [study] = drain(import_path(project, sv.path, split=split, task="polyps"))
        for f, m in enumerate(sv.masks):
            project.add_annotation(study.id, "mask", Mask(m), frame=f)
        ids.append(study.id)
    report = drain(generate_candidates(project, ids, CandidateParams(max_per_frame=12)))
    yield project, ids, report
    project.close()


def test_generator_job_stores_candidates_labels_and_recall(polyp_project):
    project, ids, report = polyp_project
    assert report.n_frames == 18 and 0 < report.n_candidates <= 18 * 12
    assert report.candidates_per_frame <= 12
    truth = {sid: study_truth(project, sid) for sid in ids}
    n_polyps = sum(len(t.lesions) for tt in truth.values() for t in tt.values())
    assert report.n_polyps == n_polyps > 0 and 0 <= report.n_found <= n_polyps
    study = project.study(ids[0])
    assert study.meta["candidates"]["params"]["max_per_frame"] == 12
    for c in project.candidates(ids[0]):  # the stored hit agrees with the mask
        mask = truth[ids[0]][c.frame].mask
        r, col = (int(np.floor(v + 0.5)) for v in c.center)
        assert c.hit == int(mask[min(r, mask.shape[0] - 1), min(col, mask.shape[1] - 1)])


def test_items_dataset_and_froc_of_a_perfect_scorer(polyp_project):
    project, ids, report = polyp_project
    task = get_task("polyps", train_patches=3, test_patches=2)
    items = task.labelled_items(project, "test")
    assert items.kind == "candidate" and set(items.study_ids) == {ids[2]}
    ds = drain(task.dataset(project, items, np.random.default_rng(0), split="test"))
    assert len(ds) == 2 * len(items)
    assert ds.batch(np.arange(3)).shape == (3, 227, 227, 3)
    assert np.array_equal(ds.labels, items.labels[ds.items])
    # a scorer that knows the truth: sensitivity = the generator's recall on that video
    probs = np.c_[1 - items.labels, items.labels].astype(float)
    res = task.evaluate(items, probs, project=project)
    found = report.studies[2].n_found
    assert res.n_lesions == report.studies[2].n_polyps
    assert res.n_images == 6 and res.n_tp == found
    assert res.points[0].sensitivity == pytest.approx(found / res.n_lesions)
    assert task.evaluate.__doc__ and res.to_dict()["cpm"] == pytest.approx(res.cpm)


def test_decisions_survive_the_generator_running_again(polyp_project, tmp_path):
    project, ids, _ = polyp_project
    sid = ids[1]
    c = project.candidates(sid)[0]
    ann = project.add_annotation(sid, "point", Point(*c.center), frame=c.frame,
                                 value="not polyp")
    try:
        drain(generate_candidates(project, [sid], CandidateParams(max_per_frame=12)))
        again = [x for x in project.candidates(sid) if x.frame == c.frame
                 and np.allclose(x.center, c.center)]
        assert again and again[0].id != c.id  # a new row ...
        label_study_candidates(project, sid)
        assert project.candidates(sid, frame=c.frame)[0].hit == 0  # ... the decision kept
    finally:
        project.delete_annotation(ann.id)


def test_train_and_evaluate_a_polyp_run(polyp_project):
    project, ids, _ = polyp_project
    cfg = TrainConfig(depth="scratch", epochs=1, batch_size=16, device="cpu",
                      max_iterations=3, seed=1)
    opts = {"train_patches": 1, "test_patches": 1, "preview_patches": 1, "n_boot": 50}
    out = drain(train_run(project, cfg, task="polyps", task_options=opts,
                          preview_study=ids[0]))
    run = project.run(out.run_id)
    assert run.task == "polyps" and run.best_snapshot
    preview = project.predictions(run.id, split="preview", study_id=ids[0])
    assert preview and preview[-1].item_kind == "candidate"
    res = drain(evaluate_run(project, run.id))
    assert 0.0 <= res.cpm <= 1.0 and len(res.points) == 7
    stored = project.run(run.id).metrics["test"]
    assert stored["cpm"] == pytest.approx(res.cpm) and stored["n_lesions"] == res.n_lesions
    test = project.predictions(run.id, split="test")
    assert test and test[0].probs.shape[1] == 2


def test_cli_import_candidates_export_on_kvasir(tmp_path, capsys):
    if not (KVASIR / "images").is_dir():
        pytest.skip("the Kvasir-SEG sample is not here")
    proj = str(tmp_path / "p")
    assert main(["import", "--project", proj, "--task", "polyps", "-q", str(KVASIR)]) == 0
    capsys.readouterr()
    assert main(["candidates", "--project", proj, "--json", "-q"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["frames"] == 5 and rep["polyps"] == 6  # the speck of one mask is no polyp
    assert rep["candidates_per_frame"] <= 30 and rep["recall"] >= 0.8
    out = tmp_path / "coco.json"
    assert main(["export", "--project", proj, "--format", "coco", "-q", str(out)]) == 0
    coco = json.loads(out.read_text())
    assert len(coco["images"]) == 5
    assert sum(a["category_id"] == 2 for a in coco["annotations"]) == rep["candidates"]
    assert main(["export", "--project", proj, "--format", "masks", "-q",
                 str(tmp_path / "m")]) == 0
    assert len(list((tmp_path / "m").rglob("*.png"))) == 5


def test_polyp_task_refuses_frame_labels_and_bad_options(polyp_project):
    project, ids, _ = polyp_project
    with pytest.raises(ValueError, match="does not use frame_label"):
        project.add_annotation(ids[0], "frame_label", frame=0, value="polyp")
    box = project.add_annotation(ids[0], "box", Box(1, 1, 5, 5), frame=0)  # boxes are fine
    project.delete_annotation(box.id)
    with pytest.raises(ValueError, match="train_patches"):
        get_task("polyps", train_patches=-1)


def test_live_preview_is_capped_to_frames_spread_over_the_video(polyp_project):
    project, ids, _ = polyp_project
    study = project.study(ids[0])
    every = get_task("polyps").preview_items(project, study)
    capped = get_task("polyps", preview_max_frames=2).preview_items(project, study)
    frames = {c.id: c.frame for c in project.candidates(study.id)}
    assert len(every) == len(frames)
    shown = sorted({frames[int(i)] for i in capped.indices})
    assert len(shown) == 2 and shown[0] == min(frames.values())
    assert shown[-1] == max(frames.values())  # the first and the last frame: spread


def test_an_image_set_imported_for_polyps_brings_its_masks(tmp_path):
    if not (KVASIR / "images").is_dir():
        pytest.skip("the Kvasir-SEG sample is not here")
    project = Project.create(tmp_path / "p")
    [study] = drain(import_path(project, KVASIR, task="polyps"))
    assert project.annotation_frames("mask") == {study.id: [0, 1, 2, 3, 4]}
    drain(import_path(project, KVASIR, task="polyps"))  # again: nothing doubled or lost
    assert len(project.annotations(study.id, kind="mask")) == 5
    project.close()


def test_depth_sweep_of_polyps_is_compared_and_recommended_on_its_frocs(polyp_project,
                                                                      tmp_path):
    """A two-depth polyp sweep: the recommendation, the CLI and the report's pairwise
    table compare the runs' FROCs on the same candidates at the CPM's rates."""
    import torch
    import torchvision

    from core.experiments import run_experiment, start_experiment
    from core.experiments.plans import make_plan
    from core.experiments.results import froc_inputs, recommendation
    from core.report.collect import collect
    from core.report.evidence import gather
    from core.stats.froc import froc_analysis
    from core.tasks.polyps import FROC_FPS

    project, ids, _ = polyp_project
    weights = tmp_path / "random-alexnet.pth"
    torch.manual_seed(0)
    torch.save(torchvision.models.alexnet(weights=None).state_dict(), weights)
    opts = {"train_patches": 1, "test_patches": 1, "preview_patches": 1, "n_boot": 50}
    plan = make_plan("depth", "polyps", depths=["fc8", "scratch"], seed=2,
                     train={"epochs": 1, "batch_size": 16, "device": "cpu",
                            "precision": "fp32", "max_iterations": 2},
                     task_options=opts, weights=str(weights))
    exp = start_experiment(project, "depth", "polyps", plan)
    drain(run_experiment(project, exp.id))
    runs = [project.run(r) for r in project.experiment(exp.id).runs]
    assert [r.depth for r in runs] == ["fc8", "scratch"]

    results, options = froc_inputs(project, exp.id)
    assert set(results) == {"fc8", "scratch"} and options["fp_rate"] == FROC_FPS
    a, b = results["fc8"], results["scratch"]
    assert a["lesions"] == b["lesions"] and a["images"] == b["images"]
    assert a["image_ids"] == b["image_ids"] and a["lesion_ids"] == b["lesion_ids"]
    assert not np.array_equal(a["scores"], b["scores"])  # two models, same candidates
    for r in runs:  # the same FROC the run's evaluation stored
        d = dict(results[r.depth])
        d.pop("per"), d.pop("fp_unit")
        res = froc_analysis(d.pop("scores"), d.pop("lesion_ids"), d.pop("image_ids"), **d,
                            fps=FROC_FPS, n_boot=0)
        assert res.cpm == pytest.approx(r.metrics["test"]["cpm"])

    rec = recommendation(project, exp.id, n_boot=200)
    assert rec.metric == "sensitivity" and {row.depth for row in rec.rows} == {"fc8",
                                                                                 "scratch"}
    assert "FPs per frame" in rec.evidence.operating_point
    assert rec.evidence.test == "paired bootstrap over subjects"
    best = max(rec.rows, key=lambda row: row.value)
    assert rec.best_depth == best.depth
    cpm = {r.depth: r.metrics["test"]["cpm"] for r in runs}
    for row in rec.rows:  # the value is the run's CPM (the CPM's rates), with its CI
        lo, hi = row.value_ci
        assert row.value == pytest.approx(cpm[row.depth]) and lo <= row.value <= hi

    assert main(["recommend", "--project", str(project.folder), "--experiment",
                 str(exp.id), "--json"]) == 0

    ev = gather(project, collect(project, exp.id))
    [table] = ev.tables
    assert table.labels == ["fc8", "scratch"] and "FPs per frame" in table.point
    cell = table.cells[(0, 1)]
    assert 0.0 <= cell["p"] <= 1.0 and cell["ci"][0] <= cell["diff"] <= cell["ci"][1]
    assert ev.recommendation["depth"] == rec.depth
    from core.report import write_report

    html = write_report(project, exp.id, tmp_path / "r.html").read_text("utf-8")
    assert "paired bootstrap over subjects" in html and "FPs per frame" in html
