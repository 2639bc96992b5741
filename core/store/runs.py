"""Training runs, their snapshots and predictions, and experiments.

A run's row records everything that changes its result (task and options, depth and
Table II config, seed, the split itself, architecture, precision, device, library
versions, the pretrained weights' source and SHA-256), so it can be reproduced from the
row alone. Each kept snapshot is its own file. Predictions are stored per run, split
(``val``, ``test``, ``preview``), study and item kind as N x C class probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.store.db import ProjectError, choice, now, to_json, where
from core.store.schema import ITEM_KINDS, PREDICTION_SPLITS, RUN_STATUSES

#: Run columns that record how to reproduce it (JSON ones are dicts or lists).
RECORD_FIELDS = ("seed", "split", "arch", "precision", "device", "versions", "weights_source",
                 "weights_sha256", "task_options", "experiment_id")
_JSON_FIELDS = ("split", "versions", "task_options")


@dataclass(frozen=True)
class Run:
    """One training run; ``best_snapshot`` is relative to the project folder."""

    id: int
    task: str
    depth: str
    config: dict
    status: str
    started: str
    finished: str | None
    best_auc: float | None
    best_snapshot: str | None
    metrics: dict
    seed: int | None = None
    split: dict | None = None
    arch: str | None = None
    precision: str | None = None
    device: str | None = None
    versions: dict | None = None
    weights_source: str | None = None
    weights_sha256: str | None = None
    task_options: dict | None = None
    experiment_id: int | None = None


@dataclass(frozen=True)
class Snapshot:
    """A saved model of a run; ``path`` is relative to the project folder when inside it.

    ``kept`` is False once its file was deleted to save space (the row stays).
    """

    id: int
    run_id: int
    epoch: int
    path: str
    val_auc: float | None
    meta: dict
    time: str
    kept: bool = True


@dataclass(frozen=True, eq=False)
class Prediction:
    """What a run's model said about the items of one study.

    ``items`` (N,) int64 item ids (frame numbers, candidate ids...), ``probs`` (N, C)
    float32 class probabilities, rows summing to 1.
    """

    id: int
    run_id: int
    snapshot_id: int | None
    split: str
    study_id: int
    item_kind: str
    items: np.ndarray
    probs: np.ndarray
    epoch: int | None
    model_version: str | None
    time: str
    map_path: str | None = None


@dataclass(frozen=True)
class Experiment:
    id: int
    kind: str
    task: str
    plan: dict
    status: str
    created: str
    finished: str | None
    runs: list[int] = field(default_factory=list)


_RUN_COLS = ("id, task, depth, config, status, started, finished, best_auc, best_snapshot, "
             "metrics, " + ", ".join(RECORD_FIELDS))
_PRED_COLS = ("id, run_id, snapshot_id, split, study_id, item_kind, n_classes, items, probs, "
              "epoch, model_version, time, map_path")


def _run(row: tuple, db) -> Run:
    r = list(row)
    r[3] = db._json(r[3], f"the settings of run {r[0]}")
    r[9] = db._json(r[9], f"the results of run {r[0]}")
    for i, name in enumerate(RECORD_FIELDS, start=10):
        if name in _JSON_FIELDS:
            r[i] = db._json(r[i], f"the {name.replace('_', ' ')} of run {r[0]}")
    return Run(*r)


def _prediction(row: tuple) -> Prediction:
    pid, run_id, snap, split, sid, kind, c, items, probs, epoch, version, time, map_path = row
    return Prediction(pid, run_id, snap, split, sid, kind,
                      np.frombuffer(items, "<i8").astype(np.int64),
                      np.frombuffer(probs, "<f4").reshape(-1, c).astype(np.float32),
                      epoch, version, time, map_path)


def _record(record: dict[str, Any]) -> dict[str, Any]:
    unknown = set(record) - set(RECORD_FIELDS)
    if unknown:
        raise ValueError(f"unknown run fields {sorted(unknown)}; valid: {', '.join(RECORD_FIELDS)}")
    return {k: (to_json(v) if k in _JSON_FIELDS and v is not None else v)
            for k, v in record.items()}


class RunsMixin:
    """Run, snapshot, prediction and experiment methods of :class:`core.store.Project`."""

    # ------------------------------------------------------------------ runs
    def start_run(self, task: str, depth: str, config: dict, **record: Any) -> Run:
        """Record a new run with status ``"running"``; ``record``: see RECORD_FIELDS."""
        rec = _record(record)
        cols = ", ".join(["task", "depth", "config", "status", "started", "metrics", *rec])
        marks = ", ".join("?" * (6 + len(rec)))
        with self._write() as con:
            cur = con.execute(f"INSERT INTO runs ({cols}) VALUES ({marks})",
                              (task, depth, to_json(config), "running", now(), "{}",
                               *rec.values()))
        return self.run(cur.lastrowid)

    def update_run(self, run_id: int, **record: Any) -> Run:
        """Fill in reproducibility fields known only later (resolved device, the split...)."""
        rec = _record(record)
        self.run(run_id)
        if rec:
            with self._write() as con:
                con.execute(f"UPDATE runs SET {', '.join(f'{k}=?' for k in rec)} WHERE id=?",
                            (*rec.values(), int(run_id)))
        return self.run(run_id)

    def finish_run(self, run_id: int, status: str, best_auc: float | None = None,
                   best_snapshot: str | Path | None = None, metrics: dict | None = None) -> Run:
        """Mark a run finished, cancelled or failed, with its results."""
        choice(status, [s for s in RUN_STATUSES if s != "running"], "status")
        self.run(run_id)
        with self._write() as con:
            con.execute(
                "UPDATE runs SET status=?, finished=?, best_auc=?, best_snapshot=?, "
                "metrics=? WHERE id=?",
                (status, now(), None if best_auc is None else float(best_auc),
                 self._relative(best_snapshot), to_json(metrics or {}), int(run_id)))
        return self.run(run_id)

    def runs(self, task: str | None = None) -> list[Run]:
        if task is None:
            rows = self._read(f"SELECT {_RUN_COLS} FROM runs ORDER BY id")
        else:
            rows = self._read(f"SELECT {_RUN_COLS} FROM runs WHERE task=? ORDER BY id", (task,))
        return [_run(r, self) for r in rows]

    def run(self, run_id: int) -> Run:
        rows = self._read(f"SELECT {_RUN_COLS} FROM runs WHERE id=?", (int(run_id),))
        if not rows:
            raise ProjectError(f"There is no training run number {run_id} in this project.")
        return _run(rows[0], self)

    # ------------------------------------------------------------------ snapshots
    def add_snapshot(self, run_id: int, epoch: int, path: str | Path, val_auc: float | None,
                     meta: dict | None = None) -> Snapshot:
        """Record a saved model of a run (the file itself is written by the caller)."""
        with self._write() as con:
            cur = con.execute(
                "INSERT INTO snapshots (run_id, epoch, path, val_auc, meta, time) "
                "VALUES (?,?,?,?,?,?)",
                (int(run_id), int(epoch), self._relative(path),
                 None if val_auc is None else float(val_auc), to_json(meta or {}), now()))
        return self.snapshots(run_id, _id=cur.lastrowid)[0]

    def snapshots(self, run_id: int, *, _id: int | None = None) -> list[Snapshot]:
        """A run's snapshots, oldest first."""
        sql = ("SELECT id, run_id, epoch, path, val_auc, meta, time, kept FROM snapshots "
               "WHERE run_id=?")
        args: tuple = (int(run_id),)
        if _id is not None:
            sql, args = sql + " AND id=?", (*args, _id)
        rows = self._read(sql + " ORDER BY id", args)
        return [Snapshot(r[0], r[1], r[2], r[3], r[4],
                         self._json(r[5], f"the metadata of snapshot {r[0]}"), r[6], bool(r[7]))
                for r in rows]

    def set_snapshot_kept(self, snapshot_id: int, kept: bool) -> None:
        """Record that a snapshot's file was deleted (False) or is on disk (True)."""
        with self._write() as con:
            con.execute("UPDATE snapshots SET kept=? WHERE id=?", (int(kept), int(snapshot_id)))

    # ------------------------------------------------------------------ predictions
    def put_predictions(self, run_id: int, split: str, study_id: int, item_kind: str,
                        items: Any, probs: Any, *, snapshot_id: int | None = None,
                        epoch: int | None = None, model_version: str | None = None,
                        map_path: str | Path | None = None) -> None:
        """Store a run's class probabilities for items of a study (replacing older ones).

        Parameters
        ----------
        split : {"val", "test", "preview"}
        item_kind : {"frame", "candidate", "roi", "pixel"}
        items : (N,) integer array
        probs : (N, C) float array
            Class probabilities; stored as float32. A 1-D array is taken as C = 1.
        map_path : path, optional
            A dense map file (e.g. confidence maps) these rows refer to.
        """
        choice(split, PREDICTION_SPLITS, "split")
        choice(item_kind, ITEM_KINDS, "item kind")
        items, probs = np.asarray(items), np.asarray(probs)
        if probs.ndim == 1:
            probs = probs[:, None]
        if items.ndim != 1 or probs.ndim != 2 or len(items) != len(probs):
            raise ValueError(f"items (N,) and probs (N, C) must have equal length, got shapes "
                             f"{items.shape} and {probs.shape}")
        if items.size and not np.issubdtype(items.dtype, np.integer):
            raise ValueError(f"items must be integers, got dtype {items.dtype}")
        with self._write() as con:
            con.execute(
                "INSERT OR REPLACE INTO predictions (run_id, snapshot_id, split, study_id, "
                "item_kind, n_classes, items, probs, epoch, model_version, time, map_path) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (int(run_id), snapshot_id, split, int(study_id), item_kind, int(probs.shape[1]),
                 items.astype("<i8").tobytes(), probs.astype("<f4").tobytes(), epoch,
                 model_version, now(), self._relative(map_path)))

    def predictions(self, run_id: int | None = None, *, split: str | None = None,
                    study_id: int | None = None, item_kind: str | None = None
                    ) -> list[Prediction]:
        """Stored predictions matching every given argument, oldest first."""
        cond, args = where({"run_id": run_id, "split": split, "study_id": study_id,
                            "item_kind": item_kind})
        return [_prediction(r) for r in self._read(
            f"SELECT {_PRED_COLS} FROM predictions{cond} ORDER BY id", args)]

    def put_scores(self, run_id: int, study_id: int, frames: np.ndarray, scores: np.ndarray,
                   **kw: Any) -> None:
        """Two-class shorthand: positive-class probabilities of frames (preview split).

        Parameters
        ----------
        frames : (n,) integer array
        scores : (n,) float array in [0, 1]; stored as probabilities [1 - p, p].
        """
        frames, scores = np.asarray(frames), np.asarray(scores)
        if frames.ndim != 1 or frames.shape != scores.shape:
            raise ValueError(f"frames and scores must be 1-D of equal length, got shapes "
                             f"{frames.shape} and {scores.shape}")
        p = scores.astype(np.float32)
        self.put_predictions(run_id, "preview", study_id, "frame", frames,
                             np.stack([np.float32(1) - p, p], axis=1), **kw)

    def scores(self, run_id: int, study_id: int) -> tuple[np.ndarray, np.ndarray]:
        """(frames int64 (n,), positive-class probability float32 (n,)) from the preview
        predictions of a two-class run on a study; empty if none."""
        found = self.predictions(run_id, split="preview", study_id=study_id, item_kind="frame")
        if not found or found[-1].probs.shape[1] != 2:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        return found[-1].items, np.ascontiguousarray(found[-1].probs[:, 1])

    # ------------------------------------------------------------------ experiments
    def add_experiment(self, kind: str, task: str, plan: dict) -> Experiment:
        with self._write() as con:
            cur = con.execute("INSERT INTO experiments (kind, task, plan, status, created) "
                              "VALUES (?,?,?,'queued',?)", (kind, task, to_json(plan), now()))
        return self.experiment(cur.lastrowid)

    def set_experiment_status(self, experiment_id: int, status: str) -> Experiment:
        done = status in ("finished", "cancelled", "failed")
        with self._write() as con:
            con.execute("UPDATE experiments SET status=?, finished=? WHERE id=?",
                        (status, now() if done else None, int(experiment_id)))
        return self.experiment(experiment_id)

    def experiment(self, experiment_id: int) -> Experiment:
        rows = self._read("SELECT id, kind, task, plan, status, created, finished FROM "
                          "experiments WHERE id=?", (int(experiment_id),))
        if not rows:
            raise ProjectError(f"There is no experiment number {experiment_id} in this project.")
        runs = [r[0] for r in self._read("SELECT id FROM runs WHERE experiment_id=? ORDER BY id",
                                         (int(experiment_id),))]
        r = rows[0]
        return Experiment(r[0], r[1], r[2], self._json(r[3], f"the plan of experiment {r[0]}"),
                          r[4], r[5], r[6], runs)

    def experiments(self) -> list[Experiment]:
        return [self.experiment(r[0]) for r in self._read("SELECT id FROM experiments ORDER BY id")]
