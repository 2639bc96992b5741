"""Annotations: the expert's truth of every kind, with provenance and an event log.

Each annotation has a kind (see :mod:`core.store.geometry`), a study, a frame (None
for volume-level marks such as spheres), a value (the class or the boundary's name), a
geometry, and its provenance (source ``expert``, ``imported`` or, for projects from
the first release, ``model``; user; time). Frame labels and masks are one per frame and
source; the other kinds may be many per frame.

Every change is one committed transaction that updates the current state *and*
appends to ``annotation_events``: the log is what undo/redo and audit read, and an
annotation deleted and later restored by undo keeps its id.

The frame-label methods (:meth:`set_label`, :meth:`labels`...) are this store's view
of ``frame_label`` annotations. What the model says is not stored as labels: it lives
in predictions; ``labels(source="model")`` derives it from the newest preview
predictions (argmax class), with the run and epoch as its model version.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.store import geometry as geo
from core.store.db import ProjectError, choice, damaged, now, os_user, where
from core.store.schema import ANNOTATION_KINDS, ANNOTATION_SOURCES

LABEL_SOURCES = ("expert", "model")
_ONE_PER_FRAME = ("frame_label", "mask")
_KEEP: Any = object()


def task_rules(task: str) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None, str]:
    """(label values, annotation kinds, title) of a registered task; Nones if unknown."""
    from core import tasks  # imported late: tasks never import the store

    try:
        t = tasks.get_task(task)
    except ValueError:
        return None, None, task
    return (tuple(t.class_names), tuple(getattr(t, "annotation_kinds", ())) or None,
            getattr(t, "title", task))


def label_values(task: str) -> tuple[str, ...] | None:
    """The class names a frame label of ``task`` may take, or None if any string may."""
    return task_rules(task)[0]


@dataclass(frozen=True)
class Annotation:
    """One annotation's current state; ``geometry`` is decoded (see core.store.geometry)."""

    id: int
    study_id: int
    kind: str
    frame: int | None
    value: str
    geometry: Any
    source: str
    user: str
    time: str
    model_version: str | None = None


@dataclass(frozen=True)
class AnnotationEvent:
    """One entry of the append-only log: the state set, or ``action == "delete"``."""

    id: int
    annotation_id: int | None
    study_id: int
    kind: str
    frame: int | None
    action: str
    value: str | None
    geometry: Any
    source: str
    user: str
    time: str
    model_version: str | None


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


_ANN_COLS = "id, study_id, kind, frame, value, geometry, source, user, time, model_version"
_EVT_COLS = ("id, annotation_id, study_id, kind, frame, action, value, geometry, source, user,"
             " time, model_version")


def _decode(kind: str, frame: Any, blob: Any) -> Any:
    """The geometry of a stored row; ValueError/TypeError when the row is damaged."""
    if kind not in geo.GEOMETRY_TYPES:
        raise ValueError(f"unknown annotation kind {kind!r}")
    if kind in _ONE_PER_FRAME and not isinstance(frame, int):
        raise ValueError(f"a {kind} with no frame number")
    return geo.decode(kind, blob)


def _annotation(row: tuple) -> Annotation:
    r = list(row)
    r[5] = _decode(r[2], r[3], r[5])
    return Annotation(*r)


def _event(row: tuple) -> AnnotationEvent:
    r = list(row)
    r[7] = _decode(r[3], r[4], r[7])
    return AnnotationEvent(*r)


class AnnotationsMixin:
    """Annotation methods of :class:`core.store.Project`."""

    def _rows(self, make, sql: str, args: tuple) -> list:
        """``make(row)`` for every row; a row that cannot be decoded means the database
        is damaged (a :class:`ProjectError` naming it and its backup)."""
        out = []
        for row in self._read(sql, args):
            try:
                out.append(make(row))
            except (ValueError, TypeError, KeyError) as exc:
                raise ProjectError(damaged(self.folder, f"annotation {row[0]} cannot be read "
                                          f"({exc})")) from exc
        return out

    # ------------------------------------------------------------------ checks
    def _check(self, con, study_id: int, kind: str, frame: int | None, value: Any,
               geometry: Any, cache: dict | None = None) -> tuple[int, int | None]:
        study_id = int(study_id)
        if cache is not None and study_id in cache:
            task, n_frames, rules = cache[study_id]
        else:
            row = con.execute("SELECT task, n_frames FROM studies WHERE id=?",
                              (study_id,)).fetchone()
            if row is None:
                raise ValueError(f"no study with id {study_id}")
            task, n_frames = row
            rules = task_rules(task)
            if cache is not None:
                cache[study_id] = (task, n_frames, rules)
        values, kinds, title = rules
        if kind not in ANNOTATION_KINDS:
            raise ValueError(f"unknown annotation kind {kind!r}; choose one of "
                             f"{', '.join(ANNOTATION_KINDS)}")
        if kinds is not None and kind not in kinds:
            raise ValueError(f"the task {title!r} does not use {kind} annotations; it uses "
                             f"{', '.join(kinds)}")
        if frame is not None:
            frame = int(frame)
            if frame < 0 or (n_frames > 0 and frame >= n_frames):
                raise ValueError(f"frame {frame} is outside study {study_id} (0..{n_frames - 1})")
        elif kind in _ONE_PER_FRAME:
            raise ValueError(f"a {kind} annotation needs a frame")
        if value is not None:
            if not isinstance(value, str) or (kind == "frame_label" and not value):
                raise ValueError(f"a label must be a non-empty string, got {value!r}")
            if kind == "frame_label" and values is not None:
                choice(value, sorted(values), f"a {task!r} label")
        geo.check(kind, geometry)
        return study_id, frame

    # ------------------------------------------------------------------ primitives
    def _log(self, con, ann_id, study_id, kind, frame, action, value, blob, source, user, time,
             model_version) -> None:
        con.execute(
            f"INSERT INTO annotation_events ({_EVT_COLS.split(', ', 1)[1]}) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (ann_id, study_id, kind, frame, action, value, blob, source, user, time,
             model_version))

    def _put(self, con, ann_id: int | None, study_id: int, kind: str, frame: int | None,
             value: str, blob: bytes | None, source: str, user: str, time: str,
             model_version: str | None) -> int:
        """Insert (``ann_id`` None or absent) or overwrite one annotation, and log it."""
        if ann_id is None and kind in _ONE_PER_FRAME:
            row = con.execute("SELECT id FROM annotations WHERE study_id=? AND kind=? AND "
                              "frame=? AND source=?", (study_id, kind, frame, source)).fetchone()
            ann_id = None if row is None else row[0]
        con.execute(
            f"INSERT OR REPLACE INTO annotations ({_ANN_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (ann_id, study_id, kind, frame, value, blob, source, user, time, model_version))
        if ann_id is None:
            ann_id = con.execute("SELECT last_insert_rowid()").fetchone()[0]
        self._log(con, ann_id, study_id, kind, frame, "set", value, blob, source, user, time,
                  model_version)
        return ann_id

    def _delete(self, con, row: tuple, user: str, time: str) -> None:
        ann_id, study_id, kind, frame, _, _, source = row[:7]
        con.execute("DELETE FROM annotations WHERE id=?", (ann_id,))
        self._log(con, ann_id, study_id, kind, frame, "delete", None, None, source, user, time,
                  None)

    # ------------------------------------------------------------------ annotations
    def add_annotation(self, study_id: int, kind: str, geometry: Any = None, *,
                       frame: int | None = None, value: str = "", source: str = "expert",
                       user: str | None = None, model_version: str | None = None) -> Annotation:
        """Add an annotation (a frame label or mask replaces the frame's current one)."""
        choice(source, ANNOTATION_SOURCES, "source")
        blob = geo.encode(kind, geometry)
        with self._write() as con:
            study_id, frame = self._check(con, study_id, kind, frame, value, geometry)
            ann_id = self._put(con, None, study_id, kind, frame, value, blob, source,
                               user or os_user(), now(), model_version)
        return self.annotation(ann_id)

    def update_annotation(self, ann_id: int, *, geometry: Any = _KEEP, value: Any = _KEEP,
                          user: str | None = None) -> Annotation:
        """Change an annotation's geometry and/or value (logged; provenance updated)."""
        old = self.annotation(ann_id)
        if old is None:
            raise ProjectError(f"There is no annotation number {ann_id} in this project.")
        g = old.geometry if geometry is _KEEP else geometry
        v = old.value if value is _KEEP else value
        blob = geo.encode(old.kind, g)
        with self._write() as con:
            self._check(con, old.study_id, old.kind, old.frame, v, g)
            self._put(con, old.id, old.study_id, old.kind, old.frame, v, blob, old.source,
                      user or os_user(), now(), old.model_version)
        return self.annotation(ann_id)

    def delete_annotation(self, ann_id: int, *, user: str | None = None) -> None:
        """Remove an annotation (the log keeps it; undo restores it with its id)."""
        with self._write() as con:
            row = con.execute(f"SELECT {_ANN_COLS} FROM annotations WHERE id=?",
                              (int(ann_id),)).fetchone()
            if row is None:
                raise ProjectError(f"There is no annotation number {ann_id} in this project.")
            self._delete(con, row, user or os_user(), now())

    def restore_annotations(self, states: Iterable[tuple[int, Annotation | None]], *,
                            user: str | None = None) -> None:
        """Set each annotation id to a saved state (None: absent), in one transaction.

        Undo and redo use it; each change is logged like any edit, by ``user``.
        """
        user, time = user or os_user(), now()
        with self._write() as con:
            for ann_id, state in states:
                row = con.execute(f"SELECT {_ANN_COLS} FROM annotations WHERE id=?",
                                  (int(ann_id),)).fetchone()
                if state is None:
                    if row is not None:
                        self._delete(con, row, user, time)
                    continue
                self._check(con, state.study_id, state.kind, state.frame, state.value,
                            state.geometry)
                if state.kind in _ONE_PER_FRAME:  # another row may hold the frame now
                    for other in con.execute(
                            f"SELECT {_ANN_COLS} FROM annotations WHERE study_id=? AND kind=? "
                            "AND frame=? AND source=? AND id<>?",
                            (state.study_id, state.kind, state.frame, state.source,
                             int(ann_id))).fetchall():
                        self._delete(con, other, user, time)
                self._put(con, int(ann_id), state.study_id, state.kind, state.frame,
                          state.value, geo.encode(state.kind, state.geometry), state.source,
                          user, time, state.model_version)

    def annotation(self, ann_id: int) -> Annotation | None:
        rows = self._rows(_annotation, f"SELECT {_ANN_COLS} FROM annotations WHERE id=?",
                          (int(ann_id),))
        return rows[0] if rows else None

    def annotations(self, study_id: int | None = None, *, kind: str | None = None,
                    frame: int | None = None, source: str | None = "expert"
                    ) -> list[Annotation]:
        """Current annotations, ordered by study, frame and id; None filters nothing."""
        cond, args = where({"study_id": study_id, "kind": kind, "frame": frame,
                            "source": source})
        sql = f"SELECT {_ANN_COLS} FROM annotations{cond} ORDER BY study_id, frame, id"
        return self._rows(_annotation, sql, args)

    def annotation_frames(self, kind: str, *, study_id: int | None = None,
                          source: str | None = "expert") -> dict[int, list[int]]:
        """``{study id: sorted frames}`` holding an annotation of ``kind`` (nothing is
        decoded: cheap even with thousands of masks)."""
        cond, args = where({"kind": kind, "study_id": study_id, "source": source})
        out: dict[int, list[int]] = {}
        for sid, frame in self._read(f"SELECT DISTINCT study_id, frame FROM annotations{cond} "
                                     "AND frame IS NOT NULL ORDER BY study_id, frame", args):
            out.setdefault(int(sid), []).append(int(frame))
        return out

    def annotation_history(self, study_id: int | None = None, *,
                           annotation_id: int | None = None, kind: str | None = None,
                           frame: int | None = None) -> list[AnnotationEvent]:
        """Logged changes, oldest first, filtered by any of the arguments."""
        cond, args = where({"study_id": study_id, "annotation_id": annotation_id, "kind": kind,
                            "frame": frame})
        return self._rows(_event, f"SELECT {_EVT_COLS} FROM annotation_events{cond} ORDER BY id",
                          args)

    # ------------------------------------------------------------------ frame labels
    def set_labels(self, entries: Iterable[tuple[int, int, str | None]], *,
                   source: str = "expert", user: str | None = None,
                   model_version: str | None = None) -> int:
        """Set (or, with value None, clear) many frame labels in one transaction.

        Parameters
        ----------
        entries : iterable of (study_id, frame, value)
            ``value`` None clears the frame's label from ``source``.

        Returns
        -------
        int
            The number of entries written; all or none are saved.
        """
        choice(source, LABEL_SOURCES, "source")
        user, time, count, cache = user or os_user(), now(), 0, {}
        with self._write() as con:
            for study_id, frame, value in entries:
                study_id, frame = self._check(con, study_id, "frame_label", frame, value, None,
                                              cache)
                if value is None:
                    row = con.execute(f"SELECT {_ANN_COLS} FROM annotations WHERE study_id=? "
                                      "AND kind='frame_label' AND frame=? AND source=?",
                                      (study_id, frame, source)).fetchone()
                    if row is not None:
                        self._delete(con, row, user, time)
                    else:  # a clear of nothing is still part of the record
                        self._log(con, None, study_id, "frame_label", frame, "delete", None,
                                  None, source, user, time, None)
                else:
                    self._put(con, None, study_id, "frame_label", frame, value, None, source,
                              user, time, model_version)
                count += 1
        return count

    def set_label(self, study_id: int, frame: int, value: str, *, source: str = "expert",
                  user: str | None = None, model_version: str | None = None) -> Label:
        """Set one frame's label; it is committed to disk before this returns."""
        user = user or os_user()
        self.set_labels([(study_id, frame, value)], source=source, user=user,
                        model_version=model_version)
        return self.label(study_id, frame, source)

    def clear_label(self, study_id: int, frame: int, *, user: str | None = None,
                    source: str = "expert") -> None:
        """Remove a frame's current label (the history keeps the removal)."""
        self.set_labels([(study_id, frame, None)], source=source, user=user)

    def label(self, study_id: int, frame: int, source: str = "expert") -> Label | None:
        """The current label of one frame, or None."""
        rows = self._rows(_annotation, f"SELECT {_ANN_COLS} FROM annotations WHERE "
                          "study_id=? AND kind='frame_label' AND frame=? AND source=?",
                          (int(study_id), int(frame), source))
        if rows:
            a = rows[0]
            return Label(a.study_id, a.frame, a.value, a.source, a.user, a.time,
                         a.model_version)
        if source == "model":
            found = [lb for lb in self._model_labels(study_id) if lb.frame == int(frame)]
            return found[0] if found else None
        return None

    def labels(self, study_id: int | None = None, source: str | None = "expert"
               ) -> list[Label]:
        """Current labels ordered by study and frame; ``source`` None gives every source.

        The ``model`` source is what the newest preview predictions say (not stored as
        labels), plus model labels kept from first-release projects.
        """
        out = [Label(a.study_id, a.frame, a.value, a.source, a.user, a.time, a.model_version)
               for a in self.annotations(study_id, kind="frame_label", source=source)]
        if source in (None, "model"):
            have = {(lb.study_id, lb.frame) for lb in out if lb.source == "model"}
            out += [lb for lb in self._model_labels(study_id)
                    if (lb.study_id, lb.frame) not in have]
        order = {s: i for i, s in enumerate(LABEL_SOURCES)}
        return sorted(out, key=lambda lb: (lb.study_id, lb.frame, order.get(lb.source, 9)))

    def _model_labels(self, study_id: int | None) -> list[Label]:
        sql = ("SELECT p.study_id, p.items, p.probs, p.n_classes, p.time, p.model_version, "
               "s.task FROM predictions p JOIN studies s ON s.id = p.study_id WHERE p.id IN "
               "(SELECT MAX(id) FROM predictions WHERE split='preview' AND item_kind='frame'"
               " GROUP BY study_id)")
        args: tuple = ()
        if study_id is not None:
            sql, args = sql + " AND p.study_id=?", (int(study_id),)
        out = []
        for sid, items, probs, c, time, version, task in self._read(sql, args):
            names = label_values(task)
            if names is None or len(names) != c:
                continue
            frames = np.frombuffer(items, "<i8")
            cls = np.frombuffer(probs, "<f4").reshape(-1, c).argmax(1)
            out += [Label(sid, int(f), names[k], "model", "layertune", time, version)
                    for f, k in zip(frames.tolist(), cls.tolist())]
        return out

    def label_history(self, study_id: int, frame: int) -> list[LabelEvent]:
        """Every edit of one frame's labels (all sources), oldest first."""
        return [LabelEvent(e.id, e.study_id, e.frame, e.value, e.source, e.user, e.time,
                           e.model_version)
                for e in self.annotation_history(study_id, kind="frame_label", frame=frame)]
