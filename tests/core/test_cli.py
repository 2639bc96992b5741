"""The command line end to end: exit codes, JSON output, the headless demo."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.cli import EXIT_INPUT, EXIT_OK, EXIT_WEIGHTS, main
from core.train.model import LAYERS


@pytest.fixture(autouse=True)
def offline_torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.delenv("LAYERTUNE_ALLOW_DOWNLOAD", raising=False)


def run(capsys, *argv):
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_schedule_json_matches_table_ii(capsys):
    rc, out, _ = run(capsys, "schedule", "--depth", "conv5", "--json")
    assert rc == EXIT_OK
    d = json.loads(out)
    assert [row["layer"] for row in d["layers"]] == list(LAYERS)
    tuned = {row["layer"]: row for row in d["layers"] if row["tuned"]}
    assert set(tuned) == {"conv5", "fc6", "fc7", "fc8"}
    assert tuned["fc8"]["weight_lr"] == 0.01 and tuned["fc8"]["bias_lr"] == 0.02
    assert tuned["conv5"]["bias_lr"] == 0.002
    assert d["momentum"] == 0.9 and d["gamma"] == 0.95


def test_stats_roc(tmp_path, capsys):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 300)
    scores = labels * 0.8 + rng.normal(0, 0.5, 300)
    f = tmp_path / "scores.csv"
    f.write_text("score,label\n" + "".join(f"{s},{y}\n" for s, y in zip(scores, labels)))
    rc, out, _ = run(capsys, "stats", "roc", "--scores", str(f), "--json")
    assert rc == EXIT_OK
    d = json.loads(out)
    from core.stats import auc

    assert d["auc"] == pytest.approx(auc(scores, labels))
    assert d["auc_ci"][0] < d["auc"] < d["auc_ci"][1]
    assert [round(op["fpr"], 2) for op in d["operating_points"]] == [0.1, 0.15, 0.2]
    bad = tmp_path / "bad.csv"
    bad.write_text("score,label\n0.3,2\n")
    rc, _, err = run(capsys, "stats", "roc", "--scores", str(bad))
    assert rc == EXIT_INPUT and "bad.csv" in err


def test_import_rejects_non_video_with_clear_error(tmp_path, capsys):
    fake = tmp_path / "notes.mp4"
    fake.write_text("this is not a video")
    rc, _, err = run(capsys, "import", "--project", str(tmp_path / "p"), str(fake))
    assert rc == EXIT_INPUT
    assert "notes.mp4" in err


@pytest.mark.slow
def test_demo_headless_small_end_to_end(tmp_path, capsys):
    proj = tmp_path / "demo"
    rc, out, err = run(capsys, "demo", "--headless", "--small", "--json", "--project", str(proj),
                       "--device", "cpu")
    assert rc == EXIT_OK, err
    d = json.loads(out)
    assert d["depth"] == "scratch"  # no weights here: said so, and ran scratch
    assert "weights" in err.lower()
    t = d["test"]
    # the small demo's 2 test videos of 36 frames, all labelled, all scored
    assert t["n_pos"] + t["n_neg"] == 72 and t["n_groups"] == 2
    assert t["auc"] == pytest.approx(_stored_test_auc(proj, d["run"]), abs=1e-6)
    assert t["auc_ci"][0] < t["auc"] < t["auc_ci"][1]  # a CI of some width, not 1.000-1.000
    assert len(t["band_fpr"]) == len(t["band_lo"]) == 51 and None not in t["auc_ci_boot"]
    # the project now holds the run, usable by the other commands
    rc, out, _ = run(capsys, "runs", "--project", str(proj), "--json")
    runs = json.loads(out)["runs"]
    assert runs[0]["status"] == "finished"
    # fine-tuning without weights refuses to start, exit 3, message names the file
    rc, _, err = run(capsys, "train", "--project", str(proj), "--depth", "fc7", "--epochs", "1",
                     "--crops", "2")
    assert rc == EXIT_WEIGHTS and "alexnet-owt-7be5be79.pth" in err
    # labels export -> import round trip
    csv = tmp_path / "labels.csv"
    rc, out, _ = run(capsys, "labels", "export", "--project", str(proj), str(csv), "--json")
    n = json.loads(out)["exported"]
    assert rc == EXIT_OK and n > 0
    assert csv.read_text().splitlines()[0] == "study,frame,label"
    rc, out, _ = run(capsys, "labels", "import", "--project", str(proj), str(csv), "--json")
    assert rc == EXIT_OK and json.loads(out)["imported"] == n


@pytest.mark.slow
def test_train_and_evaluate_with_imported_weights(tmp_path, capsys):
    """Fine-tuning path with a state dict in torchvision's format written by the test."""
    import torch
    import torchvision

    from core.demo import SMALL, make_demo_project
    from core.events import drain

    drain(make_demo_project(tmp_path / "p", SMALL)).close()
    w = tmp_path / "alexnet.pth"
    torch.manual_seed(0)
    torch.save(torchvision.models.alexnet(weights=None).state_dict(), w)
    rc, out, err = run(capsys, "train", "--project", str(tmp_path / "p"), "--depth", "fc7",
                       "--epochs", "2", "--crops", "2", "--weights", str(w), "--json",
                       "--device", "cpu")
    assert rc == EXIT_OK, err
    d = json.loads(out)
    assert d["status"] == "finished" and d["depth"] == "fc7" and d["snapshot"]
    assert len(d["history"]) == d["epochs_run"] >= 1
    rc, out, err = run(capsys, "evaluate", "--project", str(tmp_path / "p"), "--run",
                       str(d["run"]), "--test-crops", "2", "--json")
    assert rc == EXIT_OK, err
    e = json.loads(out)
    assert e["auc"] == pytest.approx(_stored_test_auc(tmp_path / "p", d["run"]), abs=1e-6)
    assert e["n_pos"] + e["n_neg"] == 72 and e["n_groups"] == 2
    assert [round(op["fpr"], 2) for op in e["operating_points"]] == [0.1, 0.15, 0.2]
    assert e["auc_ci"][0] < e["auc"] < e["auc_ci"][1]
    # the text output gives the verdict (2 test videos: the video-level CI is rough)
    rc, out, _ = run(capsys, "evaluate", "--project", str(tmp_path / "p"), "--run",
                     str(d["run"]), "--test-crops", "2")
    assert rc == EXIT_OK and "verdict: " in out and "Only 2 test videos" in out


def test_interrupted_run_is_recovered(tmp_path):
    """A run left "running" by a killed process becomes "failed", its best model kept."""
    import subprocess
    import sys

    from core.jobs import recover_interrupted_runs
    from core.store import Project

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with Project.create(tmp_path / "p") as project:
        import socket

        run = project.start_run("frames", "fc7", {"pid": dead.pid, "host": socket.gethostname()})
        snap = project.folder / "snapshots" / "best.pt"
        project.add_snapshot(run.id, 2, snap, 0.81)
        live = project.start_run("frames", "fc8", {"pid": __import__("os").getpid(),
                                                   "host": socket.gethostname()})
        assert recover_interrupted_runs(project) == [run.id]
        r = project.run(run.id)
        assert r.status == "failed" and r.best_auc == pytest.approx(0.81)
        assert "interrupted" in r.metrics["error"] and r.best_snapshot
        assert project.run(live.id).status == "running"


def test_import_two_videos_of_one_patient_keeps_them_together(tmp_path, capsys):
    from core.store import Project
    from core.synth import make_video

    paths = [drain_video(make_video, tmp_path / f"visit{k}.mp4", k) for k in (1, 2)]
    rc, out, _ = run(capsys, "import", "--project", str(tmp_path / "p"), "--subject", "pat-7",
                     "--split", "test", "--json", *paths)
    assert rc == EXIT_OK
    studies = json.loads(out)["studies"]
    assert [s["subject"] for s in studies] == ["pat-7", "pat-7"]
    with Project.open(tmp_path / "p") as project:
        a, b = project.studies()
        assert a.subject_id == b.subject_id and a.split == b.split == "test"
        project.set_split(a.id, "train")
        assert project.study(b.id).split == "train"  # the patient moves as a whole
    third = drain_video(make_video, tmp_path / "visit3.mp4", 3)
    rc, _, err = run(capsys, "import", "--project", str(tmp_path / "p"), "--subject", "pat-7",
                     "--split", "test", third)
    assert rc == EXIT_INPUT and "never on both sides" in err


def drain_video(make_video, path, seed):
    from core.events import drain

    return drain(make_video(path, 12, np.random.default_rng(seed), size=(64, 96))).path


def tiny_project(folder, n_train=3):
    """A project of ``n_train`` labelled training videos of 12 frames and one test video
    of 16 (small frames: a scratch run of one epoch takes seconds)."""
    from core.events import drain
    from core.io.importer import import_study
    from core.store import Project
    from core.synth import make_video

    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    with Project.create(folder) as p:
        for v, (n, split) in enumerate([(12, "train")] * n_train + [(16, "test")]):
            synth = drain(make_video(folder.parent / f"{folder.name}-v{v}.mp4", n, rng,
                                     size=(64, 96)))
            st = drain(import_study(p, synth.path, split=split))
            p.set_labels([(st.id, f, "informative" if synth.labels[f] else "non-informative")
                          for f in range(n)], user="test")
    return folder


TINY_TRAIN = ("--depth", "scratch", "--epochs", "1", "--batch-size", "8", "--crops", "1",
              "--test-crops", "2", "--device", "cpu", "--precision", "fp32", "--json")


def test_relative_project_path_trains_and_evaluates_from_anywhere(tmp_path, capsys,
                                                                  monkeypatch):
    """``train --project p1`` from p1's parent stored ``p1/p1/snapshots/...`` (issue 6,
    item 14): the run could not be evaluated whichever way the path was given."""
    from core.store import Project

    tiny_project(tmp_path / "work" / "p1")
    monkeypatch.chdir(tmp_path / "work")
    rc, out, err = run(capsys, "train", "--project", "p1", *TINY_TRAIN)
    assert rc == EXIT_OK, err
    d = json.loads(out)
    assert d["snapshot"].startswith("snapshots/"), d["snapshot"]
    assert (tmp_path / "work" / "p1" / d["snapshot"]).is_file()
    # evaluate: relative from the parent, relative from elsewhere, absolute
    for cwd, project in ((tmp_path / "work", "p1"), (tmp_path, "work/p1"),
                         (tmp_path / "work" / "p1", ".")):
        monkeypatch.chdir(cwd)
        rc, out, err = run(capsys, "evaluate", "--project", project, "--run", str(d["run"]),
                           "--json")
        assert rc == EXIT_OK, err
        assert json.loads(out)["n_pos"] + json.loads(out)["n_neg"] == 16
    with Project.open(tmp_path / "work" / "p1") as p:
        r = p.run(d["run"])
        assert r.best_snapshot == d["snapshot"]  # evaluation kept it project-relative
        assert all(s.path.startswith("snapshots/") for s in p.snapshots(r.id))


def test_project_repairs_snapshot_paths_recorded_against_the_working_directory(tmp_path):
    """Projects trained before the fix hold ``p1/snapshots/...``: opened, they are fixed."""
    from core.store import Project

    with Project.create(tmp_path / "p1") as p:
        run_ = p.start_run("frame_quality", "fc8", {})
        snap = p.snapshots_dir / "run-0001" / "best.pt"
        snap.parent.mkdir()
        snap.write_bytes(b"x")
        p.add_snapshot(run_.id, 0, snap, 0.7)
        p.finish_run(run_.id, "finished", best_auc=0.7, best_snapshot=snap)
        with p._write() as con:  # what the old release wrote for --project p1
            con.execute("UPDATE runs SET best_snapshot='p1/snapshots/run-0001/best.pt'")
            con.execute("UPDATE snapshots SET path='p1/snapshots/run-0001/best.pt'")
    with Project.open(tmp_path / "p1") as p:
        assert p.run(run_.id).best_snapshot == "snapshots/run-0001/best.pt"
        assert [s.path for s in p.snapshots(run_.id)] == ["snapshots/run-0001/best.pt"]


def test_evaluate_uses_the_runs_test_crops_says_so_and_shows_progress(tmp_path, capsys):
    """Evaluate scored 200 crops per frame whatever the run used, silently (item 15)."""
    from core.store import Project

    proj = str(tiny_project(tmp_path / "p"))
    rc, out, err = run(capsys, "train", "--project", proj, *TINY_TRAIN)
    assert rc == EXIT_OK, err
    run_id = str(json.loads(out)["run"])
    rc, out, err = run(capsys, "evaluate", "--project", proj, "--run", run_id, "--json")
    assert rc == EXIT_OK, err
    assert "evaluating with the run's settings: 2 test crops per frame" in err
    assert "16/16" in err and "32/32" in err  # progress: 16 test frames, 2 crops each
    with Project.open(proj) as p:
        assert p.run(int(run_id)).metrics["test_settings"]["task_options"]["test_crops"] == 2
    rc, out, err = run(capsys, "evaluate", "--project", proj, "--run", run_id, "--test-crops",
                       "3", "--json")
    assert rc == EXIT_OK, err
    assert "evaluating with 3 test crops per frame as asked (the run used 2)" in err
    with Project.open(proj) as p:
        opts = p.run(int(run_id)).metrics["test_settings"]["task_options"]
        assert opts["test_crops"] == 3 and opts["crops_per_frame"] == 1  # the rest: the run's


def test_labels_export_is_deidentified_unless_keep_names(tmp_path, capsys):
    """Exports named studies by their file stem (a patient ID on clinical systems)."""
    from core.store import Project

    with Project.create(tmp_path / "p") as p:
        s = p.add_study("/pacs/PAT-12345_colon.avi", "h1", "video", "frame_quality", 10, 25.0,
                        64, 96)
        p.set_labels([(s.id, 0, "informative"), (s.id, 4, "non-informative")], user="dr")
    out_csv = tmp_path / "labels.csv"
    rc, out, err = run(capsys, "labels", "export", "--project", str(tmp_path / "p"),
                       str(out_csv), "--json")
    assert rc == EXIT_OK, err
    assert json.loads(out) == {"exported": 2, "deidentified": True}
    assert "PAT-12345" not in out_csv.read_text()
    rc, out, err = run(capsys, "labels", "export", "--project", str(tmp_path / "p"),
                       str(out_csv), "--keep-names")
    assert rc == EXIT_OK, err
    lines = out_csv.read_text().splitlines()
    assert lines[0] == "study,frame,label,path,user,time"
    assert lines[1].startswith("PAT-12345_colon,0,informative,/pacs/PAT-12345_colon.avi,dr,")
    # re-imported by file name as imported, and I/N
    in_csv = tmp_path / "in.csv"
    in_csv.write_text("study,frame,label\nPAT-12345_colon.avi,7,I\n")
    rc, out, err = run(capsys, "labels", "import", "--project", str(tmp_path / "p"),
                       str(in_csv), "--json")
    assert rc == EXIT_OK and json.loads(out)["imported"] == 1, err


def _stored_test_auc(folder, run_id):
    """The AUC recomputed from the run's stored test predictions and the expert labels."""
    from core.stats import auc
    from core.store import Project

    scores, y = [], []
    with Project.open(folder) as p:
        for pred in p.predictions(run_id, split="test"):
            lab = {x.frame: x.value for x in p.labels(pred.study_id)}
            scores += pred.probs[:, 1].tolist()
            y += [lab[int(f)] == "informative" for f in pred.items]
    return auc(np.array(scores, np.float64), np.array(y))


def test_fraction_one_percent_with_four_training_videos(tmp_path, capsys):
    """``--fraction 0.01`` with 4 training videos (issue 6, item 25) trained on what it
    could keep, said so, held the validation video fixed, and evaluates."""
    tiny_project(tmp_path / "p", n_train=4)
    rc, out, err = run(capsys, "train", "--project", str(tmp_path / "p"), *TINY_TRAIN)
    assert rc == EXIT_OK, err
    full = json.loads(out)
    rc, out, err = run(capsys, "train", "--project", str(tmp_path / "p"), "--fraction", "0.01",
                       *TINY_TRAIN)
    assert rc == EXIT_OK, err
    d = json.loads(out)
    assert d["status"] == "finished"
    red = d["split"]["reduced"]
    assert red == {"fraction": 0.01, "level": "item", "kept_items": 2, "of_items": 36,
                   "kept_groups": red["kept_groups"], "of_groups": 3}
    assert d["split"]["val"] == full["split"]["val"] and d["split"]["n_val_items"] == 12
    assert "reduced training data to 1%: 3 training videos are too few" in err
    assert "2 of 36 labelled frames (5.6%)" in err and "validation unchanged (1 video" in err
    rc, out, err = run(capsys, "evaluate", "--project", str(tmp_path / "p"), "--run",
                       str(d["run"]), "--json")
    assert rc == EXIT_OK, err
    e = json.loads(out)
    assert e["n_pos"] + e["n_neg"] == 16 and e["n_groups"] == 1
    assert e["auc"] == pytest.approx(_stored_test_auc(tmp_path / "p", d["run"]), abs=1e-6)
