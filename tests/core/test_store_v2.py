"""Store v2: subjects drive splits, predictions N x C, candidates, run provenance."""

from __future__ import annotations

import numpy as np
import pytest

from core.store import Candidate, Project, ProjectError


@pytest.fixture
def project(tmp_path):
    with Project.create(tmp_path / "proj") as p:
        yield p


def _add(project, stem, subject=None, split="train", task="frame_quality"):
    return project.add_study(f"/d/{stem}.mp4", f"h-{stem}", "video", task, 100, 25.0, 350, 500,
                             split=split, subject=subject)


def test_subjects_drive_the_split(project):
    a1 = _add(project, "pat1-visit1", subject="patient-1")
    a2 = _add(project, "pat1-visit2", subject="patient-1")
    b = _add(project, "pat2", subject="patient-2")
    lone = _add(project, "lone")
    assert a1.subject_id == a2.subject_id != b.subject_id != lone.subject_id
    assert a1.subject == "patient-1" and lone.subject.startswith("study:")
    project.set_split(a1.id, "test")  # moves the whole patient
    assert [project.study(s.id).split for s in (a1, a2, b, lone)] == ["test", "test", "train",
                                                                       "train"]
    with pytest.raises(ProjectError, match="never on both sides"):
        _add(project, "pat1-visit3", subject="patient-1", split="train")
    c = _add(project, "pat1-visit3", subject="patient-1", split="test")
    assert c.split == "test"
    for split in ("train", "test"):
        subjects = {s.subject_id for s in project.studies() if s.split == split}
        others = {s.subject_id for s in project.studies() if s.split != split}
        assert not subjects & others
    with pytest.raises(ProjectError, match="never on both sides"):
        project.set_subject(b.id, "patient-1")
    moved = project.set_subject(lone.id, "patient-2")
    assert moved.subject_id == b.subject_id
    assert [j.key for j in project.subjects()] == ["patient-1", "patient-2"]  # emptied one gone


def test_study_meta_and_reader_index_are_columns_not_settings(project):
    s = project.add_study("/d/v.mp4", "h", "video", "frame_quality", 10, 25.0, 350, 500,
                          meta={"spacing_mm": [0.5, 0.5]}, index='{"keys": [0, 250]}')
    assert s.meta == {"spacing_mm": [0.5, 0.5]}
    assert project.study_index(s.id) == '{"keys": [0, 250]}'
    assert project.update_study_meta(s.id, fps_note="x", spacing_mm=None).meta == {"fps_note": "x"}
    assert project.relink_study(s.id, "/new/v.mp4").path == "/new/v.mp4"
    assert project.get_setting(f"video_info:{s.id}") is None


def test_predictions_n_by_c_round_trip(project):
    s = _add(project, "v")
    run = project.start_run("cimt", "fc7", {})
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(3), size=50)
    items = np.arange(100, 150)
    project.put_predictions(run.id, "test", s.id, "pixel", items, probs, epoch=4,
                            model_version="run 1 epoch 5 (fc7)")
    got, = project.predictions(run.id, split="test")
    assert got.probs.shape == (50, 3) and got.probs.dtype == np.float32
    np.testing.assert_array_equal(got.items, items)
    np.testing.assert_array_equal(got.probs, probs.astype(np.float32))
    assert (got.epoch, got.model_version, got.item_kind) == (4, "run 1 epoch 5 (fc7)", "pixel")
    project.put_predictions(run.id, "test", s.id, "pixel", items[:2], probs[:2])  # replaces
    assert len(project.predictions(run.id)[0].items) == 2
    project.put_predictions(run.id, "val", s.id, "pixel", items, probs)
    assert [p.split for p in project.predictions(run.id)] == ["test", "val"]
    with pytest.raises(ValueError, match="split"):
        project.put_predictions(run.id, "train", s.id, "frame", items, probs)
    with pytest.raises(ValueError, match="equal length"):
        project.put_predictions(run.id, "val", s.id, "frame", items[:3], probs)


def test_model_labels_are_derived_from_predictions_not_written(project):
    s = _add(project, "v")
    run = project.start_run("frame_quality", "fc8", {})
    project.put_predictions(run.id, "preview", s.id, "frame", [0, 5, 9],
                            [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]], model_version="run 1 epoch 1")
    model = project.labels(s.id, source="model")
    assert [(m.frame, m.value) for m in model] == [(0, "non-informative"), (5, "informative"),
                                                   (9, "non-informative")]
    assert {m.model_version for m in model} == {"run 1 epoch 1"}
    assert project.annotation_history(s.id) == []  # nothing was written as a label
    assert project.labels(s.id) == []  # expert labels are apart


def test_candidates_round_trip_and_hits(project):
    s = _add(project, "v", task="polyps")
    ids = project.put_candidates(s.id, "shape-vote", "1.0", [
        Candidate(3, (40.0, 50.0), (30.0, 40.0, 50.0, 60.0), score=0.7, params={"votes": 12}),
        Candidate(4, (10.0, 10.0), (5.0, 5.0, 15.0, 15.0)),
    ])
    got = project.candidates(s.id)
    assert [c.id for c in got] == ids and got[0].params == {"votes": 12}
    assert (got[0].generator, got[0].version, got[0].center) == ("shape-vote", "1.0", (40.0, 50.0))
    project.set_candidate_hits({ids[0]: 1, ids[1]: 0})
    assert [c.hit for c in project.candidates(s.id)] == [1, 0]
    vol = _add(project, "ct", task="emboli")
    project.put_candidates(vol.id, "toboggan", "1", [Candidate(None, (12, 40, 41),
                                                               (10, 38, 39, 14, 42, 43))])
    assert project.candidates(vol.id)[0].frame is None
    project.put_candidates(s.id, "shape-vote", "1.1", [], frames=[4])
    assert [c.frame for c in project.candidates(s.id)] == [3]
    with pytest.raises(ValueError, match="twice as long"):
        project.put_candidates(s.id, "g", "1", [Candidate(1, (1.0, 2.0), (1.0, 2.0))])


def test_run_records_what_reproduces_it(project):
    run = project.start_run("frame_quality", "fc7", {"epochs": 3}, seed=11, arch="alexnet",
                            task_options={"crops_per_frame": 4})
    assert (run.seed, run.arch, run.task_options) == (11, "alexnet", {"crops_per_frame": 4})
    run = project.update_run(run.id, precision="fp32", device="cpu",
                             split={"train": [1, 2], "val": [3]},
                             versions={"torch": "2.x"}, weights_sha256="abc")
    assert run.split == {"train": [1, 2], "val": [3]} and run.precision == "fp32"
    with pytest.raises(ValueError, match="unknown run fields"):
        project.update_run(run.id, colour="red")
    exp = project.add_experiment("depth_sweep", "frame_quality", {"depths": ["fc8", "fc7"]})
    project.update_run(run.id, experiment_id=exp.id)
    assert project.experiment(exp.id).runs == [run.id]
    assert project.set_experiment_status(exp.id, "finished").finished is not None
