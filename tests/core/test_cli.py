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
    assert 0.0 <= t["auc_ci"][0] <= t["auc"] <= t["auc_ci"][1] <= 1.0
    assert t["n_pos"] + t["n_neg"] > 0
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
    assert 0.0 <= e["auc"] <= 1.0 and len(e["operating_points"]) == 3


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
