"""The queue survives a crash; reduced data at 1 %; the CLI; a depth sweep on the demo.

A child process runs a three-run queue and is killed (SIGKILL) in the middle of the
second run; the queue is then resumed here: the first run is not redone, the killed one
is marked interrupted and trained again, the third is trained, all are evaluated.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torchvision
from test_experiments import OPTIONS, TRAIN, make_project, plan_of

from core.events import drain
from core.experiments import QueueEvent, planned_runs, run_experiment, start_experiment
from core.store import Project

ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import sys, time
from core.events import BatchEnd
from core.experiments import QueueEvent, run_experiment
from core.store import Project

folder, eid, marker = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with Project.open(folder) as p:
    second = False
    for ev in run_experiment(p, eid, evaluate=False):
        if isinstance(ev, QueueEvent) and ev.state == "started" and ev.index == 1:
            second = True
        if second and isinstance(ev, BatchEnd):
            open(marker, "w").write("mid-run")
            time.sleep(300)  # killed here, mid-run
"""


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "random-alexnet.pth"
    torch.manual_seed(0)
    torch.save(torchvision.models.alexnet(weights=None).state_dict(), path)
    return path


def test_queue_resumes_after_a_crash_without_redoing_finished_runs(tmp_path, weights):
    folder = make_project(tmp_path, [(12, "train")] * 3 + [(16, "test")])
    with Project.open(folder) as p:
        exp = start_experiment(p, "data", "frame_quality",
                               plan_of("data", weights, depths=["fc8"], fractions=[1, .5, .25]))
    marker = tmp_path / "marker"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(folder), str(exp.id),
                              str(marker)], cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while not marker.exists():
        assert child.poll() is None, child.communicate()[1].decode()[-2000:]
        assert time.monotonic() < deadline, "the child never reached its second run"
        time.sleep(0.2)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(30)
    with Project.open(folder) as p:
        before = planned_runs(p, exp.id)
        assert before["fc8@1"].status == "finished"
        assert before["fc8@0.5"].status == "running"  # left so by the kill
        assert "fc8@0.25" not in before
        evs: list = []
        out = drain(run_experiment(p, exp.id), evs.append)
        states = [(e.key, e.state) for e in evs if isinstance(e, QueueEvent)]
        assert states[0] == ("fc8@1", "skipped")
        assert [k for k, s in states if s == "started"] == ["fc8@0.5", "fc8@0.25"]
        assert [k for k, s in states if s == "evaluated"] == ["fc8@1", "fc8@0.5", "fc8@0.25"]
        after = planned_runs(p, exp.id)
        assert after["fc8@1"].id == before["fc8@1"].id
        a, b = after["fc8@1"], before["fc8@1"]  # not redone (evaluation adds its test)
        assert (a.started, a.best_snapshot, a.metrics["history"]) == (
            b.started, b.best_snapshot, b.metrics["history"])
        killed = p.run(before["fc8@0.5"].id)
        assert killed.status == "failed" and "interrupted" in killed.metrics["error"]
        assert killed.experiment_id is None and after["fc8@0.5"].id != killed.id
        assert out.status == "finished" and [r.status for r in out.runs] == ["finished"] * 3


def test_reduced_data_at_1_percent_with_4_training_videos(tmp_path, weights):
    folder = make_project(tmp_path, [(15, "train")] * 4 + [(15, "test")], seed=1)
    with Project.open(folder) as p:
        exp = start_experiment(p, "data", "frame_quality",
                               plan_of("data", weights, depths=["fc8"], fractions=[1, 0.01]))
        out = drain(run_experiment(p, exp.id))
        runs = planned_runs(p, exp.id)
        full, one = runs["fc8@1"], runs["fc8@0.01"]
        assert (one.split["val"], one.split["n_val_items"]) == (full.split["val"],
                                                                 full.split["n_val_items"])
        red = one.split["reduced"]
        assert red["level"] == "item" and red["fraction"] == 0.01
        assert one.split["n_train_items"] == 2 == red["kept_items"]  # one frame per class
        assert full.split["n_train_items"] == 45
        assert [r.n_labels for r in out.runs] == [45, 2]
        assert all(r.test is not None for r in out.runs) and out.status == "finished"


def _cli(*argv) -> tuple[int, dict]:
    from core.cli_experiments import add_parsers

    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp):
        sp.add_argument("--json", action="store_true")
        sp.add_argument("-q", "--quiet", action="store_true")

    add_parsers(sub, common)
    args = p.parse_args([*argv, "--json", "-q"])
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = args.func(args)
    return rc, json.loads(buf.getvalue())


def test_cli_sweep_experiments_recommend(tmp_path, weights):
    folder = make_project(tmp_path, [(12, "train")] * 3 + [(16, "test")])
    rc, out = _cli("sweep", "--project", str(folder), "--experiment", "depth", "--depths",
                   "fc8", "fc7", "--epochs", "1", "--batch-size", "8", "--device", "cpu",
                   "--precision", "fp32", "--crops", "1", "--test-crops", "1", "--seed", "3",
                   "--weights", str(weights))
    assert rc == 0 and out["status"] == "finished"
    assert [r["key"] for r in out["runs"]] == ["fc8", "fc7"]
    assert all(r["test"]["auc"] is not None for r in out["runs"])
    rc, listed = _cli("experiments", "--project", str(folder))
    assert listed["experiments"][0]["experiment"] == out["experiment"]
    pytest.importorskip("core.stats.recommend")
    rc, rec = _cli("recommend", "--project", str(folder), "--experiment",
                   str(out["experiment"]))
    assert rc == 0 and rec["depth"] in ("fc8", "fc7") and rec["best_depth"] in ("fc8", "fc7")
    assert {r["depth"] for r in rec["rows"]} == {"fc8", "fc7"}


def test_a_ray_address_that_does_not_answer_is_refused():
    from core.experiments.ray_engine import RayUnavailableError, check_address

    with pytest.raises(RayUnavailableError, match="does not answer.*nothing was started"):
        check_address("127.0.0.1:9", timeout=1.0)


@pytest.mark.slow
def test_depth_sweep_on_the_small_demo(tmp_path):
    """All nine depths (random weights as the pretrained file), one epoch, one crop."""
    from core.demo import SMALL, make_demo_project

    w = tmp_path / "random-alexnet.pth"
    torch.manual_seed(0)
    torch.save(torchvision.models.alexnet(weights=None).state_dict(), w)
    project = drain(make_demo_project(tmp_path / "demo", SMALL))
    with project as p:
        exp = start_experiment(p, "depth", "frame_quality", plan_of("depth", w))
        out = drain(run_experiment(p, exp.id))
        assert out.status == "finished" and len(out.runs) == 9
        assert all(r.status == "finished" and r.test["auc"] is not None for r in out.runs)
        runs = [p.run(r.run_id) for r in out.runs]
        assert len({str(r.split) for r in runs}) == 1  # one split for the ladder
        assert set(runs[-2].metrics["layer_change"][0]) == {
            "conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8"}
    assert OPTIONS and TRAIN


def test_cli_sweep_takes_the_candidate_tasks_patch_options():
    """``--patches`` / ``--test-patches`` reach a polyp or emboli plan (the paper's 216
    test patches per candidate take an hour on a CPU; a sweep must be able to use fewer)."""
    from core.cli import build_parser
    from core.cli_experiments import _plan

    args = build_parser().parse_args(["sweep", "--project", "p", "--task", "polyps",
                                      "--depths", "fc8", "--patches", "4",
                                      "--test-patches", "8"])
    plan = _plan(args)
    assert plan["task"] == "polyps"
    assert plan["task_options"] == {"train_patches": 4, "test_patches": 8}
