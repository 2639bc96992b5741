"""Train one run: task items -> subject split -> patches -> engine -> snapshots, predictions.

The run's row records everything that changes the result (see
:mod:`core.jobs.records`); predictions go to the store as N x C probabilities
(validation items under each new best snapshot, the preview study), never as labels.
"""

from __future__ import annotations

import math
import os
import socket
from collections.abc import Generator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from core.events import Notice, Scored, SnapshotSaved
from core.jobs.records import arch_label, data_rng, split_record, versions
from core.stats.threshold import RULE, youden_threshold
from core.tasks.base import ItemSet, get_task, validation_groups
from core.train.engine import TrainConfig, TrainResult, resolve_device, resolve_precision, train
from core.train.sampling import grouped_split, reduce_training
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


def model_version(run_id: int, epoch: int, depth: str) -> str:
    """How predictions name the model that made them (epoch counted from 1)."""
    return f"run {run_id} epoch {epoch + 1} ({depth})"


def put_item_predictions(project, run_id: int, split: str, items: ItemSet, pos: np.ndarray,
                         probs: np.ndarray, **kw) -> None:
    """Store ``probs`` (K, C) of the items at positions ``pos``, one row per study."""
    pos = np.asarray(pos, np.int64)
    sub = items.subset(pos)
    for study_id, where in sub.by_study().items():
        project.put_predictions(run_id, split, study_id, items.kind, sub.indices[where],
                                np.asarray(probs)[where], **kw)


def _mark_deleted_snapshots(project, run_id: int) -> None:
    for snap in project.snapshots(run_id):
        if snap.kept and not (project.folder / snap.path).is_file():
            project.set_snapshot_kept(snap.id, False)


def train_run(project, config: TrainConfig, *, task: str = "frame_quality", task_options=None,
              weights_path=None, fraction: float = 1.0, preview_study: int | None = None,
              shared=None, experiment: dict | None = None
              ) -> Generator[object, None, RunOutcome]:
    """Train one run on the project's labelled training studies.

    ``fraction`` < 1 is a reduced-data run: the train/validation split is made first
    (the validation set is the same at every fraction), then only the training side is
    reduced, by whole videos (subjects) where there are enough, else by frames spread
    through each video (:func:`core.train.sampling.reduce_training`); a Notice says what
    was kept and the split record keeps it under ``"reduced"``. ``preview_study`` is
    scored with every new best snapshot (yielded as ``Scored("strip", frames, probs)``
    and stored as its preview predictions: the GUI's probability strip).

    At the end the run's metrics get ``"threshold"``: the operating threshold on the
    positive-class probability, chosen by Youden's J on the best snapshot's validation
    predictions (:func:`validation_threshold`), and ``"layer_change"``: per epoch, each
    tuned layer's ``||W - W_0|| / ||W_0||``. A run whose loss diverged (NaN) is marked
    ``failed`` with ``metrics["diverged"]``. ``shared`` (a
    :class:`core.experiments.cache.SharedCache`) and ``experiment`` (``{"id", "key"}``,
    recorded in the config) are the experiment queue's (:mod:`core.experiments`).
    """
    weights, source, sha, ref = None, "none (scratch)", None, None
    if config.depth != "scratch":
        # refuses to go on without them; in the layout of the run's architecture
        resolve = resolve_weights if shared is None else shared.weights
        resolved = resolve(weights_path, arch=config.arch)
        # "torchvision ImageNet AlexNet weights (cache: PATH)" or "custom weights (...)"
        weights, source = resolved.state_dict, resolved.record()
        sha, ref = resolved.sha256, resolved.reference()
    t = get_task(task, **(task_options or {}))
    device = resolve_device(config.device)
    config = replace(config, device=device.type,
                     precision=resolve_precision(config.precision, device))

    # ---- items and the subject-level split (recorded)
    items = t.labelled_items(project, "train")
    groups, notice = validation_groups(items)
    if notice is not None:
        yield notice
    train_pos, val_pos = grouped_split(groups, items.labels, config.val_fraction,
                                       data_rng(config.seed, "split"))
    reduced = None
    if fraction < 1.0:  # the training side only: validation is the same at every fraction
        keep, reduced = reduce_training(groups[train_pos], items.labels[train_pos], fraction,
                                        data_rng(config.seed, "reduce"))
        train_pos = train_pos[keep]
        yield Notice(reduction_message(reduced, groups is items.groups, val_pos, groups))
        used = np.sort(np.r_[train_pos, val_pos])  # frames not kept are never decoded
        items, groups = items.subset(used), groups[used]
        train_pos, val_pos = np.searchsorted(used, train_pos), np.searchsorted(used, val_pos)
    test_ids = [s.id for s in t.studies(project, "test")]
    split = split_record(items, groups, train_pos, val_pos, test_ids, reduced)

    # ---- patches: one dataset over train + validation items, split by item
    def make():
        return t.dataset(project, items, data_rng(config.seed, "train"), split="train")
    ds = yield from (make() if shared is None else
                     shared.dataset(t, project, items, config.seed, make))
    patch_split = (np.flatnonzero(np.isin(ds.items, train_pos)),
                   np.flatnonzero(np.isin(ds.items, val_pos)))
    preview, pitems = None, None
    if preview_study is not None:
        pitems = t.preview_items(project, project.study(preview_study))
        pds = yield from t.dataset(project, pitems, data_rng(config.seed, "preview"),
                                   split="preview")
        preview = {"strip": pds}

    cfg = {**config.to_dict(), "task": t.name, "fraction": fraction, "weights": source,
           "n_items": len(items), "n_patches": len(ds), "pid": os.getpid(),
           "host": socket.gethostname(), **({"experiment": experiment} if experiment else {})}
    run = project.start_run(t.name, config.depth, cfg, seed=config.seed, split=split,
                            arch=arch_label(config.arch), precision=config.precision, device=config.device,
                            versions=versions(), weights_source=source, weights_sha256=sha,
                            task_options=t.options,
                            experiment_id=experiment["id"] if experiment else None)
    yield RunStarted(run.id, config.depth, source)
    out_dir = project.snapshots_dir / f"run-{run.id:04d}"
    engine = train(ds, config, pretrained=weights, out_dir=out_dir,
                   n_classes=len(t.class_names), positive=t.positive, preview=preview,
                   split=patch_split, pretrained_ref=ref,
                   model_adapter=getattr(t, "adapt_model", None), feature_cache=shared)
    status, result, error, snap, best_val = "cancelled", None, None, None, None
    try:
        while True:
            try:
                ev = next(engine)
            except StopIteration as stop:
                result, status = stop.value, "finished"
                if result.stopped == "diverged":
                    status, error = "failed", "diverged: the training loss became NaN"
                break
            if isinstance(ev, SnapshotSaved):
                snap = project.add_snapshot(run.id, ev.epoch, ev.path,
                                            None if math.isnan(ev.val_auc) else ev.val_auc,
                                            {"iteration": ev.iteration})
                _mark_deleted_snapshots(project, run.id)
                if ev.val_items is not None:  # the validation items under this model
                    best_val = (ev.val_items, ev.val_probs)
                    put_item_predictions(project, run.id, "val", items, ev.val_items,
                                         ev.val_probs, snapshot_id=snap.id, epoch=ev.epoch,
                                         model_version=model_version(run.id, ev.epoch,
                                                                     config.depth))
            elif isinstance(ev, Scored):
                kw = {"snapshot_id": None if snap is None else snap.id, "epoch": ev.epoch,
                      "model_version": model_version(run.id, ev.epoch, config.depth)}
                frames = pitems.indices[np.asarray(ev.items, np.int64)]
                project.put_predictions(run.id, "preview", preview_study, pitems.kind,
                                        frames, ev.probs, **kw)
                ev = Scored(ev.name, frames, ev.probs, ev.epoch, ev.positive)
            yield ev
    except GeneratorExit:
        status = "cancelled"
        raise
    except BaseException as exc:
        status, error = "failed", f"{type(exc).__name__}: {exc}"
        raise
    finally:
        engine.close()
        best = best_snapshot(project, run.id)
        metrics = {"history": result.history, "stopped": result.stopped,
                   "device": result.device, "precision": result.precision,
                   "disk_bytes": result.disk_bytes,  # the run's snapshot files
                   "last_snapshot": None if result.last_snapshot is None else
                   Path(result.last_snapshot).name,
                   "layer_change": [h["layer_change"] for h in result.history
                                    if "layer_change" in h]} if result else {}
        if error:
            metrics["error"] = error
        if result is not None and result.stopped == "diverged":
            metrics["diverged"] = True
        if best_val is not None:
            metrics["threshold"] = validation_threshold(t, items.labels[best_val[0]],
                                                        best_val[1])
        project.finish_run(run.id, status,
                           best_auc=None if best is None else best.val_auc,
                           best_snapshot=None if best is None else project.folder / best.path,
                           metrics=metrics)
    return RunOutcome(run.id, result)


def validation_threshold(task, labels: np.ndarray, probs: np.ndarray) -> dict:
    """The run's operating threshold, JSON-ready: Youden's J on validation predictions.

    Parameters
    ----------
    task : the run's task (its ``positive`` classes are merged into one)
    labels : (K,) int
        Class of each validation item.
    probs : (K, C) float
        The best snapshot's probabilities of those items.

    Returns
    -------
    dict
        ``{"rule": "youden_j_validation", "value": t, "j": J, "n_val": K}``: call an item
        positive when its positive-class probability is ``>= t``. When the validation
        items hold one class only there is no ROC curve to choose on:
        ``{"rule": "0.5 (no validation threshold)", "value": 0.5, "reason": ...}``.
    """
    from core.stats.threshold import youden_j

    pos = np.isin(np.asarray(labels), task.positive).astype(np.int64)
    scores = np.asarray(probs, np.float64)[:, list(task.positive)].sum(axis=1)
    if 0 < pos.sum() < len(pos):
        return {"rule": RULE, "value": youden_threshold(scores, pos),
                "j": youden_j(scores, pos), "n_val": int(len(pos))}
    return {"rule": "0.5 (no validation threshold)", "value": 0.5,
            "reason": "the validation items hold one class only", "n_val": int(len(pos))}


def reduction_message(kept: dict, by_subject: bool, val_pos: np.ndarray,
                      groups: np.ndarray) -> str:
    """What a reduced-data run kept, in a sentence (for its Notice)."""
    unit, one = ("videos", "video") if by_subject else ("segments of the one video",
                                                         "segment of the one video")
    share = kept["kept_items"] / max(1, kept["of_items"])
    head = f"reduced training data to {kept['fraction']:.0%}: "
    if kept["level"] == "group":
        what = (f"kept {kept['kept_groups']} of {kept['of_groups']} training {unit} "
                f"({kept['kept_items']} of {kept['of_items']} labelled frames, {share:.0%})")
    elif kept["level"] == "item":
        what = (f"{kept['of_groups']} training {unit} are too few to drop whole ones, so "
                f"{kept['kept_items']} of {kept['of_items']} labelled frames ({share:.1%}) "
                f"were kept, spread through {kept['kept_groups']} of them")
    else:
        what = f"kept all {kept['of_items']} labelled frames"
    n_val = len(np.unique(groups[val_pos]))
    return (head + what + f"; validation unchanged ({n_val} {unit if n_val != 1 else one}, "
            f"{len(val_pos)} frames)")


def best_snapshot(project, run_id: int):
    """The run's best snapshot: its newest one whose file is on disk, else its newest one
    not recorded as deleted; None when it has none.

    A snapshot is written only when the validation improved, so the newest is the best
    (one ranked by loss while the AUC was undefined included).
    """
    snaps = [s for s in project.snapshots(run_id) if s.kept]
    on_disk = [s for s in snaps if Path(project.folder / s.path).is_file()]
    return (on_disk or snaps or [None])[-1]
