"""Experiments: queues of training runs on one split and seed (SPEC §1.8, §2.3).

* :mod:`~core.experiments.plans` -- depth, data, convergence and budget plans;
* :mod:`~core.experiments.queue` -- the persisted, resumable queue (a generator);
* :mod:`~core.experiments.cache` -- weights, data and frozen-layer features shared by
  the runs of an experiment;
* :mod:`~core.experiments.layer_change` -- relative change of each tuned layer;
* :mod:`~core.experiments.leakage` -- subjects or near-identical frames across the split;
* :mod:`~core.experiments.ray_engine` -- the same queue on Ray (optional extra ``ray``).
"""

from __future__ import annotations

from core.experiments.leakage import LeakageWarning, leakage_check, phash
from core.experiments.plans import KINDS, RunSpec, describe, expand, make_plan
from core.experiments.queue import (
    ExperimentOutcome,
    QueueEvent,
    RunSummary,
    evaluate_experiment,
    planned_runs,
    run_experiment,
    start_experiment,
    summarise,
)

__all__ = ["KINDS", "ExperimentOutcome", "LeakageWarning", "QueueEvent", "RunSpec",
           "RunSummary", "describe", "evaluate_experiment", "expand", "leakage_check",
           "make_plan", "phash", "planned_runs", "run_experiment", "start_experiment",
           "summarise"]
