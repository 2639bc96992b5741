"""The project database's tables, version by version, and the migrations between them.

Schema 2 holds every task's data (store v2):

``meta``         schema version, app versions, app facts (e.g. the demo's recipe)
``settings``     user preferences only
``subjects``     a patient, or a video standing for itself; splits are per subject
``studies``      a video, frame folder, image set (later CT series, ultrasound) with its
                 geometry (``meta`` JSON) and the reader's scan index (``reader_index``)
``annotations``  expert truth of every kind (frame label, mask, box, point, sphere,
                 open polyline, ROI), current state, with provenance
``annotation_events``  append-only log behind undo/redo and audit
``labels``       a read-only view: the current frame labels, as schema 1 had them
``candidates``   per study: generator + version, location, extent, derived hit label
``experiments``  queues of runs (the experiments board)
``runs``         everything that changes a result, so a run can be reproduced from its row
``snapshots``    one file per kept model snapshot
``predictions``  per run, split and study: item ids and N x C class probabilities

A change to these tables means ``SCHEMA_VERSION + 1`` and one more :class:`Migration`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

SCHEMA_VERSION = 2

ANNOTATION_KINDS = ("frame_label", "mask", "box", "point", "sphere", "polyline", "roi")
ANNOTATION_SOURCES = ("expert", "imported", "model")
PREDICTION_SPLITS = ("val", "test", "preview")
ITEM_KINDS = ("frame", "candidate", "roi", "pixel")
RUN_STATUSES = ("running", "finished", "cancelled", "failed")

#: Schema 1 (the first release), frozen: migrations and their tests start from it.
SCHEMA_1_SQL = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE studies (
    id INTEGER PRIMARY KEY, path TEXT NOT NULL, content_hash TEXT NOT NULL,
    kind TEXT NOT NULL, task TEXT NOT NULL, n_frames INTEGER NOT NULL, fps REAL NOT NULL,
    height INTEGER NOT NULL, width INTEGER NOT NULL,
    split TEXT NOT NULL CHECK (split IN ('train', 'test')),
    name TEXT NOT NULL UNIQUE, added TEXT NOT NULL, UNIQUE (content_hash, task));
CREATE TABLE label_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    study_id INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
    frame INTEGER NOT NULL, value TEXT,
    source TEXT NOT NULL CHECK (source IN ('expert', 'model')),
    user TEXT NOT NULL, time TEXT NOT NULL, model_version TEXT);
CREATE INDEX label_events_frame ON label_events (study_id, frame);
CREATE TABLE labels (
    study_id INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
    frame INTEGER NOT NULL, source TEXT NOT NULL, value TEXT NOT NULL,
    user TEXT NOT NULL, time TEXT NOT NULL, model_version TEXT,
    PRIMARY KEY (study_id, frame, source)) WITHOUT ROWID;
CREATE TABLE runs (
    id INTEGER PRIMARY KEY, task TEXT NOT NULL, depth TEXT NOT NULL, config TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'finished', 'cancelled', 'failed')),
    started TEXT NOT NULL, finished TEXT, best_auc REAL, best_snapshot TEXT,
    metrics TEXT NOT NULL);
CREATE TABLE snapshots (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL, path TEXT NOT NULL, val_auc REAL, meta TEXT NOT NULL,
    time TEXT NOT NULL);
CREATE TABLE scores (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    study_id INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
    frames BLOB NOT NULL, scores BLOB NOT NULL, time TEXT NOT NULL,
    PRIMARY KEY (run_id, study_id));
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

_KINDS = ", ".join(f"'{k}'" for k in ANNOTATION_KINDS)
_SOURCES = ", ".join(f"'{k}'" for k in ANNOTATION_SOURCES)

SCHEMA_2_SQL = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE subjects (
    id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE,
    split TEXT NOT NULL CHECK (split IN ('train', 'test')), note TEXT NOT NULL DEFAULT '');
CREATE TABLE studies (
    id INTEGER PRIMARY KEY, subject_id INTEGER NOT NULL REFERENCES subjects(id),
    path TEXT NOT NULL, content_hash TEXT NOT NULL, kind TEXT NOT NULL, task TEXT NOT NULL,
    n_frames INTEGER NOT NULL, fps REAL NOT NULL, height INTEGER NOT NULL,
    width INTEGER NOT NULL, name TEXT NOT NULL UNIQUE, added TEXT NOT NULL,
    meta TEXT NOT NULL DEFAULT '{{}}', reader_index TEXT, UNIQUE (content_hash, task));
CREATE INDEX studies_subject ON studies (subject_id);
CREATE TABLE annotations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    study_id INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ({_KINDS})), frame INTEGER,
    value TEXT NOT NULL DEFAULT '', geometry BLOB,
    source TEXT NOT NULL CHECK (source IN ({_SOURCES})),
    user TEXT NOT NULL, time TEXT NOT NULL, model_version TEXT);
CREATE UNIQUE INDEX annotations_one_per_frame ON annotations (study_id, kind, frame, source)
    WHERE kind IN ('frame_label', 'mask');
CREATE INDEX annotations_where ON annotations (study_id, kind, frame);
CREATE VIEW labels AS SELECT study_id, frame, source, value, user, time, model_version
    FROM annotations WHERE kind = 'frame_label';
CREATE TABLE annotation_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, annotation_id INTEGER,
    study_id INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
    kind TEXT NOT NULL, frame INTEGER,
    action TEXT NOT NULL CHECK (action IN ('set', 'delete')),
    value TEXT, geometry BLOB, source TEXT NOT NULL, user TEXT NOT NULL, time TEXT NOT NULL,
    model_version TEXT);
CREATE INDEX annotation_events_where ON annotation_events (study_id, kind, frame);
CREATE INDEX annotation_events_annotation ON annotation_events (annotation_id);
CREATE TABLE candidates (
    id INTEGER PRIMARY KEY,
    study_id INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
    generator TEXT NOT NULL, version TEXT NOT NULL, frame INTEGER,
    center TEXT NOT NULL, extent TEXT NOT NULL, score REAL, hit INTEGER,
    params TEXT NOT NULL DEFAULT '{{}}', time TEXT NOT NULL);
CREATE INDEX candidates_where ON candidates (study_id, generator, frame);
CREATE TABLE experiments (
    id INTEGER PRIMARY KEY, kind TEXT NOT NULL, task TEXT NOT NULL, plan TEXT NOT NULL,
    status TEXT NOT NULL, created TEXT NOT NULL, finished TEXT);
CREATE TABLE runs (
    id INTEGER PRIMARY KEY, task TEXT NOT NULL, depth TEXT NOT NULL, config TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'finished', 'cancelled', 'failed')),
    started TEXT NOT NULL, finished TEXT, best_auc REAL, best_snapshot TEXT,
    metrics TEXT NOT NULL, seed INTEGER, split TEXT, arch TEXT, precision TEXT,
    device TEXT, versions TEXT, weights_source TEXT, weights_sha256 TEXT,
    task_options TEXT, experiment_id INTEGER REFERENCES experiments(id) ON DELETE SET NULL);
CREATE TABLE snapshots (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL, path TEXT NOT NULL, val_auc REAL, meta TEXT NOT NULL,
    time TEXT NOT NULL, kept INTEGER NOT NULL DEFAULT 1);
CREATE TABLE predictions (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    snapshot_id INTEGER REFERENCES snapshots(id) ON DELETE SET NULL,
    split TEXT NOT NULL CHECK (split IN ('val', 'test', 'preview')),
    study_id INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
    item_kind TEXT NOT NULL CHECK (item_kind IN ('frame', 'candidate', 'roi', 'pixel')),
    n_classes INTEGER NOT NULL, items BLOB NOT NULL, probs BLOB NOT NULL, map_path TEXT,
    epoch INTEGER, model_version TEXT, time TEXT NOT NULL,
    UNIQUE (run_id, split, study_id, item_kind));
"""


def statements(sql: str) -> list[str]:
    return [s for s in sql.split(";") if s.strip()]


def create(con: sqlite3.Connection) -> None:
    """Create the current schema's tables in an empty database (inside a transaction)."""
    for statement in statements(SCHEMA_2_SQL):
        con.execute(statement)


@dataclass(frozen=True)
class Migration:
    """One step: ``run(con)`` turns a ``from_version`` database into ``to_version``.

    It runs inside the caller's transaction and must not commit.
    """

    from_version: int
    to_version: int
    run: Callable[[sqlite3.Connection], None]


# Task names before schema 2 -> their one name now.
TASK_RENAMES = {"frames": "frame_quality"}


def _migrate_1_to_2(con: sqlite3.Connection) -> None:
    """Schema 1 (first release) -> 2: subjects, annotations, predictions, run provenance.

    * every study becomes its own subject (the video stands for itself), split kept;
    * the video index and demo truth move from ``settings`` into the study row;
    * labels -> ``frame_label`` annotations and label events -> annotation events (the
      model's labels and their events are kept, with their provenance);
    * per-frame scores -> ``preview`` predictions with 2-class probabilities [1 - p, p];
    * task ``frames`` is renamed ``frame_quality``, study kind ``folder`` ``frames``.
    """
    old = ("studies", "labels", "label_events", "runs", "snapshots", "scores")
    con.execute("DROP INDEX IF EXISTS label_events_frame")
    for t in old:
        con.execute(f"ALTER TABLE {t} RENAME TO v1_{t}")
    create(con)
    settings = dict(con.execute("SELECT key, value FROM settings").fetchall())
    rename = "CASE task " + " ".join(
        f"WHEN '{a}' THEN '{b}'" for a, b in TASK_RENAMES.items()) + " ELSE task END"
    kind = "CASE kind WHEN 'folder' THEN 'frames' ELSE kind END"  # frame folders' one name
    con.execute("INSERT INTO subjects (id, key, split) SELECT id, 'study:' || name, split FROM v1_studies")
    for row in con.execute(
            f"SELECT id, path, content_hash, {kind}, {rename}, n_frames, fps, height, width, "
            "name, added FROM v1_studies ORDER BY id").fetchall():
        sid = row[0]
        meta = {}
        truth = settings.get(f"demo_truth:{sid}")
        if truth is not None:
            meta["demo_truth"] = json.loads(truth)
        index = settings.get(f"video_info:{sid}")
        con.execute(
            "INSERT INTO studies (id, subject_id, path, content_hash, kind, task, n_frames, "
            "fps, height, width, name, added, meta, reader_index) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (sid, sid, *row[1:], json.dumps(meta, sort_keys=True),
             None if index is None else json.loads(index)))
    con.execute(
        "INSERT INTO annotations (study_id, kind, frame, value, geometry, source, user, time,"
        " model_version) SELECT study_id, 'frame_label', frame, value, NULL, source, user,"
        " time, model_version FROM v1_labels ORDER BY study_id, frame, source")
    con.execute(
        "INSERT INTO annotation_events (id, annotation_id, study_id, kind, frame, action,"
        " value, geometry, source, user, time, model_version)"
        " SELECT e.id, a.id, e.study_id, 'frame_label', e.frame,"
        " CASE WHEN e.value IS NULL THEN 'delete' ELSE 'set' END, e.value, NULL, e.source,"
        " e.user, e.time, e.model_version FROM v1_label_events e LEFT JOIN annotations a"
        " ON a.study_id = e.study_id AND a.kind = 'frame_label' AND a.frame = e.frame"
        " AND a.source = e.source ORDER BY e.id")
    con.execute(
        f"INSERT INTO runs (id, task, depth, config, status, started, finished, best_auc,"
        f" best_snapshot, metrics, seed) SELECT id, {rename}, depth, config, status, started,"
        " finished, best_auc, best_snapshot, metrics, json_extract(config, '$.seed')"
        " FROM v1_runs")
    con.execute("INSERT INTO snapshots (id, run_id, epoch, path, val_auc, meta, time)"
                " SELECT id, run_id, epoch, path, val_auc, meta, time FROM v1_snapshots")
    _scores_to_predictions(con)
    for t in old:
        con.execute(f"DROP TABLE v1_{t}")
    con.execute("DELETE FROM settings WHERE key LIKE 'video_info:%' OR key LIKE 'demo_truth:%'")
    demo = settings.get("demo_ready")
    if demo is not None:  # an app fact, not a preference
        con.execute("INSERT OR REPLACE INTO meta VALUES ('info:demo', ?)", (demo,))
        con.execute("DELETE FROM settings WHERE key='demo_ready'")


def _scores_to_predictions(con: sqlite3.Connection) -> None:
    rows = con.execute("SELECT run_id, study_id, frames, scores, time FROM v1_scores"
                       " ORDER BY run_id, study_id").fetchall()
    for run_id, study_id, frames, scores, time in rows:
        p = np.frombuffer(scores, "<f4")
        probs = np.stack([np.float32(1) - p, p], axis=1).astype("<f4")
        # the model's newest label on this study names the run's epoch and depth
        version = con.execute(
            "SELECT model_version FROM v1_label_events WHERE study_id=? AND source='model'"
            " AND model_version LIKE ? ORDER BY id DESC LIMIT 1",
            (study_id, f"run {run_id} %")).fetchone()
        con.execute(
            "INSERT INTO predictions (run_id, split, study_id, item_kind, n_classes, items,"
            " probs, model_version, time) VALUES (?, 'preview', ?, 'frame', 2, ?, ?, ?, ?)",
            (run_id, study_id, frames, probs.tobytes(), None if version is None else version[0],
             time))


MIGRATIONS: list[Migration] = [Migration(1, 2, _migrate_1_to_2)]
