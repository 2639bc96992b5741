"""The database file of a project: connection, transactions, schema check and migration.

Durability
----------
The database runs in WAL mode with ``synchronous=FULL``: every write method commits
(and the commit is flushed to disk) before it returns, so an edit the GUI has
acknowledged survives the process being killed, or the machine losing power.

Threads
-------
A :class:`Database` holds **one** connection opened with ``check_same_thread=False``
and guarded by a re-entrant lock; every public method takes the lock for its whole
statement or transaction. The GUI thread and a training worker may therefore share one
project; their calls are serialised (they are all short). Several *processes* (the GUI
and a CLI) may open the same project: SQLite's own locking with a busy timeout
serialises their writes.

Migration
---------
A project from an older schema is migrated when opened: the database file is first
copied beside itself (``layertune.sqlite.schema-1.bak``), then every migration of
:data:`core.store.schema.MIGRATIONS` runs in **one** transaction. A migration that fails
rolls back completely: the original database is untouched and the error says so.
"""

from __future__ import annotations

import getpass
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from core import __version__
from core.store import schema

DB_NAME = "layertune.sqlite"
SCHEMA_VERSION = schema.SCHEMA_VERSION


class ProjectError(Exception):
    """A problem with the project a clinician can understand and act on."""


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


def from_json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def now() -> str:
    """Local time with its UTC offset: readable by the clinician, unambiguous for software."""
    return datetime.now().astimezone().isoformat(timespec="milliseconds")


def os_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # containers without a passwd entry or USER variable
        return "unknown"


def choice(value: str, valid: Iterable[str], what: str) -> str:
    valid = tuple(valid)
    if value not in valid:
        raise ValueError(f"{what} must be one of {', '.join(map(repr, valid))}, got {value!r}")
    return value


def where(filters: dict[str, Any]) -> tuple[str, tuple]:
    """``" WHERE a=? AND b=?"`` and its arguments, for the filters that are not None."""
    given = {col: v for col, v in filters.items() if v is not None}
    if not given:
        return "", ()
    return " WHERE " + " AND ".join(f"{col}=?" for col in given), tuple(given.values())


def explain(exc: sqlite3.Error, folder: Path) -> str:
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
    if "not a database" in text:
        return damaged(folder, f"it is not an SQLite database ({exc})", maybe_foreign=True)
    if any(k in text for k in ("malformed", "could not decode", "no such column",
                               "no such table")):
        return damaged(folder, str(exc))
    return f"The project {folder} could not be used ({exc})."


def damaged(folder: Path, detail: str, *, maybe_foreign: bool = False) -> str:
    """The message for a damaged project database: which file, what, and its backup
    (``maybe_foreign``: it may also be another program's file of that name)."""
    db = Path(folder) / DB_NAME
    try:
        backups = sorted(Path(folder).glob(f"{DB_NAME}.schema-*.bak"),
                         key=lambda p: p.stat().st_mtime)
    except OSError:
        backups = []
    if backups:
        tail = (f" The automatic backup LayerTune made before its last upgrade is "
                f"{backups[-1]}: to go back to it, close LayerTune, move {DB_NAME} aside and "
                f"copy the backup to {DB_NAME} (work done since the backup is not in it).")
    else:
        tail = (" There is no automatic backup of it (LayerTune makes one before upgrading a "
                "project): restore the project folder from your own backups.")
    what = "is damaged or is not a LayerTune project" if maybe_foreign else "is damaged"
    return f"The project database {db} {what}: {detail}.{tail}"


class Database:
    """One project folder's SQLite database: opening, checking, migrating, transactions."""

    def __init__(self, folder: Path, *, _create: bool = False) -> None:
        # Absolute (not resolved: a symlinked folder keeps its name), so that the paths
        # the jobs build from it (``folder / "snapshots" / ...``) store correctly
        # relative to the project whatever the working directory (``--project p1``).
        self.folder = Path(folder).absolute()
        self.snapshots_dir = self.folder / "snapshots"
        self._lock = threading.RLock()
        self._con: sqlite3.Connection | None = None
        self.migrated_from: int | None = None  # schema version before this open migrated it
        self.backup_path: Path | None = None
        self.removed_temp_files: list[Path] = []  # leftovers of killed snapshot writes
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
            if not _create:
                self._repair_paths()
                # ~230 MB each; late import: core.train.checkpoint imports torch lazily
                from core.train.checkpoint import remove_stale_temp_files

                self.removed_temp_files = remove_stale_temp_files(self.snapshots_dir)
        except BaseException as exc:
            self.close()
            if _create:  # leave no half-made project behind
                for suffix in ("", "-wal", "-shm"):
                    with suppress(OSError):
                        Path(f"{db}{suffix}").unlink(missing_ok=True)
            if isinstance(exc, sqlite3.Error):
                raise ProjectError(explain(exc, self.folder)) from exc
            if isinstance(exc, UnicodeDecodeError):
                raise ProjectError(damaged(self.folder, f"text in it is not readable ({exc})")
                                   ) from exc
            if isinstance(exc, OSError):
                raise ProjectError(
                    f"LayerTune cannot write to the project folder {self.folder} ({exc.strerror})."
                ) from exc
            raise

    # ------------------------------------------------------------------ schema
    def _create_schema(self) -> None:
        with self._write() as con:
            schema.create(con)
            con.executemany(
                "INSERT INTO meta VALUES (?, ?)",
                [
                    ("schema_version", str(SCHEMA_VERSION)),
                    ("created_app_version", __version__),
                    ("created", now()),
                ],
            )

    def _check_schema(self) -> None:
        # Read only until we know this LayerTune understands the file.
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
        if version < SCHEMA_VERSION:
            self._migrate(version)

    def _backup(self, version: int) -> Path:
        """Copy the database (all committed pages, WAL included) beside itself."""
        con = self._conn()
        dest = self.folder / f"{DB_NAME}.schema-{version}.bak"
        n = 1
        while dest.exists():
            n += 1
            dest = self.folder / f"{DB_NAME}.schema-{version}.{n}.bak"
        # SQLite's online backup: a consistent copy even with a WAL file beside it.
        out = sqlite3.connect(dest)
        try:
            con.backup(out)
        finally:
            out.close()
        return dest

    def _migrate(self, version: int) -> None:
        """Run every migration from ``version`` up, in one transaction, after a backup."""
        db = self.folder / DB_NAME
        try:
            self.backup_path = self._backup(version)
        except (sqlite3.Error, OSError) as exc:
            raise ProjectError(
                f"This project (schema {version}) must be upgraded to schema "
                f"{SCHEMA_VERSION}, but LayerTune could not first copy {db} as a backup "
                f"({exc}). Free some disk space or make the folder writable. Nothing was changed."
            ) from exc
        con = self._conn()
        steps = [m for m in schema.MIGRATIONS if m.from_version >= version]
        try:
            con.execute("PRAGMA foreign_keys=OFF")  # tables are rebuilt; checked at the end
            con.execute("BEGIN IMMEDIATE")
            for step in steps:
                step.run(con)
                con.execute("UPDATE meta SET value=? WHERE key='schema_version'",
                            (str(step.to_version),))
            bad = con.execute("PRAGMA foreign_key_check").fetchall()
            if bad:
                raise sqlite3.IntegrityError(f"{len(bad)} rows break a reference after migrating")
            con.execute("INSERT OR REPLACE INTO meta VALUES ('migrated', ?)",
                        (f"from schema {version} on {now()} by LayerTune {__version__}",))
            con.execute("COMMIT")
        except BaseException as exc:
            if con.in_transaction:
                with suppress(sqlite3.Error):
                    con.execute("ROLLBACK")
            raise ProjectError(
                f"This project could not be upgraded from schema {version} to "
                f"{SCHEMA_VERSION} ({type(exc).__name__}: {exc}). The database was left as it "
                f"was; a copy made before the attempt is at {self.backup_path}. Please report "
                "this problem."
            ) from exc
        self.migrated_from = version

    # ------------------------------------------------------------------ plumbing
    def close(self) -> None:
        """Close the database. Everything was already committed."""
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None

    def _conn(self) -> sqlite3.Connection:
        if self._con is None:
            raise ProjectError(f"The project {self.folder} is closed.")
        return self._con

    def _read(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            try:
                return self._conn().execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise ProjectError(explain(exc, self.folder)) from exc
            except UnicodeDecodeError as exc:
                raise ProjectError(damaged(self.folder, f"text in it is not readable ({exc})")
                                   ) from exc

    def _json(self, text: str | None, what: str) -> Any:
        """``from_json(text)``; a value that is not JSON means the database is damaged:
        :class:`ProjectError` naming the database, ``what`` and the backup."""
        try:
            return from_json(text)
        except (ValueError, TypeError) as exc:  # JSONDecodeError, UnicodeDecodeError
            detail = f"{what} cannot be read (not valid JSON: {exc})"
            raise ProjectError(damaged(self.folder, detail)) from exc

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
                        explain(exc, self.folder) + " Nothing was saved by "
                        "this step; earlier work is safe."
                    ) from exc
                if isinstance(exc, UnicodeDecodeError):
                    raise ProjectError(damaged(self.folder, f"text in it is not readable "
                                                            f"({exc})")) from exc
                raise

    def _relative(self, path: str | Path | None) -> str | None:
        """``path`` relative to the project folder when inside it (posix), else as is.

        A relative ``path`` is taken as relative to the project folder, unless only the
        working directory holds it (``p1/snapshots/x.pt`` given while in ``p1``'s parent).
        """
        if path is None:
            return None
        p = Path(path)
        if not p.is_absolute():
            if (self.folder / p).exists() or not p.absolute().exists():
                return p.as_posix()
            p = p.absolute()
        try:
            return p.resolve().relative_to(self.folder.resolve()).as_posix()
        except ValueError:
            return str(p)  # outside the project: keep the absolute path

    def _repair_paths(self) -> None:
        """Fix snapshot paths recorded relative to the working directory instead of the
        project folder (``p1/snapshots/...`` for ``--project p1``, before 0.6)."""
        fixes = []
        for table, col in (("runs", "best_snapshot"), ("snapshots", "path")):
            rows = self._conn().execute(
                f"SELECT id, {col} FROM {table} WHERE {col} IS NOT NULL").fetchall()
            for row_id, stored in rows:
                parts = Path(stored).parts
                if not parts or Path(stored).is_absolute() or (self.folder / stored).exists():
                    continue
                for k in range(1, len(parts)):
                    if (self.folder.joinpath(*parts[k:])).is_file():
                        fixes.append((table, col, Path(*parts[k:]).as_posix(), row_id))
                        break
        if fixes:
            with self._write() as con:
                for table, col, value, row_id in fixes:
                    con.execute(f"UPDATE {table} SET {col}=? WHERE id=?", (value, row_id))
