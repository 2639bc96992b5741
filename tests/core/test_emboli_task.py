"""The emboli task end to end on synthetic CTPA series written as real DICOM: marks ->
candidate labels, tobogganing job with vessel axes, patches, FROC per volume, a run,
and the CLI (studies, marks)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from core.cli import main
from core.events import drain
from core.io.importer import import_path
from core.jobs import evaluate_run, train_run
from core.jobs.volume_candidates import generate_volume_candidates
from core.store import Project
from core.store.geometry import Sphere
from core.synth.ctpa import write_ctpa_series
from core.tasks import get_task
from core.tasks.emboli.truth import VolumeTruth, candidate_truth
from core.train.engine import TrainConfig


def test_truth_spheres_tolerance_masks_and_decisions():
    t = VolumeTruth(spheres=[(5, np.array([10.0, 10.0, 10.0]), 3.0)])
    centers = np.array([[10, 10, 12], [10, 10, 14], [30, 30, 30]], float)
    sp = (1.0, 1.0, 1.0)
    assert candidate_truth(t, centers, sp)[0].tolist() == [1, 0, 0]
    labels, lesions = candidate_truth(t, centers, sp, tolerance_mm=1.5)
    assert labels.tolist() == [1, 1, 0] and lesions[:2] == ["s5", "s5"]  # one embolus
    comp = np.zeros((40, 40, 40), np.int32)
    comp[29:32, 29:32, 29:32] = 1
    t.components, t.n_components = comp, 1
    assert candidate_truth(t, centers, sp)[1][2] == "m1"
    t.decisions = [(9, np.array([30.0, 30.0, 30.0]), "not embolus")]
    assert candidate_truth(t, centers, sp)[0].tolist() == [1, 0, 0]
    assert t.lesions == ["s5", "m1"]
    assert candidate_truth(VolumeTruth(), centers, sp)[0].tolist() == [-1, -1, -1]


@pytest.fixture(scope="module")
def ct_project(tmp_path_factory):
    root = tmp_path_factory.mktemp("ctpa")
    project = Project.create(root / "p")
    ids, synths = [], []
    for k, split in enumerate(("train", "train", "test")):
        s = drain(write_ctpa_series(root / f"ct{k}", seed=k))
        [study] = drain(import_path(project, s.folder, split=split, task="emboli"))
        for e in s.emboli:
            project.add_annotation(study.id, "sphere", Sphere(tuple(e.centre_mm), e.radius_mm))
        ids.append(study.id)
        synths.append(s)
    report = drain(generate_volume_candidates(project, ids))
    yield project, ids, synths, report, root
    project.close()


def test_tobogganing_job_hits_the_synthetic_emboli(ct_project):
    project, ids, synths, report, _ = ct_project
    assert report.n_emboli == sum(len(s.emboli) for s in synths)
    assert report.recall >= 0.75  # measured 12 / 12 on these seeds
    c = project.candidates(ids[0])[0]
    assert len(c.center) == 3 and len(c.extent) == 6 and c.frame is None
    assert np.isclose(np.linalg.norm(c.params["axis"]), 1.0, atol=1e-3)
    assert {x.hit for x in project.candidates(ids[0])} <= {0, 1}


def test_patches_and_froc_per_volume_of_a_perfect_scorer(ct_project):
    project, ids, _, report, _ = ct_project
    task = get_task("emboli", test_patches=2, n_boot=50)
    items = task.labelled_items(project, "test")
    ds = drain(task.dataset(project, items, np.random.default_rng(0), split="test"))
    assert len(ds) == 2 * len(items) and ds.batch(np.arange(2)).shape == (2, 227, 227, 3)
    probs = np.c_[1 - items.labels, items.labels].astype(float)
    res = task.evaluate(items, probs, project=project)
    study = report.studies[2]
    assert res.n_images == 1 and res.n_lesions == study["emboli"]
    assert res.n_tp == study["found"] and res.n_fp == int((items.labels == 0).sum())
    assert res.points[0].sensitivity == pytest.approx(study["found"] / study["emboli"])


def test_train_and_evaluate_an_emboli_run(ct_project):
    project, ids, *_ = ct_project
    cfg = TrainConfig(depth="scratch", epochs=1, batch_size=16, device="cpu",
                      max_iterations=2, seed=1)
    opts = {"train_patches": 1, "test_patches": 1, "preview_patches": 1, "n_boot": 20}
    out = drain(train_run(project, cfg, task="emboli", task_options=opts))
    res = drain(evaluate_run(project, out.run_id))
    assert len(res.points) == 6 and 3.0 in [p.fp_rate for p in res.points]
    assert "cpm" in project.run(out.run_id).metrics["test"]


def test_cli_studies_and_marks_round_trip(ct_project, tmp_path, capsys):
    project, ids, synths, _, root = ct_project
    folder = str(project.folder)
    assert main(["studies", "--project", folder, "--json", "-q"]) == 0
    rows = json.loads(capsys.readouterr().out)["studies"]
    ct = [r for r in rows if r["kind"] == "ct_series"]
    assert len(ct) == 3 and ct[0]["spacing_mm"] == pytest.approx([1.25, 0.9, 0.9])
    assert ct[0]["series_uid"] == synths[0].series_uid and "SYNTH" not in json.dumps(rows)
    out = tmp_path / "marks.csv"
    assert main(["marks", "export", "--project", folder, "-q", str(out)]) == 0
    capsys.readouterr()
    with open(out) as f:
        got = list(csv.DictReader(f))
    assert len(got) == sum(len(s.emboli) for s in synths)
    # into a fresh project holding the same series: every mark lands, none twice
    fresh = tmp_path / "q"
    assert main(["import", "--project", str(fresh), "--task", "emboli", "-q",
                 str(root / "ct0")]) == 0
    capsys.readouterr()
    assert main(["marks", "import", "--project", str(fresh), "--json", "-q", str(out)]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["added"] == len(synths[0].emboli)


def test_cli_candidates_for_emboli(ct_project, capsys):
    project, ids, *_ = ct_project
    assert main(["candidates", "--project", str(project.folder), "--task", "emboli",
                 "--study", str(ids[2]), "--json", "-q"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["volumes"] == 1 and rep["generator"] == "toboggan"
    assert rep["emboli"] == 4 and rep["recall"] >= 0.75
