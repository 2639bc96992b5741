"""Project-level jobs: train a run, evaluate it, score a study, recover interrupted runs.

Each job is a generator that wires a project, a task (:mod:`core.tasks`), the
pretrained weights and the training engine together, records the run in the project
(everything needed to reproduce it: :mod:`core.jobs.records`), stores predictions and
forwards the engine's events (plus :class:`RunStarted`). The CLI and the GUI worker both
drive these generators.
"""

from __future__ import annotations

from core.jobs.evaluation import (
    RunModel,
    evaluate_run,
    load_run_model,
    recover_interrupted_runs,
    score_study,
)
from core.jobs.records import data_rng, versions
from core.jobs.training import RunOutcome, RunStarted, best_snapshot, train_run

__all__ = ["RunModel", "RunOutcome", "RunStarted", "best_snapshot", "data_rng",
           "evaluate_run", "load_run_model", "recover_interrupted_runs",
           "score_study", "train_run", "versions"]
