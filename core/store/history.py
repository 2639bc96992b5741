"""Undo/redo of annotation edits on a :class:`~core.store.Project`.

:class:`AnnotationHistory` is the Qt-free undo stack a workspace wraps. Every do, undo
and redo is written through to the database at once (and logged in
``annotation_events``), so the stack never holds unsaved work. An undo step may hold
many changes (``with history.step(): ...``, e.g. labelling a range of frames); it is
undone and redone as one transaction. :class:`LabelHistory` is its frame-label face.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from core.store.annotations import Annotation
from core.store.project import Project

__all__ = ["AnnotationHistory", "Change", "LabelHistory"]

_KEEP: Any = object()


@dataclass(frozen=True)
class Change:
    """One annotation's state before and after an edit (None: absent)."""

    annotation_id: int
    before: Annotation | None
    after: Annotation | None

    @property
    def where(self) -> tuple[int, int | None]:
        """(study_id, frame) the change touched."""
        a = self.after or self.before
        assert a is not None
        return a.study_id, a.frame


class AnnotationHistory:
    """Undo/redo of annotation edits of every kind.

    Parameters
    ----------
    project : Project
        Edits are written to it immediately (each is its own committed transaction).
    user : str, optional
        Recorded as the author of every edit, undo and redo; default the OS user.
    limit : int
        The most undo steps kept; older ones drop off (they stay in the database log).
    """

    def __init__(self, project: Project, *, user: str | None = None, limit: int = 1000) -> None:
        self.project = project
        self.user = user
        self.limit = limit
        self._undo: list[list[Change]] = []
        self._redo: list[list[Change]] = []
        self._open: list[Change] | None = None

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @contextmanager
    def step(self) -> Iterator[None]:
        """Group the edits made inside the block into one undo step."""
        if self._open is not None:  # nested: part of the outer step
            yield
            return
        self._open = []
        try:
            yield
        finally:
            changes, self._open = self._open, None
            self._push(changes)

    def _push(self, changes: list[Change]) -> None:
        if not changes:
            return
        if self._open is not None:
            self._open.extend(changes)
            return
        self._undo.append(changes)
        del self._undo[: -self.limit]
        self._redo.clear()  # a new edit forks history: the undone branch is gone

    # ------------------------------------------------------------------ edits
    def add(self, study_id: int, kind: str, geometry: Any = None, *, frame: int | None = None,
            value: str = "") -> Annotation:
        """Add an annotation (undoable); a frame label or mask replaces the frame's one."""
        before = None
        if kind in ("frame_label", "mask") and frame is not None:
            found = self.project.annotations(study_id, kind=kind, frame=frame)
            before = found[0] if found else None
        after = self.project.add_annotation(study_id, kind, geometry, frame=frame, value=value,
                                            user=self.user)
        self._push([Change(after.id, before, after)])
        return after

    def update(self, ann_id: int, *, geometry: Any = _KEEP, value: Any = _KEEP) -> Annotation:
        """Change an annotation's geometry and/or value (undoable)."""
        before = self.project.annotation(ann_id)
        kw = {k: v for k, v in (("geometry", geometry), ("value", value)) if v is not _KEEP}
        after = self.project.update_annotation(ann_id, user=self.user, **kw)
        self._push([Change(ann_id, before, after)])
        return after

    def delete(self, ann_id: int) -> None:
        """Remove an annotation (undoable: undo restores it with its id)."""
        before = self.project.annotation(ann_id)
        if before is None:
            return
        self.project.delete_annotation(ann_id, user=self.user)
        self._push([Change(ann_id, before, None)])

    def undo(self) -> list[Change] | None:
        """Revert the newest step; returns its changes, or None if there is none."""
        if not self._undo:
            return None
        step = self._undo[-1]
        self.project.restore_annotations([(c.annotation_id, c.before) for c in reversed(step)],
                                         user=self.user)
        self._redo.append(self._undo.pop())  # only once the write succeeded
        return step

    def redo(self) -> list[Change] | None:
        """Re-apply the newest undone step; returns its changes, or None."""
        if not self._redo:
            return None
        step = self._redo[-1]
        self.project.restore_annotations([(c.annotation_id, c.after) for c in step],
                                         user=self.user)
        self._undo.append(self._redo.pop())
        return step


class LabelHistory(AnnotationHistory):
    """Undo/redo of expert frame labels (the frame-quality workspace's stack)."""

    def set(self, study_id: int, frame: int, value: str) -> None:
        """Label a frame (undoable). Setting the value it already has does nothing."""
        current = self.project.label(study_id, frame)
        if current is not None and current.value == value:
            return
        self.add(study_id, "frame_label", frame=frame, value=value)

    def clear(self, study_id: int, frame: int) -> None:
        """Remove a frame's label (undoable). Clearing an unlabelled frame does nothing."""
        found = self.project.annotations(study_id, kind="frame_label", frame=frame)
        if found:
            self.delete(found[0].id)

    def set_range(self, study_id: int, frames: range | list[int], value: str | None) -> None:
        """Label (or clear, value None) many frames as one undo step."""
        with self.step():
            for f in frames:
                self.clear(study_id, f) if value is None else self.set(study_id, f, value)

    def undo(self) -> tuple[int, int] | None:  # type: ignore[override]
        """Revert the newest step; returns the (study_id, frame) it touched last, or None."""
        step = super().undo()
        return None if step is None else step[0].where

    def redo(self) -> tuple[int, int] | None:  # type: ignore[override]
        step = super().redo()
        return None if step is None else step[-1].where
