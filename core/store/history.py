"""Undo/redo of expert label edits on a :class:`~core.store.Project`.

:class:`LabelHistory` is the Qt-free undo stack the GUI wraps; every do, undo and redo
is written through to the database at once, so the stack never holds unsaved work.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.store.project import Project

__all__ = ["LabelHistory"]


@dataclass(frozen=True)
class _Edit:
    study_id: int
    frame: int
    before: str | None  # None: the frame had no expert label
    after: str | None


class LabelHistory:
    """Undo/redo of expert label edits on a project.

    Parameters
    ----------
    project : Project
        Edits are written to it immediately (each is its own committed transaction).
    user : str, optional
        Recorded as the author of every edit, undo and redo; default the OS user.
    limit : int
        The most edits kept for undo; older ones drop off (they stay in the database).
    """

    def __init__(self, project: Project, *, user: str | None = None, limit: int = 1000) -> None:
        self.project = project
        self.user = user
        self.limit = limit
        self._undo: list[_Edit] = []
        self._redo: list[_Edit] = []

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def set(self, study_id: int, frame: int, value: str) -> None:
        """Label a frame (undoable). Setting the value it already has does nothing."""
        self._do(study_id, frame, value)

    def clear(self, study_id: int, frame: int) -> None:
        """Remove a frame's label (undoable). Clearing an unlabelled frame does nothing."""
        self._do(study_id, frame, None)

    def undo(self) -> tuple[int, int] | None:
        """Revert the newest edit; returns its (study_id, frame), or None if none."""
        if not self._undo:
            return None
        edit = self._undo[-1]
        self._apply(edit.study_id, edit.frame, edit.before)
        self._redo.append(self._undo.pop())  # only once the write succeeded
        return edit.study_id, edit.frame

    def redo(self) -> tuple[int, int] | None:
        """Re-apply the newest undone edit; returns its (study_id, frame), or None."""
        if not self._redo:
            return None
        edit = self._redo[-1]
        self._apply(edit.study_id, edit.frame, edit.after)
        self._undo.append(self._redo.pop())
        return edit.study_id, edit.frame

    def _do(self, study_id: int, frame: int, value: str | None) -> None:
        current = self.project.label(study_id, frame)
        before = None if current is None else current.value
        if before == value:
            return
        self._apply(study_id, frame, value)
        self._undo.append(_Edit(int(study_id), int(frame), before, value))
        del self._undo[: -self.limit]
        self._redo.clear()  # a new edit forks history: the undone branch is gone

    def _apply(self, study_id: int, frame: int, value: str | None) -> None:
        if value is None:
            self.project.clear_label(study_id, frame, user=self.user)
        else:
            self.project.set_label(study_id, frame, value, user=self.user)
