"""The project store: one folder, one SQLite database.

A project folder holds ``layertune.sqlite`` (subjects and studies by path and content
hash, annotations with provenance and history, candidates, training runs, snapshots,
predictions, experiments, settings) and a ``snapshots/`` folder for model weights.
The tables are described in :mod:`core.store.schema`; durability, threads and
migration in :mod:`core.store.db`.

Errors a clinician can act on (unwritable folder, a project from a newer LayerTune,
a path that is not a project, a full disk, a failed upgrade) raise
:class:`ProjectError` with a plain message; programming errors (a bad label value, an
unknown split) raise ``ValueError``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.store.annotations import AnnotationsMixin
from core.store.candidates import CandidatesMixin
from core.store.db import DB_NAME, Database, ProjectError, to_json
from core.store.runs import RunsMixin
from core.store.studies import StudiesMixin


class Project(Database, StudiesMixin, AnnotationsMixin, CandidatesMixin, RunsMixin):
    """A LayerTune project folder. Use :meth:`create`, :meth:`open` or
    :meth:`open_or_create`; close it (or use it as a context manager) when done."""

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

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Project({str(self.folder)!r})"

    # ------------------------------------------------------------------ settings
    def get_setting(self, key: str, default: Any = None) -> Any:
        """A user preference stored in the project (JSON), or ``default``."""
        rows = self._read("SELECT value FROM settings WHERE key=?", (key,))
        return self._json(rows[0][0], f"the setting {key!r}") if rows else default

    def set_setting(self, key: str, value: Any) -> None:
        """Store a JSON-serialisable preference under ``key``."""
        with self._write() as con:
            con.execute("INSERT OR REPLACE INTO settings VALUES (?, ?)", (key, to_json(value)))

    def get_info(self, key: str, default: Any = None) -> Any:
        """An application fact about the project (JSON in ``meta``), or ``default``."""
        rows = self._read("SELECT value FROM meta WHERE key=?", (f"info:{key}",))
        return self._json(rows[0][0], f"the project fact {key!r}") if rows else default

    def set_info(self, key: str, value: Any) -> None:
        with self._write() as con:
            con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (f"info:{key}", to_json(value)))
