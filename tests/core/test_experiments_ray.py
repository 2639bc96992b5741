"""The experiment queue on Ray: a one-machine cluster runs a two-run queue (skipped
when Ray, an optional extra, is absent)."""

from __future__ import annotations

import pytest
import torch
import torchvision
from test_experiments import make_project, plan_of

from core.events import drain
from core.experiments import QueueEvent, planned_runs, run_experiment, start_experiment
from core.store import Project

ray = pytest.importorskip("ray")


@pytest.mark.slow
def test_ray_runs_a_two_run_queue_on_this_machine(tmp_path):
    w = tmp_path / "random-alexnet.pth"
    torch.manual_seed(0)
    torch.save(torchvision.models.alexnet(weights=None).state_dict(), w)
    folder = make_project(tmp_path, [(12, "train")] * 3 + [(16, "test")])
    from core.experiments.ray_engine import run_on_ray

    try:
        with Project.open(folder) as p:
            exp = start_experiment(p, "depth", "frame_quality",
                                   plan_of("depth", w, depths=["fc8", "fc7"]))
            evs: list = []
            out = drain(run_on_ray(p, exp.id, num_cpus=1), evs.append)
            states = [(e.key, e.state) for e in evs if isinstance(e, QueueEvent)]
            assert ("fc8", "finished") in states and ("fc7", "finished") in states
            assert out.status == "finished"
            runs = planned_runs(p, exp.id)
            assert {r.depth for r in runs.values()} == {"fc8", "fc7"}
            assert all(r.metrics["test"]["auc"] is not None for r in runs.values())
            # resumed through the same call: nothing to do
            again: list = []
            drain(run_experiment(p, exp.id, engine="ray"), again.append)
            assert [e.state for e in again if isinstance(e, QueueEvent)] == ["skipped"] * 2
    finally:
        ray.shutdown()
