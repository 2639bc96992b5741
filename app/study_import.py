"""Import studies in the background: the core importer on a GeneratorWorker, with progress.

Shared by every workspace: the readers in :mod:`core.io` decide what each path holds;
the window only chose the paths and their set. Several paths are imported one after
the other; one that cannot be read is reported at the end and does not stop the rest.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox, QProgressDialog, QWidget

from .worker import GeneratorWorker


@dataclass(frozen=True)
class PathStarted:
    """The importer moved on to the ``index``-th of ``total`` paths."""

    index: int
    total: int
    path: str


@dataclass(frozen=True)
class StudiesAdded:
    studies: list


def import_paths(project, paths: list[str], *, split: str, task: str) -> Generator:
    """Import each path (every study it holds) into ``split``; returns the failures as
    ``[(path, message)]``. Yields the importer's events plus :class:`PathStarted` and
    :class:`StudiesAdded`."""
    from core.io.importer import import_path

    failures = []
    for k, path in enumerate(paths):
        yield PathStarted(k, len(paths), path)
        try:
            studies = yield from import_path(project, path, split=split, task=task)
        except Exception as exc:  # one unreadable path must not stop the others
            failures.append((path, str(exc)))
            continue
        yield StudiesAdded(list(studies))
    return failures


class StudyImportJob(QObject):
    """Scan paths and add them to the project, on a worker thread.

    A progress dialog (with Cancel) follows the scan; notices go out as signals (the
    window's notices list); the paths that could not be imported are listed in one
    message box at the end, and leave the project unchanged.

    Signals
    -------
    imported(object)
        A new :class:`core.store.Study`, on the GUI thread (once per study).
    notice(str, str)
        A core :class:`~core.events.Notice`: message, level.
    done(int, int)
        Studies added, paths refused.
    """

    imported = Signal(object)
    notice = Signal(str, str)
    done = Signal(int, int)

    def __init__(self, parent: QWidget, project, path: str | list[str], *, task: str,
                 split: str = "train") -> None:
        super().__init__(parent)
        paths = [str(path)] if isinstance(path, (str, Path)) else [str(p) for p in path]
        self.parent_widget = parent
        self.paths = paths
        self.n_added = 0
        self.dialog = QProgressDialog(f"Reading {Path(paths[0]).name}…", "Cancel", 0, 0, parent)
        self.dialog.setWindowTitle("Import")
        self.dialog.setMinimumDuration(300)
        self.dialog.setMinimumWidth(420)
        self.worker = GeneratorWorker(
            lambda: import_paths(project, paths, split=split, task=task), name="import")
        # bound methods of this GUI-thread QObject: queued to the GUI thread
        self.worker.yielded.connect(self._on_event)
        self.worker.returned.connect(self._on_returned)
        self.worker.errored.connect(self._on_error)
        self.worker.finished.connect(self.dialog.close)
        self.dialog.canceled.connect(self.worker.quit)
        self._current = ""

    def start(self) -> None:
        self.worker.start()

    def _on_event(self, ev) -> None:
        from core.events import Notice, Progress

        if isinstance(ev, PathStarted):
            self._current = (f"{Path(ev.path).name} ({ev.index + 1} of {ev.total})"
                             if ev.total > 1 else Path(ev.path).name)
            self.dialog.setLabelText(f"Reading {self._current}…")
        elif isinstance(ev, Progress):
            self.dialog.setMaximum(max(ev.total, 1))
            self.dialog.setValue(ev.done)
        elif isinstance(ev, Notice):
            self.notice.emit(f"{self._current}: {ev.message}" if self._current else ev.message,
                             ev.level)
        elif isinstance(ev, StudiesAdded):
            for study in ev.studies:
                self.n_added += 1
                self.imported.emit(study)

    def _on_returned(self, failures) -> None:
        if failures:
            lines = "\n\n".join(f"{Path(p).name}: {msg}" for p, msg in failures)
            QMessageBox.warning(self.parent_widget, "Cannot import",
                                f"{lines}\n\n{'It was' if len(failures) == 1 else 'They were'}"
                                " not added; the project is otherwise unchanged.")
            for p, msg in failures:
                self.notice.emit(f"not imported: {Path(p).name}: {msg}", "warning")
        self.done.emit(self.n_added, len(failures))

    def _on_error(self, payload) -> None:
        exc, _ = payload
        QMessageBox.warning(self.parent_widget, "Cannot import",
                            f"{exc}\n\nThe project is unchanged.")
        self.notice.emit(f"import failed: {exc}", "warning")
        self.done.emit(self.n_added, len(self.paths))
