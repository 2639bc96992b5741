"""Project-level jobs: train a run, evaluate it, score a study.

Each job is a generator that wires a project, a task, the pretrained weights and the
training engine together, records the run in the project database and forwards the
engine's events (plus :class:`RunStarted`). The CLI and the GUI worker both drive
these generators.
"""

from __future__ import annotations

import math
import os
import socket
from collections.abc import Generator
from dataclasses import dataclass

import numpy as np

from core.events import Notice, Progress, Scored, SnapshotSaved
from core.stats import RocResult, roc_analysis
from core.tasks.base import get_task
from core.train.checkpoint import load_snapshot
from core.train.engine import TrainConfig, TrainResult, score_dataset, train
from core.train.model import build_alexnet
from core.train.sampling import group_fraction
from core.train.weights import resolve_weights


@dataclass(frozen=True)
class RunStarted:
    run_id: int
    depth: str
    weights: str  # where the pretrained weights came from, or "none (scratch)"


@dataclass
class RunOutcome:
    run_id: int
    result: TrainResult


def train_run(project, config: TrainConfig, *, task: str = "frames", task_options=None,
              weights_path=None, fraction: float = 1.0, preview_study: int | None = None
              ) -> Generator[object, None, RunOutcome]:
    """Train one run on the project's labelled training studies.

    ``fraction`` < 1 keeps a random share of the training videos (reduced-data
    experiments reduce at the video level). ``preview_study`` is scored with every new
    best snapshot and the scores stored (the GUI's probability strip).
    """
    weights, source = None, "none (scratch)"
    if config.depth != "scratch":
        resolved = resolve_weights(weights_path)  # refuses to go on without them
        weights, source = resolved.state_dict, f"{resolved.source}: {resolved.path}"
    t = get_task(task, **(task_options or {}))
    rng = np.random.default_rng(config.seed)
    data = yield from t.training_data(project, rng)
    ds = data.dataset
    if fraction < 1.0:
        keep = group_fraction(ds.groups, fraction, rng)
        ds = ds.subset(keep)
        yield Notice(f"reduced training data: {len(np.unique(ds.groups))} videos kept "
                     f"({fraction:.0%})")
    preview = None
    if preview_study is not None:
        labelled = [lab.frame for lab in project.labels(preview_study)]
        pds = yield from t.preview_data(project.study(preview_study), rng, labelled, project)
        preview = {"strip": pds}
    cfg = {**config.to_dict(), "task": task, "fraction": fraction, "weights": source,
           "n_items": len(data.keys), "n_patches": len(ds), "pid": os.getpid(),
           "host": socket.gethostname()}
    run = project.start_run(task, config.depth, cfg)
    yield RunStarted(run.id, config.depth, source)
    out_dir = project.snapshots_dir / f"run-{run.id:04d}"
    engine = train(ds, config, pretrained=weights, out_dir=out_dir,
                   n_classes=len(t.class_names), positive=t.positive, preview=preview)
    status, result, error = "cancelled", None, None
    try:
        while True:
            try:
                ev = next(engine)
            except StopIteration as stop:
                result = stop.value
                status = "finished"
                break
            if isinstance(ev, SnapshotSaved):
                project.add_snapshot(run.id, ev.epoch, ev.path,
                                     None if math.isnan(ev.val_auc) else ev.val_auc,
                                     {"iteration": ev.iteration})
            elif isinstance(ev, Scored) and preview_study is not None:
                items, probs = np.asarray(ev.items), np.asarray(ev.probs)
                project.put_scores(run.id, preview_study, items, probs)
                # the model's own labels, with provenance (which run and epoch said so)
                names = t.class_names
                if len(names) == 2:
                    project.set_labels(
                        [(preview_study, int(f), names[int(p >= 0.5)])
                         for f, p in zip(items, probs)],
                        source="model", user="layertune",
                        model_version=f"run {run.id} epoch {ev.epoch + 1} ({config.depth})")
            yield ev
    except GeneratorExit:
        status = "cancelled"
        raise
    except BaseException as exc:
        status, error = "failed", f"{type(exc).__name__}: {exc}"
        raise
    finally:
        engine.close()
        best = _best_snapshot(project, run.id)
        metrics = {"history": result.history, "stopped": result.stopped,
                   "device": result.device, "precision": result.precision} if result else {}
        if error:
            metrics["error"] = error
        project.finish_run(run.id, status,
                           best_auc=None if best is None else best.val_auc,
                           best_snapshot=None if best is None else project.folder / best.path,
                           metrics=metrics)
    return RunOutcome(run.id, result)


def _load_run_model(project, run_id: int):
    run = project.run(run_id)
    if not run.best_snapshot:
        raise ValueError(f"run {run_id} has no saved model (status: {run.status})")
    sd, meta = load_snapshot(project.folder / run.best_snapshot)
    model = build_alexnet(int(meta.get("n_classes", 2)))
    model.load_state_dict(sd)
    return run, model, meta


def evaluate_run(project, run_id: int, *, task_options=None, seed: int = 0,
                 device: str = "auto") -> Generator[object, None, RocResult]:
    """Score the test studies' labelled frames with a run's best model; ROC + CIs.

    The result is stored in the run's metrics under ``"test"``.
    """
    run, model, meta = _load_run_model(project, run_id)
    t = get_task(run.task, **(task_options or {}))
    rng = np.random.default_rng(seed)
    data = yield from t.test_data(project, rng)
    items, scores = yield from score_dataset(model, data.dataset, positive=t.positive,
                                             device=device)
    labels = np.isin(data.item_labels[items], t.positive).astype(np.int64)
    yield Progress("statistics", 0, 1, "ROC and confidence intervals")
    res = roc_analysis(scores, labels, rng=np.random.default_rng(seed))
    yield Progress("statistics", 1, 1, "ROC and confidence intervals")
    metrics = {**run.metrics, "test": res.to_dict()}
    project.finish_run(run.id, run.status, best_auc=run.best_auc,
                       best_snapshot=project.folder / run.best_snapshot, metrics=metrics)
    return res


def score_study(project, run_id: int, study_id: int, *, task_options=None, seed: int = 0,
                device: str = "auto") -> Generator[object, None, tuple[np.ndarray, np.ndarray]]:
    """Score frames spread over one study with a run's best model; stored in the project."""
    run, model, _ = _load_run_model(project, run_id)
    t = get_task(run.task, **(task_options or {}))
    labelled = [lab.frame for lab in project.labels(study_id)]
    ds = yield from t.preview_data(project.study(study_id), np.random.default_rng(seed),
                                   labelled, project)
    items, scores = yield from score_dataset(model, ds, positive=t.positive, device=device)
    project.put_scores(run_id, study_id, items, scores)
    return items, scores


def _best_snapshot(project, run_id: int):
    """The run's snapshot with the highest validation AUC (else its newest), or None."""
    snaps = project.snapshots(run_id)
    return max((s for s in snaps if s.val_auc is not None), key=lambda s: s.val_auc,
               default=snaps[-1] if snaps else None)


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
        best = _best_snapshot(project, run.id)
        project.finish_run(run.id, "failed",
                           best_auc=None if best is None else best.val_auc,
                           best_snapshot=None if best is None else project.folder / best.path,
                           metrics={**run.metrics, "error": "interrupted: the program ended "
                                    "during training; the best model saved before is kept"})
        fixed.append(run.id)
    return fixed
