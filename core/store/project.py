"""The project store: one folder, one SQLite database.

A project folder holds ``layertune.sqlite`` (studies by path and content hash, labels
with provenance, training runs, snapshots, per-frame model scores and settings) and a
``snapshots/`` folder for model weights.

Durability
----------
The database runs in WAL mode with ``synchronous=FULL``: every write method commits
(and the commit is flushed to disk) before it returns, so an edit the GUI has
acknowledged survives the process being killed, or the machine losing power.

Threads
-------
A :class:`Project` holds **one** connection opened with ``check_same_thread=False``
and guarded by a re-entrant lock; every public method takes the lock for its whole
statement or transaction. The GUI thread and a training worker may therefore share one
``Project``; their calls are serialised (they are all short). Several *processes*
(the GUI and a CLI) may open the same project: SQLite's own locking with a busy timeout
serialises their writes.

Errors a clinician can act on (unwritable folder, a project from a newer LayerTune,
a path that is not a project, a full disk) raise :class:`ProjectError` with a plain
message; programming errors (a bad label value, an unknown split) raise ``ValueError``.
"""

from __future__ import annotations

import getpass
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from core import __version__

SCHEMA_VERSION = 1
DB_NAME = "layertune.sqlite"

SPLITS = ("train", "test")
LABEL_SOURCES = ("expert", "model")
RUN_STATUSES = ("running", "finished", "cancelled", "failed")
#: Valid label values of the tasks that have a fixed set; other tasks accept any string.
LABEL_VALUES = {"frames": ("informative", "non-informative")}

# Schema version 1. A change to these tables means SCHEMA_VERSION + 1 and a migration in
# Project._check_schema. label_events is the append-only provenance log; labels is the
# current value per (study, frame, source), kept in step with it in the same transaction.
_SCHEMA_SQL = """
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


def _json_default(obj: Any) -> Any:
    # Configs and metrics often carry numpy scalars/arrays and paths.
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot store a {type(obj).__name__} in the project (not JSON)")


def to_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=_json_default)


def from_json(text: str) -> Any:
    return json.loads(text)


__all__ = [
    "DB_NAME",
    "SCHEMA_VERSION",
    "Label",
    "LabelEvent",
    "Project",
    "ProjectError",
    "Run",
    "Snapshot",
    "Study",
]


class ProjectError(Exception):
    """A problem with the project a clinician can understand and act on."""


@dataclass(frozen=True)
class Study:
    """One study (a video, a frame folder, a CT series...) in the project.

    ``path`` is where it was last seen; ``content_hash`` identifies it even when moved.
    ``height`` and ``width`` are in pixels, ``fps`` in frames per second (0 if none).
    """

    id: int
    path: str
    content_hash: str
    kind: str
    task: str
    n_frames: int
    fps: float
    height: int
    width: int
    split: str
    name: str
    added: str


@dataclass(frozen=True)
class Label:
    """The current label of one frame from one source, with its provenance."""

    study_id: int
    frame: int
    value: str
    source: str
    user: str
    time: str
    model_version: str | None


@dataclass(frozen=True)
class LabelEvent:
    """One edit in a frame's label history; ``value`` is None when it was cleared."""

    id: int
    study_id: int
    frame: int
    value: str | None
    source: str
    user: str
    time: str
    model_version: str | None


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


@dataclass(frozen=True)
class Snapshot:
    """A saved model of a run; ``path`` is relative to the project folder when inside it."""

    id: int
    run_id: int
    epoch: int
    path: str
    val_auc: float | None
    meta: dict
    time: str


def _now() -> str:
    # Local time with its UTC offset: readable by the clinician, unambiguous for software.
    return datetime.now().astimezone().isoformat(timespec="milliseconds")


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # containers without a passwd entry or USER variable
        return "unknown"


def _choice(value: str, valid: Iterable[str], what: str) -> str:
    valid = tuple(valid)
    if value not in valid:
        raise ValueError(f"{what} must be one of {', '.join(map(repr, valid))}, got {value!r}")
    return value


def _explain(exc: sqlite3.Error, folder: Path) -> str:
    """Turn an SQLite error into a sentence about the project folder."""
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return (
            f"The project {folder} is busy in another LayerTune window or program. "
            "Try again in a moment."
        )
    if "full" in text:
        return f"The disk holding the project {folder} is full. Free some space and try again."
    if any(
        k in text for k in ("readonly", "read-only", "unable to open", "permission", "disk i/o")
    ):
        return (
            f"LayerTune cannot write to the project folder {folder}. Check that the "
            "folder and the files in it are not read-only and that you may change them."
        )
    if "not a database" in text or "malformed" in text:
        return f"The project database in {folder} is damaged or is not a LayerTune project ({exc})."
    return f"The project {folder} could not be used ({exc})."


class Project:
    """A LayerTune project folder. Use :meth:`create`, :meth:`open` or
    :meth:`open_or_create`; close it (or use it as a context manager) when done."""

    def __init__(self, folder: Path, *, _create: bool = False) -> None:
        self.folder = Path(folder)
        self.snapshots_dir = self.folder / "snapshots"
        self._lock = threading.RLock()
        self._con: sqlite3.Connection | None = None
        db = self.folder / DB_NAME
        try:
            self._con = sqlite3.connect(
                db, isolation_level=None, check_same_thread=False, timeout=10.0
            )
            if _create:
                self._create_schema()
            else:
                self._check_schema()
            # journal_mode=WAL is stored in the file; synchronous and foreign_keys are
            # per connection. FULL makes each commit reach the disk before it returns.
            self._con.execute("PRAGMA journal_mode=WAL")
            self._con.execute("PRAGMA synchronous=FULL")
            self._con.execute("PRAGMA foreign_keys=ON")
            with self._write() as con:  # also proves the folder is writable, early
                con.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('last_app_version', ?)", (__version__,)
                )
            self.snapshots_dir.mkdir(exist_ok=True)
        except BaseException as exc:
            self.close()
            if _create:  # leave no half-made project behind
                for suffix in ("", "-wal", "-shm"):
                    with suppress(OSError):
                        Path(f"{db}{suffix}").unlink(missing_ok=True)
            if isinstance(exc, sqlite3.Error):
                raise ProjectError(_explain(exc, self.folder)) from exc
            if isinstance(exc, OSError):
                raise ProjectError(
                    f"LayerTune cannot write to the project folder {self.folder} ({exc.strerror})."
                ) from exc
            raise

    # ------------------------------------------------------------------ opening
    @classmethod
    def create(cls, folder: str | Path) -> Project:
        """Create a new project in ``folder`` (made if missing; may hold other files)."""
        folder = Path(folder).expanduser()
        if folder.exists() and not folder.is_dir():
            raise ProjectError(
                f"Cannot create a project at {folder}: it is a file, not a folder. Choose a folder."
            )
        if (folder / DB_NAME).exists():
            raise ProjectError(f"{folder} already holds a LayerTune project. Open it instead.")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ProjectError(
                f"LayerTune cannot create the project folder {folder} "
                f"({exc.strerror}). Choose a folder you can write to."
            ) from exc
        return cls(folder, _create=True)

    @classmethod
    def open(cls, folder: str | Path) -> Project:
        """Open an existing project (``folder`` or its ``layertune.sqlite``)."""
        folder = Path(folder).expanduser()
        if folder.name == DB_NAME and folder.is_file():
            folder = folder.parent
        if not folder.exists():
            raise ProjectError(
                f"There is no LayerTune project at {folder}: the folder does not exist."
            )
        if not folder.is_dir():
            raise ProjectError(
                f"{folder} is a file, not a LayerTune project. A project is a "
                f"folder holding {DB_NAME}."
            )
        if not (folder / DB_NAME).is_file():
            raise ProjectError(f"{folder} is not a LayerTune project: it has no {DB_NAME}.")
        return cls(folder)

    @classmethod
    def open_or_create(cls, folder: str | Path) -> Project:
        """Open the project in ``folder``, creating it if it holds none."""
        folder = Path(folder).expanduser()
        if (folder / DB_NAME).exists() or (folder.name == DB_NAME and folder.is_file()):
            return cls.open(folder)
        return cls.create(folder)

    def _create_schema(self) -> None:
        with self._write() as con:
            for statement in _SCHEMA_SQL.split(";"):
                if statement.strip():
                    con.execute(statement)
            con.executemany(
                "INSERT INTO meta VALUES (?, ?)",
                [
                    ("schema_version", str(SCHEMA_VERSION)),
                    ("created_app_version", __version__),
                    ("created", _now()),
                ],
            )

    def _check_schema(self) -> None:
        # Read only: nothing is written before we know this LayerTune understands the file.
        con = self._conn()
        try:
            rows = dict(con.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                raise ProjectError(
                    f"{self.folder / DB_NAME} is not a LayerTune project database."
                ) from exc
            raise
        try:
            version = int(rows["schema_version"])
        except (KeyError, ValueError) as exc:
            raise ProjectError(
                f"{self.folder / DB_NAME} is not a LayerTune project "
                "database (it has no schema version)."
            ) from exc
        if version > SCHEMA_VERSION:
            made_by = rows.get("last_app_version") or rows.get("created_app_version") or "?"
            raise ProjectError(
                f"This project was made by a newer LayerTune ({made_by}, schema {version}); "
                f"this is LayerTune {__version__} (schema {SCHEMA_VERSION}). Update "
                "LayerTune to open it. Nothing was changed."
            )
        # Future schema versions migrate older files here, inside one transaction.

    # ------------------------------------------------------------------ plumbing
    def close(self) -> None:
        """Close the database. Everything was already committed."""
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Project({str(self.folder)!r})"

    def _conn(self) -> sqlite3.Connection:
        if self._con is None:
            raise ProjectError(f"The project {self.folder} is closed.")
        return self._con

    def _read(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            try:
                return self._conn().execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise ProjectError(_explain(exc, self.folder)) from exc

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One immediate transaction, committed (and flushed) on leaving the block."""
        with self._lock:
            con = self._conn()
            try:
                con.execute("BEGIN IMMEDIATE")
                yield con
                con.execute("COMMIT")
            except BaseException as exc:
                if con.in_transaction:
                    with suppress(sqlite3.Error):  # keep the original error, not this one
                        con.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise ProjectError(
                        _explain(exc, self.folder) + " Nothing was saved by "
                        "this step; earlier work is safe."
                    ) from exc
                raise

    # ------------------------------------------------------------------ studies
    def add_study(
        self,
        path: str | Path,
        content_hash: str,
        kind: str,
        task: str,
        n_frames: int,
        fps: float,
        height: int,
        width: int,
        split: str = "train",
        name: str | None = None,
    ) -> Study:
        """Add a study, or return the one with the same content hash and task.

        A study found under a new ``path`` has its path updated (it was moved). A name
        already used by another study gets a ``-2``, ``-3``... suffix.
        """
        _choice(split, SPLITS, "split")
        if not content_hash or not kind or not task:
            raise ValueError("content_hash, kind and task must be non-empty strings")
        path = str(Path(path))
        with self._write() as con:
            row = con.execute(
                "SELECT id, path FROM studies WHERE content_hash=? AND task=?", (content_hash, task)
            ).fetchone()
            if row is not None:
                if row[1] != path:
                    con.execute("UPDATE studies SET path=? WHERE id=?", (path, row[0]))
                study_id = row[0]
            else:
                base = name or Path(path).stem or "study"
                taken = {r[0] for r in con.execute("SELECT name FROM studies")}
                unique, n = base, 1
                while unique in taken:
                    n += 1
                    unique = f"{base}-{n}"
                cur = con.execute(
                    "INSERT INTO studies (path, content_hash, kind, task, n_frames, fps, height,"
                    " width, split, name, added) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        path,
                        content_hash,
                        kind,
                        task,
                        int(n_frames),
                        float(fps),
                        int(height),
                        int(width),
                        split,
                        unique,
                        _now(),
                    ),
                )
                study_id = cur.lastrowid
        return self.study(study_id)

    _STUDY_COLS = (
        "id, path, content_hash, kind, task, n_frames, fps, height, width, split, name, added"
    )

    def studies(self, task: str | None = None) -> list[Study]:
        """All studies, optionally of one task, in the order they were added."""
        sql = f"SELECT {self._STUDY_COLS} FROM studies"
        rows = (
            self._read(sql + " WHERE task=? ORDER BY id", (task,))
            if task is not None
            else self._read(sql + " ORDER BY id")
        )
        return [Study(*r) for r in rows]

    def study(self, study_id: int) -> Study:
        rows = self._read(f"SELECT {self._STUDY_COLS} FROM studies WHERE id=?", (int(study_id),))
        if not rows:
            raise ProjectError(f"There is no study number {study_id} in this project.")
        return Study(*rows[0])

    def find_study(self, name_or_id: str | int) -> Study:
        """The study with this name, else with this id (names win over ids)."""
        key = str(name_or_id).strip()
        rows = self._read("SELECT id FROM studies WHERE name=?", (key,))
        if rows:
            return self.study(rows[0][0])
        if key.isdigit():
            rows = self._read("SELECT id FROM studies WHERE id=?", (int(key),))
            if rows:
                return self.study(rows[0][0])
        raise ProjectError(f"There is no study named {key!r} in this project.")

    def set_split(self, study_id: int, split: str) -> None:
        _choice(split, SPLITS, "split")
        self.study(study_id)
        with self._write() as con:
            con.execute("UPDATE studies SET split=? WHERE id=?", (split, int(study_id)))

    # ------------------------------------------------------------------ labels
    def _check_label(
        self, con: sqlite3.Connection, study_id: int, frame: int, value: str | None
    ) -> tuple[int, int]:
        study_id, frame = int(study_id), int(frame)
        row = con.execute("SELECT task, n_frames FROM studies WHERE id=?", (study_id,)).fetchone()
        if row is None:
            raise ValueError(f"no study with id {study_id}")
        task, n_frames = row
        if frame < 0 or (n_frames > 0 and frame >= n_frames):
            raise ValueError(f"frame {frame} is outside study {study_id} (0..{n_frames - 1})")
        if value is not None:
            if not isinstance(value, str) or not value:
                raise ValueError(f"a label must be a non-empty string, got {value!r}")
            if task in LABEL_VALUES:
                _choice(value, LABEL_VALUES[task], f"a {task!r} label")
        return study_id, frame

    def set_labels(
        self,
        entries: Iterable[tuple[int, int, str | None]],
        *,
        source: str = "expert",
        user: str | None = None,
        model_version: str | None = None,
    ) -> int:
        """Set (or, with value None, clear) many labels in one transaction.

        Parameters
        ----------
        entries : iterable of (study_id, frame, value)
            ``value`` None clears the frame's label from ``source``.

        Returns
        -------
        int
            The number of entries written; all or none are saved.
        """
        return self._set_labels(entries, source, user, model_version)[0]

    def _set_labels(
        self,
        entries: Iterable[tuple[int, int, str | None]],
        source: str,
        user: str | None,
        model_version: str | None,
    ) -> tuple[int, str, str]:
        _choice(source, LABEL_SOURCES, "source")
        user = user or _os_user()
        time = _now()
        count = 0
        with self._write() as con:
            for study_id, frame, value in entries:
                study_id, frame = self._check_label(con, study_id, frame, value)
                con.execute(
                    "INSERT INTO label_events (study_id, frame, value, source, user, time,"
                    " model_version) VALUES (?,?,?,?,?,?,?)",
                    (study_id, frame, value, source, user, time, model_version),
                )
                if value is None:
                    con.execute(
                        "DELETE FROM labels WHERE study_id=? AND frame=? AND source=?",
                        (study_id, frame, source),
                    )
                else:
                    con.execute(
                        "INSERT OR REPLACE INTO labels VALUES (?,?,?,?,?,?,?)",
                        (study_id, frame, source, value, user, time, model_version),
                    )
                count += 1
        return count, user, time

    def set_label(
        self,
        study_id: int,
        frame: int,
        value: str,
        *,
        source: str = "expert",
        user: str | None = None,
        model_version: str | None = None,
    ) -> Label:
        """Set one frame's label; it is committed to disk before this returns."""
        _, user, time = self._set_labels([(study_id, frame, value)], source, user, model_version)
        return Label(int(study_id), int(frame), value, source, user, time, model_version)

    def clear_label(
        self, study_id: int, frame: int, *, user: str | None = None, source: str = "expert"
    ) -> None:
        """Remove a frame's current label (the history keeps the removal)."""
        self.set_labels([(study_id, frame, None)], source=source, user=user)

    _LABEL_COLS = "study_id, frame, value, source, user, time, model_version"

    def label(self, study_id: int, frame: int, source: str = "expert") -> Label | None:
        """The current label of one frame, or None."""
        rows = self._read(
            f"SELECT {self._LABEL_COLS} FROM labels WHERE study_id=? AND frame=? AND source=?",
            (int(study_id), int(frame), source),
        )
        return Label(*rows[0]) if rows else None

    def labels(self, study_id: int | None = None, source: str | None = "expert") -> list[Label]:
        """Current labels ordered by study and frame; ``source`` None gives every source."""
        where, args = [], []
        if study_id is not None:
            where.append("study_id=?")
            args.append(int(study_id))
        if source is not None:
            where.append("source=?")
            args.append(source)
        sql = f"SELECT {self._LABEL_COLS} FROM labels"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [
            Label(*r) for r in self._read(sql + " ORDER BY study_id, frame, source", tuple(args))
        ]

    def label_history(self, study_id: int, frame: int) -> list[LabelEvent]:
        """Every edit of one frame's labels (all sources), oldest first."""
        rows = self._read(
            f"SELECT id, {self._LABEL_COLS} FROM label_events WHERE "
            "study_id=? AND frame=? ORDER BY id",
            (int(study_id), int(frame)),
        )
        return [LabelEvent(*r) for r in rows]

    # ------------------------------------------------------------------ scores
    def put_scores(
        self, run_id: int, study_id: int, frames: np.ndarray, scores: np.ndarray
    ) -> None:
        """Store a run's per-frame scores for a study, replacing earlier ones.

        Parameters
        ----------
        frames : (n,) integer array
            Frame indices.
        scores : (n,) float array
            Probabilities in [0, 1]; stored as float32.
        """
        frames = np.asarray(frames)
        scores = np.asarray(scores)
        if frames.ndim != 1 or frames.shape != scores.shape:
            raise ValueError(
                f"frames and scores must be 1-D of equal length, got shapes "
                f"{frames.shape} and {scores.shape}"
            )
        if frames.size and not np.issubdtype(frames.dtype, np.integer):
            raise ValueError(f"frames must be integers, got dtype {frames.dtype}")
        with self._write() as con:
            con.execute(
                "INSERT OR REPLACE INTO scores VALUES (?,?,?,?,?)",
                (
                    int(run_id),
                    int(study_id),
                    frames.astype("<i8").tobytes(),
                    scores.astype("<f4").tobytes(),
                    _now(),
                ),
            )

    def scores(self, run_id: int, study_id: int) -> tuple[np.ndarray, np.ndarray]:
        """(frames int64 (n,), scores float32 (n,)) of a run on a study; empty if none."""
        rows = self._read(
            "SELECT frames, scores FROM scores WHERE run_id=? AND study_id=?",
            (int(run_id), int(study_id)),
        )
        if not rows:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        return (
            np.frombuffer(rows[0][0], "<i8").astype(np.int64),
            np.frombuffer(rows[0][1], "<f4").astype(np.float32),
        )

    # ------------------------------------------------------------------ runs
    def _relative(self, path: str | Path | None) -> str | None:
        if path is None:
            return None
        p = Path(path)
        if p.is_absolute():
            try:
                p = p.resolve().relative_to(self.folder.resolve())
            except ValueError:
                return str(p)  # outside the project: keep the absolute path
        return p.as_posix()

    _RUN_COLS = (
        "id, task, depth, config, status, started, finished, best_auc, best_snapshot, metrics"
    )

    @staticmethod
    def _run(row: tuple) -> Run:
        r = list(row)
        r[3], r[9] = from_json(r[3]), from_json(r[9])
        return Run(*r)

    def start_run(self, task: str, depth: str, config: dict) -> Run:
        """Record a new run with status ``"running"``."""
        with self._write() as con:
            cur = con.execute(
                "INSERT INTO runs (task, depth, config, status, started, metrics)"
                " VALUES (?,?,?,'running',?,'{}')",
                (task, depth, to_json(config), _now()),
            )
        return self.run(cur.lastrowid)

    def finish_run(
        self,
        run_id: int,
        status: str,
        best_auc: float | None = None,
        best_snapshot: str | Path | None = None,
        metrics: dict | None = None,
    ) -> Run:
        """Mark a run finished, cancelled or failed, with its results."""
        _choice(status, [s for s in RUN_STATUSES if s != "running"], "status")
        self.run(run_id)
        with self._write() as con:
            con.execute(
                "UPDATE runs SET status=?, finished=?, best_auc=?, best_snapshot=?, "
                "metrics=? WHERE id=?",
                (
                    status,
                    _now(),
                    None if best_auc is None else float(best_auc),
                    self._relative(best_snapshot),
                    to_json(metrics or {}),
                    int(run_id),
                ),
            )
        return self.run(run_id)

    def runs(self) -> list[Run]:
        return [self._run(r) for r in self._read(f"SELECT {self._RUN_COLS} FROM runs ORDER BY id")]

    def run(self, run_id: int) -> Run:
        rows = self._read(f"SELECT {self._RUN_COLS} FROM runs WHERE id=?", (int(run_id),))
        if not rows:
            raise ProjectError(f"There is no training run number {run_id} in this project.")
        return self._run(rows[0])

    def add_snapshot(
        self,
        run_id: int,
        epoch: int,
        path: str | Path,
        val_auc: float | None,
        meta: dict | None = None,
    ) -> Snapshot:
        """Record a saved model of a run (the file itself is written by the caller)."""
        with self._write() as con:
            cur = con.execute(
                "INSERT INTO snapshots (run_id, epoch, path, val_auc, meta, time) "
                "VALUES (?,?,?,?,?,?)",
                (
                    int(run_id),
                    int(epoch),
                    self._relative(path),
                    None if val_auc is None else float(val_auc),
                    to_json(meta or {}),
                    _now(),
                ),
            )
        return self.snapshots(run_id, _id=cur.lastrowid)[0]

    def snapshots(self, run_id: int, *, _id: int | None = None) -> list[Snapshot]:
        """A run's snapshots, oldest first."""
        sql = "SELECT id, run_id, epoch, path, val_auc, meta, time FROM snapshots WHERE run_id=?"
        args: tuple = (int(run_id),)
        if _id is not None:
            sql, args = sql + " AND id=?", (*args, _id)
        rows = self._read(sql + " ORDER BY id", args)
        return [Snapshot(r[0], r[1], r[2], r[3], r[4], from_json(r[5]), r[6]) for r in rows]

    # ------------------------------------------------------------------ settings
    def get_setting(self, key: str, default: Any = None) -> Any:
        rows = self._read("SELECT value FROM settings WHERE key=?", (key,))
        return from_json(rows[0][0]) if rows else default

    def set_setting(self, key: str, value: Any) -> None:
        """Store a JSON-serialisable value under ``key``."""
        with self._write() as con:
            con.execute("INSERT OR REPLACE INTO settings VALUES (?, ?)", (key, to_json(value)))
