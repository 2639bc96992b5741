"""The CIMT workspace's undo stack: annotation edits and, in the same steps, what lies
beside them (a one-point draft tracing, the state of a corrected snake).

:class:`CimtHistory` is an :class:`~core.store.history.AnnotationHistory` whose steps may
also hold :class:`SideChange` entries: a pair of callables that put something back when
the step is undone and forward again when it is redone. The workspace records them with
:meth:`CimtHistory.record`, inside the same ``history.step()`` as the annotation edit
they accompany, so one Ctrl+Z reverts both:

* a snake correction stores the corrected stretch as the expert's tracing (an annotation
  change) and changes the snake on screen (its constraints and converged points: a side
  change);
* a tracing of one point is not a polyline the store accepts (a polyline has 2 points or
  more): it is kept as a draft in the project (:mod:`.drafts`), and setting or clearing
  the draft is a side change.

Annotation changes are written first (one transaction, as the base class does), side
changes after them in the step's order (reversed when undoing); the step moves to the
other stack only once every write succeeded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core.store.history import AnnotationHistory, Change

__all__ = ["CimtHistory", "SideChange"]


@dataclass(frozen=True)
class SideChange:
    """A change beside the annotations, undone / redone by calling ``undo_fn`` / ``redo_fn``.

    ``kind`` says what it is ("draft" or "snake"); ``study_id`` and ``frame`` where it
    happened. ``annotation_id``, ``before`` and ``after`` are None so that code reading a
    step's :class:`~core.store.history.Change` entries can read these too.
    """

    kind: str
    study_id: int
    frame: int | None
    undo_fn: Callable[[], None]
    redo_fn: Callable[[], None]
    annotation_id: None = None
    before: None = None
    after: None = None

    @property
    def where(self) -> tuple[int, int | None]:
        return self.study_id, self.frame


class CimtHistory(AnnotationHistory):
    """Annotation undo/redo with :class:`SideChange` entries in the same steps."""

    def record(self, change: SideChange) -> None:
        """Add a side change to the open step (or make it a step of its own)."""
        self._push([change])

    def _apply(self, step: list, undo: bool) -> None:
        anns = [c for c in step if isinstance(c, Change)]
        if anns:
            pairs = ([(c.annotation_id, c.before) for c in reversed(anns)] if undo
                     else [(c.annotation_id, c.after) for c in anns])
            self.project.restore_annotations(pairs, user=self.user)
        sides = [c for c in step if isinstance(c, SideChange)]
        for c in (reversed(sides) if undo else sides):
            (c.undo_fn if undo else c.redo_fn)()

    def undo(self) -> list | None:
        """Revert the newest step; returns its changes, or None if there is none."""
        if not self._undo:
            return None
        step = self._undo[-1]
        self._apply(step, undo=True)
        self._redo.append(self._undo.pop())
        return step

    def redo(self) -> list | None:
        """Re-apply the newest undone step; returns its changes, or None."""
        if not self._redo:
            return None
        step = self._redo[-1]
        self._apply(step, undo=False)
        self._undo.append(self._redo.pop())
        return step
