"""Subjects and studies of a project.

A study (a video, a frame folder, an image set; later a CT series or an ultrasound clip)
belongs to a subject: a patient, or by default the study itself. Splits live on the
subject, so two videos of one patient can never fall on both sides of a train/test
split, and validation groups are subjects too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.store.db import ProjectError, choice, now, to_json, where

SPLITS = ("train", "test")


@dataclass(frozen=True)
class Study:
    """One study in the project.

    ``path`` is where it was last seen; ``content_hash`` identifies it even when moved.
    ``height`` and ``width`` are in pixels, ``fps`` in frames per second (0 if none).
    ``split`` is its subject's. ``meta`` holds the reader's small per-study facts
    (pixel spacing in mm, orientation, series UID, mask file names...).
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
    subject_id: int = 0
    subject: str = ""
    meta: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Subject:
    id: int
    key: str
    split: str
    note: str


_STUDY_SQL = (
    "SELECT s.id, s.path, s.content_hash, s.kind, s.task, s.n_frames, s.fps, s.height,"
    " s.width, j.split, s.name, s.added, s.subject_id, j.key, s.meta"
    " FROM studies s JOIN subjects j ON j.id = s.subject_id"
)


_MAX_ID = 2**63 - 1  # the largest integer SQLite stores


def _study(row: tuple, db) -> Study:
    return Study(*row[:14], meta=db._json(row[14], f"the metadata of study {row[0]}") or {})


class StudiesMixin:
    """Study and subject methods of :class:`core.store.Project`."""

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
        *,
        subject: str | None = None,
        meta: dict[str, Any] | None = None,
        index: str | None = None,
    ) -> Study:
        """Add a study, or return the one with the same content hash and task.

        A study found under a new ``path`` has its path updated (it was moved). A name
        already used by another study gets a ``-2``, ``-3``... suffix.

        Parameters
        ----------
        subject : str, optional
            The subject's key (a pseudonym: never a patient's name). A study joining an
            existing subject takes that subject's split; asking for the other split then
            raises :class:`ProjectError`. Default: the study is its own subject.
        meta : dict, optional
            Small JSON facts from the reader (spacing, orientation, ...).
        index : str, optional
            The reader's scan index (JSON text), kept apart from the study row's meta.
        """
        choice(split, SPLITS, "split")
        if not content_hash or not kind or not task:
            raise ValueError("content_hash, kind and task must be non-empty strings")
        path = str(Path(path))
        with self._write() as con:
            row = con.execute(
                "SELECT id, path FROM studies WHERE content_hash=? AND task=?", (content_hash, task)
            ).fetchone()
            if row is not None:
                study_id = row[0]
                if row[1] != path:
                    con.execute("UPDATE studies SET path=? WHERE id=?", (path, study_id))
                if index is not None:
                    con.execute("UPDATE studies SET reader_index=? WHERE id=?", (index, study_id))
            else:
                base = name or Path(path).stem or "study"
                taken = {r[0] for r in con.execute("SELECT name FROM studies")}
                unique, n = base, 1
                while unique in taken:
                    n += 1
                    unique = f"{base}-{n}"
                subject_id = self._subject_for(con, subject, unique, split)
                cur = con.execute(
                    "INSERT INTO studies (subject_id, path, content_hash, kind, task, n_frames,"
                    " fps, height, width, name, added, meta, reader_index)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (subject_id, path, content_hash, kind, task, int(n_frames), float(fps),
                     int(height), int(width), unique, now(), to_json(meta or {}), index),
                )
                study_id = cur.lastrowid
        return self.study(study_id)

    def _subject_for(self, con, key: str | None, study_name: str, split: str) -> int:
        if key is None:  # the study stands for itself; keep the key unique
            key, n = f"study:{study_name}", 1
            while con.execute("SELECT 1 FROM subjects WHERE key=?", (key,)).fetchone():
                n += 1
                key = f"study:{study_name}-{n}"
        row = con.execute("SELECT id, split FROM subjects WHERE key=?", (key,)).fetchone()
        if row is None:
            return con.execute("INSERT INTO subjects (key, split) VALUES (?, ?)",
                               (key, split)).lastrowid
        if row[1] != split:
            raise ProjectError(
                f"Subject {key!r} is in the {row[1]} set, so a study of it cannot be added "
                f"to the {split} set: one subject's studies are never on both sides.")
        return row[0]

    def studies(self, task: str | None = None, *, subject_id: int | None = None) -> list[Study]:
        """All studies (optionally of one task or one subject), in the order they were added."""
        cond, args = where({"s.task": task,
                            "s.subject_id": None if subject_id is None else int(subject_id)})
        return [_study(r, self) for r in self._read(f"{_STUDY_SQL}{cond} ORDER BY s.id", args)]

    def study(self, study_id: int) -> Study:
        if not 0 <= int(study_id) <= _MAX_ID:  # SQLite's integers are 64-bit
            raise ProjectError(f"There is no study number {study_id} in this project.")
        rows = self._read(_STUDY_SQL + " WHERE s.id=?", (int(study_id),))
        if not rows:
            raise ProjectError(f"There is no study number {study_id} in this project.")
        return _study(rows[0], self)

    def find_study(self, name_or_id: str | int) -> Study:
        """The study with this name, else with this id (names win over ids)."""
        key = str(name_or_id).strip()
        rows = self._read("SELECT id FROM studies WHERE name=?", (key,))
        if rows:
            return self.study(rows[0][0])
        if key.isascii() and key.isdigit() and int(key) <= _MAX_ID:
            rows = self._read("SELECT id FROM studies WHERE id=?", (int(key),))
            if rows:
                return self.study(rows[0][0])
        raise ProjectError(f"There is no study named {key!r} in this project.")

    def set_split(self, study_id: int, split: str) -> None:
        """Put the study's subject (with all its studies) in the ``train`` or ``test`` set."""
        choice(split, SPLITS, "split")
        study = self.study(study_id)
        with self._write() as con:
            con.execute("UPDATE subjects SET split=? WHERE id=?", (split, study.subject_id))

    # ------------------------------------------------------------------ subjects
    def subjects(self) -> list[Subject]:
        return [Subject(*r) for r in
                self._read("SELECT id, key, split, note FROM subjects ORDER BY id")]

    def set_subject(self, study_id: int, key: str) -> Study:
        """Move a study to the subject ``key`` (created with the study's split if new).

        Joining an existing subject in the other split raises :class:`ProjectError`.
        """
        study = self.study(study_id)
        if not key:
            raise ValueError("a subject key must be a non-empty string")
        with self._write() as con:
            sid = self._subject_for(con, key, study.name, study.split)
            con.execute("UPDATE studies SET subject_id=? WHERE id=?", (sid, study.id))
            con.execute("DELETE FROM subjects WHERE id=? AND NOT EXISTS "
                        "(SELECT 1 FROM studies WHERE subject_id=?)",
                        (study.subject_id, study.subject_id))
        return self.study(study_id)

    # ------------------------------------------------------------------ reader data
    def study_index(self, study_id: int) -> str | None:
        """The reader's stored scan index of a study (JSON text), or None."""
        rows = self._read("SELECT reader_index FROM studies WHERE id=?", (int(study_id),))
        if not rows:
            raise ProjectError(f"There is no study number {study_id} in this project.")
        return rows[0][0]

    def set_study_index(self, study_id: int, text: str | None) -> None:
        with self._write() as con:
            con.execute("UPDATE studies SET reader_index=? WHERE id=?", (text, int(study_id)))

    def update_study_meta(self, study_id: int, **values: Any) -> Study:
        """Merge ``values`` into a study's ``meta`` (a value None removes the key)."""
        with self._write() as con:
            row = con.execute("SELECT meta FROM studies WHERE id=?", (int(study_id),)).fetchone()
            if row is None:
                raise ProjectError(f"There is no study number {study_id} in this project.")
            meta = self._json(row[0], f"the metadata of study {study_id}") or {}
            meta.update(values)
            meta = {k: v for k, v in meta.items() if v is not None}
            con.execute("UPDATE studies SET meta=? WHERE id=?", (to_json(meta), int(study_id)))
        return self.study(study_id)

    def relink_study(self, study_id: int, path: str | Path) -> Study:
        """Point a study at its file's new location (after the user moved it)."""
        self.study(study_id)
        with self._write() as con:
            con.execute("UPDATE studies SET path=? WHERE id=?", (str(Path(path)), int(study_id)))
        return self.study(study_id)
