"""Use a run's best model: evaluate it on the test studies, score a study; recover runs.

Evaluation rebuilds everything from the run's row: the task with its recorded options,
the recorded seed (test crops from ``data_rng(seed, "test")``), the recorded precision
and device, the best snapshot. On a CPU in fp32 evaluating a run twice gives the same
probabilities and the same AUC, bit for bit.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Generator
from dataclasses import dataclass

import numpy as np
import torch

from core.events import Notice, Progress
from core.jobs.records import data_rng
from core.jobs.training import best_snapshot, model_version, put_item_predictions
from core.tasks.base import ItemSet, get_task, subject_of
from core.train.checkpoint import SnapshotError, load_model
from core.train.predict import predict


@dataclass(frozen=True)
class RunModel:
    """A run's best model, ready to score, and how it is to be run."""

    run: object  # core.store Run
    task: object  # core.tasks Task
    model: torch.nn.Module
    snapshot: object | None  # core.store Snapshot (None: a path from before v2)
    seed: int
    device: str
    precision: str


def _device(recorded: str | None, asked: str | None) -> tuple[str, Notice | None]:
    if asked is not None:
        return asked, None
    if recorded == "cuda" and not torch.cuda.is_available():
        return "cpu", Notice("this run trained on a CUDA GPU; none is here, so it runs on the "
                             "CPU (results may differ in the last digits)", "warning")
    return recorded or "auto", None


def load_run_model(project, run_id: int, *, task_options=None, seed: int | None = None,
                   device: str | None = None, precision: str | None = None) -> RunModel:
    """The run's best model and its recorded settings (each may be overridden).

    ``task_options`` replaces the recorded task options when given; ``seed``,
    ``device`` and ``precision`` default to the run's.

    Raises
    ------
    core.train.checkpoint.SnapshotError
        The run's model file is damaged or not a LayerTune snapshot (never loaded
        unsafely: a file with code in it is refused unread).
    core.train.weights.WeightsMissingError
        A fine-tuned run's snapshot holds only the tuned layers and the pretrained file
        it names (by SHA-256) is not here.
    """
    run = project.run(run_id)
    if not run.best_snapshot:
        raise ValueError(f"run {run_id} has no saved model (status: {run.status})")
    options = task_options if task_options is not None else (run.task_options or {})
    t = get_task(run.task, **options)
    try:  # the full model: the snapshot, completed from the pretrained file if need be
        model, _ = load_model(project.folder / run.best_snapshot, len(t.class_names))
    except SnapshotError as exc:
        raise exc.for_run(run_id) from None
    adapt = getattr(t, "adapt_model", None)  # e.g. the CIMT context network
    if adapt is not None:
        model = adapt(model)
    snap = next((s for s in project.snapshots(run_id) if s.path == run.best_snapshot), None)
    if seed is None:
        seed = run.seed if run.seed is not None else int(run.config.get("seed", 0))
    if precision is None:
        precision = run.precision or run.metrics.get("precision") or "fp32"
    return RunModel(run, t, model, snap, int(seed), device or run.device or "auto", precision)


def _test_studies(project, rm: RunModel) -> tuple[list[int], list[str]]:
    """Current test studies of the run's task, minus any whose subject it trained on."""
    split = rm.run.split or {}
    seen = set(split.get("train", []) + split.get("val", [])) \
        if split.get("unit") == "subject" else set()
    ids, dropped = [], []
    for s in rm.task.studies(project, "test"):
        (dropped.append(s.name) if subject_of(s) in seen else ids.append(s.id))
    return ids, dropped


def evaluate_run(project, run_id: int, *, task_options=None, seed: int | None = None,
                 device: str | None = None, precision: str | None = None, shared=None
                 ) -> Generator[object, None, object]:
    """Score the test studies' labelled items with a run's best model; the task's result.

    Settings default to the run's row (see :func:`load_run_model`). The test
    probabilities are stored as the run's ``test`` predictions; the result goes to the
    run's metrics under ``"test"`` and the settings used under ``"test_settings"``.
    ``shared`` (a :class:`core.experiments.cache.SharedCache`) keeps the test patches and
    the pretrained layers' outputs on them for the next run of the same experiment.
    """
    recorded = project.run(run_id).task_options or {}
    device, notice = _device(project.run(run_id).device, device)
    if notice is not None:
        yield notice
    if task_options is not None:  # given options override the run's, one by one
        task_options = {**recorded, **task_options}
    rm = load_run_model(project, run_id, task_options=task_options, seed=seed,
                        device=device, precision=precision)
    run, t = rm.run, rm.task
    yield _settings_notice(t.options, recorded, task_options)
    ids, dropped = _test_studies(project, rm)
    if dropped:
        yield Notice(f"not evaluated: {', '.join(dropped)} (its subject was trained on by "
                     f"run {run.id})", "warning")
    if run.split is not None and sorted(ids) != run.split.get("test"):
        if run.split.get("test"):
            yield Notice(f"the test studies changed since run {run.id} was trained; "
                         "evaluating the current ones (recorded with the run)")
        project.update_run(run.id, split={**run.split, "test": sorted(ids)})
    items = t.labelled_items(project, "test", ids)

    def make():
        return t.dataset(project, items, data_rng(rm.seed, "test"), split="test")

    ds = yield from (make() if shared is None else shared.dataset(t, project, items, rm.seed,
                                                                   make))
    extra = {} if shared is None or hasattr(t, "predict") else {"features": shared.features}
    pos, probs = yield from _predict(t)(rm.model, ds, depth=run.depth, device=rm.device,
                                        precision=rm.precision, **extra)
    items = items.subset(pos)
    what = getattr(t, "result_name", "FROC" if t.item_kind == "candidate" else "ROC")
    # a task whose result needs more than item probabilities (CIMT: the ROIs' dense maps)
    extra = {"dataset": ds} if getattr(t, "evaluates_dataset", False) else {}
    yield Progress("statistics", 0, 1, f"{what} and confidence intervals")
    res = t.evaluate(items, probs, rng=np.random.default_rng(rm.seed), project=project,
                     **extra)
    yield Progress("statistics", 1, 1, f"{what} and confidence intervals")
    put_item_predictions(project, run.id, "test", items, np.arange(len(items)), probs,
                         **_provenance(rm))
    settings = {"seed": rm.seed, "device": rm.device, "precision": rm.precision,
                "task_options": t.options, "studies": sorted(ids),
                "snapshot": run.best_snapshot}
    metrics = {**run.metrics, "test": res.to_dict(), "test_settings": settings}
    project.finish_run(run.id, run.status, best_auc=run.best_auc,
                       best_snapshot=project.folder / run.best_snapshot, metrics=metrics)
    return res


def _predict(task):
    """The task's own scoring (e.g. patches built on the device) or the shared one."""
    return getattr(task, "predict", None) or predict


def _settings_notice(used: dict, recorded: dict, asked: dict | None) -> Notice:
    """Which test settings evaluation uses: the run's own, or those asked for."""
    if "test_crops" in used:
        n = used["test_crops"]
        if asked and "test_crops" in asked and asked["test_crops"] != recorded.get("test_crops"):
            was = recorded.get("test_crops")
            return Notice(f"evaluating with {n} test crops per frame as asked (the run "
                          f"used {was if was is not None else 'the default'})")
        return Notice(f"evaluating with the run's settings: {n} test crops per frame")
    return Notice("evaluating with the run's settings")


def _provenance(rm: RunModel) -> dict:
    snap = rm.snapshot
    epoch = None if snap is None else snap.epoch
    return {"snapshot_id": None if snap is None else snap.id, "epoch": epoch,
            "model_version": None if epoch is None else
            model_version(rm.run.id, epoch, rm.run.depth)}


def score_study(project, run_id: int, study_id: int, *, task_options=None,
                seed: int | None = None, device: str | None = None
                ) -> Generator[object, None, tuple[np.ndarray, np.ndarray]]:
    """Score a study's preview items (frames spread over it, plus its labelled ones)
    with a run's best model; stored as the run's ``preview`` predictions.

    Returns (item ids (N,), probs (N, C)).
    """
    device, notice = _device(project.run(run_id).device, device)
    if notice is not None:
        yield notice
    rm = load_run_model(project, run_id, task_options=task_options, seed=seed, device=device)
    t = rm.task
    items: ItemSet = t.preview_items(project, project.study(study_id))
    ds = yield from t.dataset(project, items, data_rng(rm.seed, "preview"), split="preview")
    pos, probs = yield from _predict(t)(rm.model, ds, depth=rm.run.depth, device=rm.device,
                                        precision=rm.precision)
    ids = items.indices[pos]
    project.put_predictions(run_id, "preview", study_id, items.kind, ids, probs,
                            **_provenance(rm))
    return ids, probs


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover_interrupted_runs(project) -> list[int]:
    """Mark runs left "running" by a process that no longer exists as failed.

    A crash or kill mid-training leaves the run row "running"; its best snapshot (written
    atomically) is kept and recorded, so nothing already learnt is lost. Runs of a live
    process on this host, or of another host, are left alone.
    """
    fixed = []
    host = socket.gethostname()
    for run in project.runs():
        if run.status != "running":
            continue
        pid, run_host = run.config.get("pid"), run.config.get("host")
        if run_host != host or (pid is not None and _pid_alive(int(pid))):
            continue
        best = best_snapshot(project, run.id)
        project.finish_run(run.id, "failed",
                           best_auc=None if best is None else best.val_auc,
                           best_snapshot=None if best is None else project.folder / best.path,
                           metrics={**run.metrics, "error": "interrupted: the program ended "
                                    "during training; the best model saved before is kept"})
        fixed.append(run.id)
    return fixed
