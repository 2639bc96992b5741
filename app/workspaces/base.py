"""The workspace protocol: what the main window and the training controller know of a task.

A workspace is one tab of the main window, the GUI of one task (frame quality today;
polyps, emboli and CIMT later). The main window builds its tabs from the registry in
:mod:`app.workspaces.registry` and routes the File and Edit menus and the shortcut sheet
to the current tab; :class:`app.training_controller.TrainingController` takes the task's
name, options and preview study from here. Neither imports a task's classes.

A new workspace subclasses :class:`Workspace`, sets the class attributes, overrides the
methods it needs (every one has a harmless default) and is registered with
:func:`app.workspaces.registry.register_workspace`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar, NamedTuple

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QFileDialog,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
    QWidget,
)

if TYPE_CHECKING:
    from ..widgets.training_panel import TrainingPanelWidget


class MenuAction(NamedTuple):
    """One File-menu entry a workspace offers while it is the current tab."""

    text: str
    slot: Callable[[], object]
    shortcut: str | None = None
    tip: str | None = None


def edits_text(widget: QWidget | None) -> bool:
    """Whether ``widget`` takes typed text (a line edit, text box or editable combo):
    a workspace's letter keys must leave it alone. A number box is not one: it takes
    digits only, so letters pass through it to the workspace."""
    if isinstance(widget, QAbstractSpinBox):
        return False
    return isinstance(widget, (QLineEdit, QTextEdit, QPlainTextEdit)) and not getattr(
        widget, "isReadOnly", lambda: False)()


class _KeyRouterFilter(QObject):
    """Routes keys to a workspace: letters through number boxes, focus back after dialogs.

    Installed on the workspace's window (its activation: a dialog just closed) and on
    every number box inside the workspace (``ShortcutOverride`` of a plain letter is
    left unaccepted, so the workspace's shortcut takes it instead of the box
    swallowing it).
    """

    def __init__(self, workspace: Workspace) -> None:
        super().__init__(workspace)
        self.workspace = workspace

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802
        kind = event.type()
        if kind == QEvent.Type.ShortcutOverride and isinstance(obj, QAbstractSpinBox):
            mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
            text = event.text()
            plain = mods in (Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.ShiftModifier)
            if plain and len(text) == 1 and not text.isdigit() and text not in "+-.,eE ":
                return True  # unaccepted: the shortcut map gets the key
        elif kind == QEvent.Type.WindowActivate and obj is self.workspace.window():
            QTimer.singleShot(0, self.workspace.refocus)
        return False


class Workspace(QWidget):
    """Base of every task's workspace (one tab of the main window).

    Class attributes
    ----------------
    task_name : str
        The core task it labels and trains (:func:`core.tasks.get_task` name), and its
        key in the registry, e.g. ``"frame_quality"``.
    title : str
        The tab's title, e.g. ``"Frame quality"``.
    shortcuts : list of (str, str)
        Rows of the keyboard-shortcut sheet while this tab is current: (keys, what).
    undo_noun : str
        What Edit > Undo undoes here ("label" gives "Undo label").

    Signals
    -------
    message(str)
        A line for the status bar.
    undo_state_changed()
        :meth:`can_undo` / :meth:`can_redo` may have changed.
    study_import_requested(str)
        Import this path as a new study (the main window runs the import in the
        background and then calls :meth:`reload` on every workspace).
    """

    task_name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    shortcuts: ClassVar[list[tuple[str, str]]] = []
    undo_noun: ClassVar[str] = ""
    tab_order: ClassVar[int] = 100  # tabs are sorted by it (frame quality 0, polyps 10...)
    study_noun: ClassVar[str] = "studies"  # in messages: "moved the patient's 3 studies"
    # The line above an empty tab (rich text; None: the video hint of frame quality);
    # its button runs the first of import_actions().
    empty_hint: ClassVar[str | None] = None

    message = Signal(str)
    undo_state_changed = Signal()
    study_import_requested = Signal(str)

    def __init__(self, project, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project = project
        # The shared training panel this workspace embeds, or None when it trains nothing
        # (the main window gives a workspace with a panel its own TrainingController).
        self.training: TrainingPanelWidget | None = None
        self._key_router = _KeyRouterFilter(self)

    def add_shortcut(self, keys: str, slot: Callable[[], object]) -> QShortcut:
        """A key that works while this workspace is the visible tab of the active window,
        wherever focus is, except while text is typed into a text field (a number box
        lets letters through; see :class:`_KeyRouterFilter`)."""
        sc = QShortcut(QKeySequence(keys), self)
        sc.setContext(Qt.ShortcutContext.WindowShortcut)
        sc.activated.connect(slot)
        return sc

    def focus_home(self) -> QWidget:
        """The widget that takes focus after a dialog closes (the viewer of a study)."""
        return self

    def refocus(self) -> None:
        """Give focus back to :meth:`focus_home` unless text is being typed somewhere."""
        if not self.isVisible() or not self.window().isActiveWindow():
            return
        if not edits_text(QApplication.focusWidget()):
            self.focus_home().setFocus(Qt.FocusReason.OtherFocusReason)

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        self.window().installEventFilter(self._key_router)  # once: Qt ignores repeats
        for box in self.findChildren(QAbstractSpinBox):
            box.installEventFilter(self._key_router)

    def owns_task(self, name: str) -> bool:
        """Whether a study's or run's ``task`` column names this workspace's task (or an
        older name of it, see :func:`core.tasks.canonical_name`)."""
        from core.tasks import canonical_name

        return canonical_name(name) == self.task_name

    # ------------------------------------------------------------------ edit
    # ``self.history`` (an undo history of the store, e.g. AnnotationHistory), when set,
    # serves Edit > Undo / Redo; ``_after_history(change, "undone")`` shows the change.
    history = None

    def undo(self) -> None:
        """Undo the newest edit (Edit > Undo while this tab is current)."""
        if self.history is not None:
            self._after_history(self.history.undo(), "undone")

    def redo(self) -> None:
        """Redo the newest undone edit."""
        if self.history is not None:
            self._after_history(self.history.redo(), "redone")

    def can_undo(self) -> bool:
        return self.history is not None and self.history.can_undo

    def can_redo(self) -> bool:
        return self.history is not None and self.history.can_redo

    def _after_history(self, change, word: str) -> None:
        """Show what an undo (``word`` "undone") or redo ("redone") changed."""

    # ------------------------------------------------------------------ layout
    def lay_out(self, centre: QWidget, below_panel: QWidget, *, centre_share: int = 3,
                panel_share: int = 3, below_share: int = 1) -> None:
        """The house layout: the study list | ``centre`` | the training panel above
        ``below_panel`` (a review queue, a table...), in splitters."""
        from PySide6.QtWidgets import QSplitter, QVBoxLayout

        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.training)
        right.addWidget(below_panel)
        right.setStretchFactor(0, panel_share)
        right.setStretchFactor(1, below_share)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.study_list)
        split.addWidget(centre)
        split.addWidget(right)
        split.setStretchFactor(1, centre_share)
        split.setStretchFactor(2, 2)
        QVBoxLayout(self).addWidget(split)

    def _say(self, text: str) -> None:
        """A message for the status bar, also kept in the info line (``self.info``)."""
        self.info.setText(text)
        self.message.emit(text)

    # ------------------------------------------------------------------ studies
    @property
    def n_frames(self) -> int:
        """Frames of the open study (0 with none open)."""
        study = getattr(self, "study", None)
        return study.n_frames if study else 0

    # A workspace with a study list (``self.study_list``, a StudyListWidget) and
    # ``open_study(id)`` / ``reload_studies()`` gets these for free.
    def reload_studies(self) -> None:
        """Refill the study list from the project."""

    def show_study_rows(self, rows, keep: int | None) -> int | None:
        """Fill the study list with ``rows`` ((id, text, split)), keep study ``keep``
        selected (open, at its frame) when it is still there, else open the first.
        Returns the selected row, or None when the list is empty."""
        row = self.study_list.set_studies(rows, keep)
        if row is None:
            return None
        self.study_list.blockSignals(True)  # the open study stays open, at its frame
        self.study_list.setCurrentRow(row)
        self.study_list.blockSignals(False)
        if getattr(self, "study", None) is None or self.study_list.study_id(row) != keep:
            self._on_study_row(row)
        return row

    def set_split(self, study_id: int, split: str) -> None:
        """Move a study, with every study of its patient, to the training or test set."""
        self.project.set_split(study_id, split)
        subject = self.project.study(study_id).subject_id
        n = len(self.project.studies(subject_id=subject))
        if n > 1:
            self.message.emit(f"moved the patient's {n} {self.study_noun} to the {split} set")
        self.reload_studies()

    def _on_study_row(self, row: int) -> None:
        if row >= 0:
            self.open_study(self.study_list.study_id(row))

    def select_study(self, study_id: int) -> None:
        """Open a study and select its row in the list."""
        row = self.study_list.row_of(study_id)
        if row is not None and row != self.study_list.currentRow():
            self.study_list.setCurrentRow(row)  # opens it
        elif getattr(self, "study", None) is None or self.study.id != study_id:
            self.open_study(study_id)

    def ask_subject(self, study_id: int) -> bool:
        """Ask which patient (subject) a study belongs to, and record it.

        Studies of one subject share its split; joining a subject on the other side of
        the split is refused with the store's explanation. Returns True when changed.
        """
        from PySide6.QtWidgets import QInputDialog, QMessageBox

        from core.store import ProjectError

        study = self.project.study(study_id)
        current = "" if study.subject.startswith("study:") else study.subject
        key, ok = QInputDialog.getText(
            self, "Patient", f"Patient (a pseudonym, never a name) of {study.name}.\n"
            "Studies of one patient are always on the same side of the train/test split.",
            text=current)
        key = key.strip()
        if not ok or not key or key == current:
            return False
        try:
            moved = self.project.set_subject(study_id, key)
        except ProjectError as exc:
            QMessageBox.warning(self, "Patient not changed", str(exc))
            return False
        self.message.emit(f"{moved.name} now belongs to patient {key} ({moved.split} set)")
        self.reload()
        return True

    # ------------------------------------------------------------------ files
    def import_actions(self) -> list[MenuAction]:
        """File-menu import entries shown while this tab is current."""
        return []

    def export_actions(self) -> list[MenuAction]:
        """File-menu export entries shown while this tab is current."""
        return []

    def choose_study_path(self) -> str | None:
        """Ask the user for a study to import; None when they cancel."""
        path, _ = QFileDialog.getOpenFileName(self, "Import study", "", "All files (*)")
        if not path:
            path = QFileDialog.getExistingDirectory(self, "…or a folder")
        return path or None

    def request_study_import(self) -> None:
        """Ask for a path and hand it to the main window's background import."""
        path = self.choose_study_path()
        if path:
            self.study_import_requested.emit(path)

    # ------------------------------------------------------------------ training
    def task_options(self) -> dict:
        """Keyword options of the core task for ``train_run`` / ``evaluate_run``."""
        return {}

    def preview_study_id(self) -> int | None:
        """The study a training job scores with every new best model (shown live): the
        open one."""
        study = getattr(self, "study", None)
        return None if study is None else study.id

    def show_prediction(self, prediction) -> None:
        """Draw the model's output on the open study.

        ``prediction`` is a :class:`core.events.Scored` (item ids and their class
        probabilities, (M,) or (M, C)) or a task's overlay; it is given only while the
        study :meth:`preview_study_id` named when training started is still open.
        """

    def result_view(self) -> QWidget | None:
        """The widget that draws an evaluation result (ROC, FROC, box plots), if any."""
        return None

    def result_summary(self, result) -> str:
        """One rich-text paragraph summing up an evaluation result."""
        return ""

    def show_result(self, result) -> None:
        """Draw an evaluation result in :meth:`result_view` and the panel's summary."""
        view = self.result_view()
        if view is not None and hasattr(view, "set_result"):
            view.set_result(result)
        if self.training is not None:
            if view is not None and self.training.plots.indexOf(view) >= 0:
                self.training.plots.setCurrentWidget(view)
            self.training.result.setText(self.result_summary(result))

    # ------------------------------------------------------------------ life cycle
    def reload(self) -> None:
        """Re-read the project (studies were added, labels imported)."""

    source = None  # the open study's frame source, in workspaces that show frames

    def close_sources(self) -> None:
        """Close open files (another study opens, or the window is closing)."""
        if self.source is not None:
            self.source.close()
            self.source = None

    def step(self, n: int) -> None:
        """Move ``n`` frames."""
        self.show_frame(self.frame + n)

    def read_frame(self, index: int):
        """``(index, image)`` of frame ``index`` of the open study (clamped to its
        frames), or None when there is none or it cannot be read (said)."""
        if self.source is None or not self.n_frames:
            return None
        from core.io.video import VideoError

        index = int(min(max(index, 0), self.n_frames - 1))
        try:
            return index, self.source.read(index)
        except VideoError as exc:
            self._say(str(exc))
            return None

    def shutdown_jobs(self, timeout_ms: int = 5000) -> bool:
        """Cancel the workspace's own background jobs and wait for them; False if one
        is still running (the window then stays open)."""
        return True
