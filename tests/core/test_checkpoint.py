"""Model snapshots: damaged or foreign files get one plain error (never unsafe loading,
never a pickle's code run), and leftovers of killed writes are removed on opening."""

from __future__ import annotations

import json
import os
import pickle
import time

import pytest
import torch

from core.cli import main
from core.jobs import load_run_model
from core.store import Project
from core.train.checkpoint import (
    SnapshotError,
    load_model,
    load_snapshot,
    remove_stale_temp_files,
    save_snapshot,
)
from core.train.model import build_alexnet

META = {"depth": "scratch", "epoch": 0, "n_classes": 2, "config": {"arch": "torchvision"}}


def _plain(msg: str) -> None:
    low = msg.lower()
    assert "weights_only" not in low and "unpickl" not in low and "file an issue" not in low
    assert "arbitrary code" not in low


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """A valid full snapshot of a 2-class model: (path, bytes, state dict)."""
    folder = tmp_path_factory.mktemp("snap")
    torch.manual_seed(0)
    sd = build_alexnet(2).state_dict()
    path = save_snapshot(folder / "epoch-001-it-000004.pt", sd, META)
    return path, path.read_bytes(), sd


def _project_with_run(tmp_path, snapshot_bytes: bytes, meta: dict | None):
    """A project whose run 1 has ``snapshot_bytes`` (and ``meta``) as its best model."""
    folder = tmp_path / "proj"
    with Project.create(folder) as p:
        run = p.start_run("frame_quality", "scratch", {"seed": 0}, seed=0, device="cpu",
                          precision="fp32")
        snap = p.snapshots_dir / f"run-{run.id:04d}" / "epoch-001-it-000004.pt"
        snap.parent.mkdir(parents=True)
        snap.write_bytes(snapshot_bytes)
        if meta is not None:
            snap.with_suffix(".json").write_text(json.dumps(meta))
        p.add_snapshot(run.id, 0, snap, 0.9, {"iteration": 4})
        p.finish_run(run.id, "finished", best_auc=0.9, best_snapshot=snap)
    return folder, run.id, snap


def test_a_valid_snapshot_loads(good):
    path, _, sd = good
    model, meta = load_model(path, 2)
    assert meta["stored"] == "full" and meta["format"].startswith("layertune-snapshot")
    assert torch.equal(model.state_dict()["features.0.weight"], sd["features.0.weight"])


def _damaged(good, tmp_path):
    """(name, .pt bytes, sidecar meta or None, text the reason must hold)."""
    _, data, sd = good
    other = tmp_path / "other.pt"
    torch.save({"conv1.weight": torch.zeros(3, 3)}, other)
    seven = tmp_path / "seven.pt"
    torch.save({**sd, "classifier.6.weight": torch.zeros(7, 4096),
                "classifier.6.bias": torch.zeros(7)}, seven)
    shapes = tmp_path / "shapes.pt"
    torch.save({**sd, "features.3.weight": torch.zeros(10, 64, 5, 5)}, shapes)
    notensor = tmp_path / "notensor.pt"
    torch.save({**sd, "features.0.bias": 1.5}, notensor)
    return [
        ("empty", b"", META, "empty"),
        ("text", b"hello, I am a text file\n" * 40, META, "damaged"),
        ("truncated", data[: len(data) // 2], META, "damaged"),
        ("foreign keys", other.read_bytes(), META, "output layer"),
        ("wrong shapes", shapes.read_bytes(), META, "do not fit"),
        ("meta says 7 classes", data, {**META, "n_classes": 7}, "7 classes"),
        ("a 7-class model", seven.read_bytes(), {**META, "n_classes": 7}, "7 classes"),
        ("not tensors", notensor.read_bytes(), META, "not weight tensors"),
        ("bad json", data, "{not json", "metadata"),
    ]


def test_damaged_or_foreign_snapshots_are_one_plain_error(good, tmp_path):
    for name, data, meta, reason in _damaged(good, tmp_path):
        case = tmp_path / name.replace(" ", "_")
        case.mkdir()
        f = case / "m.pt"
        f.write_bytes(data)
        f.with_suffix(".json").write_text(meta if isinstance(meta, str) else json.dumps(meta))
        with pytest.raises(SnapshotError) as e:
            load_model(f, 2)
        msg = str(e.value)
        assert "damaged or not a LayerTune snapshot" in msg and str(f) in msg, name
        assert reason in msg, (name, msg)
        _plain(msg)
        assert e.value.__cause__ is None, name


def test_run_model_errors_name_the_run_and_the_cli_exits_4(good, tmp_path, capsys):
    _, data, _ = good
    folder, run_id, snap = _project_with_run(tmp_path, data[: len(data) // 3], META)
    with Project.open(folder) as p, pytest.raises(SnapshotError) as e:
        load_run_model(p, run_id)
    assert str(e.value).startswith(f"the model file of run {run_id} is damaged or not a "
                                   "LayerTune snapshot")
    assert isinstance(e.value, SnapshotError)
    assert main(["evaluate", "--project", str(folder), "--run", str(run_id)]) == 4
    err = capsys.readouterr().err
    assert f"the model file of run {run_id} is damaged or not a LayerTune snapshot" in err
    _plain(err)
    assert "EOFError" not in err and "RuntimeError" not in err and "unexpected" not in err


def test_a_pickle_with_code_never_runs(tmp_path, capsys):
    marker = tmp_path / "ran.txt"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    evil = tmp_path / "evil.pt"
    torch.save({"classifier.6.weight": Evil()}, evil, pickle_module=pickle)
    folder, run_id, _ = _project_with_run(tmp_path, evil.read_bytes(), META)
    with pytest.raises(SnapshotError, match="refused without being run") as e:
        load_snapshot(evil)
    _plain(str(e.value))
    assert main(["evaluate", "--project", str(folder), "--run", str(run_id)]) == 4
    err = capsys.readouterr().err
    _plain(err)
    assert "refused" in err and not marker.exists()


def _leftover(folder, name, age_s):
    f = folder / name
    f.write_bytes(b"\0" * 1000)
    t = time.time() - age_s
    os.utime(f, (t, t))
    return f


def test_leftover_temporary_files_are_removed_when_the_project_is_opened(tmp_path):
    folder = tmp_path / "proj"
    Project.create(folder).close()
    run_dir = folder / "snapshots" / "run-0001"
    run_dir.mkdir(parents=True)
    old = _leftover(run_dir, ".epoch-002-it-000040.pt.k3j_x1.tmp", 3600)
    old_json = _leftover(run_dir, ".epoch-002-it-000040.json.a8d0.tmp", 3600)
    fresh = _leftover(run_dir, ".epoch-003-it-000060.pt.zz9.tmp", 0)  # being written now
    keep = [_leftover(run_dir, "epoch-001-it-000020.pt", 3600),
            _leftover(run_dir, "epoch-001-it-000020.json", 3600),
            _leftover(folder, ".notes.tmp", 3600)]  # not a snapshot file: not ours
    with Project.open(folder) as p:
        assert sorted(p.removed_temp_files) == sorted([old, old_json])
    assert not old.exists() and not old_json.exists()
    assert fresh.exists() and all(f.exists() for f in keep)


def test_a_temporary_file_a_writer_holds_is_left_alone(tmp_path):
    fcntl = pytest.importorskip("fcntl")
    held = _leftover(tmp_path, ".best.pt.abc.tmp", 3600)
    with open(held, "rb") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)  # as _atomic_write holds it while writing
        assert remove_stale_temp_files(tmp_path) == []
    assert held.exists()
    assert remove_stale_temp_files(tmp_path) == [held] and not held.exists()


def test_a_write_killed_midway_leaves_a_temp_file_removed_on_next_open(tmp_path):
    import signal
    import subprocess
    import sys

    folder = tmp_path / "proj"
    Project.create(folder).close()
    run_dir = folder / "snapshots" / "run-0001"
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from core.train.checkpoint import _atomic_write\n"
        "def write(f):\n"
        "    f.write(b'x' * 100000); f.flush(); print('writing', flush=True); time.sleep(60)\n"
        f"_atomic_write(Path({str(run_dir / 'epoch-001-it-000001.pt')!r}), write)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    try:
        assert proc.stdout.readline().strip() == b"writing"
        (tmp,) = run_dir.glob(".*.tmp")
        t = time.time() - 3600
        os.utime(tmp, (t, t))  # old, but its writer is alive and holds it: left alone
        if hasattr(signal, "SIGKILL"):
            assert remove_stale_temp_files(folder / "snapshots") == []
        proc.send_signal(getattr(signal, "SIGKILL", signal.SIGTERM))
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert tmp.exists() and not (run_dir / "epoch-001-it-000001.pt").exists()
    with Project.open(folder) as p:
        assert p.removed_temp_files == [tmp]
    assert list(run_dir.iterdir()) == []


def test_a_fine_tuned_run_stores_its_tuned_layers_and_says_custom_weights(tmp_path, capsys):
    """A run fine-tuned (fc8) from a custom weights file through the job and the CLI:
    the record says custom weights, the snapshot is kB, evaluation rebuilds the model from
    the weights file, and says plainly when that file is gone."""
    import numpy as np

    from core.events import drain
    from core.io.importer import import_study
    from core.synth import make_video
    from core.train.weights import WeightsMissingError

    rng = np.random.default_rng(2)
    folder = tmp_path / "proj"
    with Project.create(folder) as p:
        for v, split in enumerate(["train"] * 3 + ["test"]):
            synth = drain(make_video(tmp_path / f"v{v}.mp4", 16, rng, size=(70, 100)))
            st = drain(import_study(p, synth.path, split=split))
            # labels need not fit the pictures here; both classes in every video do
            p.set_labels([(st.id, f, "informative" if f % 2 else "non-informative")
                          for f in range(16)], user="test")
    weights = tmp_path / "my_alexnet.pth"
    torch.manual_seed(5)
    torch.save(build_alexnet(1000).state_dict(), weights)  # torchvision's format
    env = {"TORCH_HOME": str(tmp_path / "torch")}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        args = ["train", "--project", str(folder), "--depth", "fc8", "--epochs", "2",
                "--crops", "1", "--test-crops", "1", "--device", "cpu", "--precision", "fp32",
                "--weights", str(weights), "--batch-size", "8"]
        assert main(args) == 0
        out = capsys.readouterr().out
        assert "MB on disk" in out
        with Project.open(folder) as p:
            run = p.run(1)
            snap = folder / run.best_snapshot
            assert run.weights_source == f"custom weights (file: {weights})"
            import hashlib
            assert run.weights_sha256 == hashlib.sha256(weights.read_bytes()).hexdigest()
            assert sorted(torch.load(snap, weights_only=True)) == [
                "classifier.6.bias", "classifier.6.weight"]
            files = list(snap.parent.iterdir())
            assert run.metrics["disk_bytes"] == sum(f.stat().st_size for f in files) < 200_000
            assert len([f for f in files if f.suffix == ".pt"]) in (1, 2)  # best (+ last)
            rm = load_run_model(p, 1)
            assert torch.equal(rm.model.state_dict()["features.0.weight"],
                               torch.load(weights, weights_only=True)["features.0.weight"])
        assert main(["evaluate", "--project", str(folder), "--run", "1"]) == 0
        capsys.readouterr()
        weights.rename(tmp_path / "elsewhere.pth")
        with Project.open(folder) as p, pytest.raises(WeightsMissingError) as e:
            load_run_model(p, 1)
        assert "stores only the tuned layers" in str(e.value) and str(weights) in str(e.value)
        assert main(["evaluate", "--project", str(folder), "--run", "1"]) == 3
        assert "stores only the tuned layers" in capsys.readouterr().err
    finally:
        for k, v in old.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
