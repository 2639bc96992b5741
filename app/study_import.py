"""Import a study in the background: the core importer on a GeneratorWorker, with progress.

Shared by every workspace: the readers in :mod:`core.io` decide what the path holds; the
workspace only chose it.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox, QProgressDialog, QWidget

from .worker import GeneratorWorker


class StudyImportJob(QObject):
    """Scan one path and add it to the project, on a worker thread.

    A progress dialog (with Cancel) follows the scan; warnings and a refusal are shown
    in message boxes, and a refused path leaves the project unchanged.

    Signals
    -------
    imported(object)
        The new :class:`core.store.Study`, on the GUI thread.
    """

    imported = Signal(object)

    def __init__(self, parent: QWidget, project, path: str, *, task: str) -> None:
        super().__init__(parent)
        from core.io.importer import import_study

        self.parent_widget = parent
        self.dialog = QProgressDialog(f"Reading {Path(path).name}…", "Cancel", 0, 0, parent)
        self.dialog.setWindowTitle("Import")
        self.dialog.setMinimumDuration(300)
        self.worker = GeneratorWorker(lambda: import_study(project, path, task=task),
                                      name="import")
        # bound methods of this GUI-thread QObject: queued to the GUI thread
        self.worker.yielded.connect(self._on_event)
        self.worker.returned.connect(self._on_returned)
        self.worker.errored.connect(self._on_error)
        self.worker.finished.connect(self.dialog.close)
        self.dialog.canceled.connect(self.worker.quit)

    def start(self) -> None:
        self.worker.start()

    def _on_event(self, ev) -> None:
        from core.events import Notice, Progress

        if isinstance(ev, Progress):
            self.dialog.setMaximum(max(ev.total, 1))
            self.dialog.setValue(ev.done)
        elif isinstance(ev, Notice):
            QMessageBox.warning(self.parent_widget, "Import", ev.message)

    def _on_returned(self, study) -> None:
        self.imported.emit(study)

    def _on_error(self, payload) -> None:
        exc, _ = payload
        QMessageBox.warning(self.parent_widget, "Cannot import",
                            f"{exc}\n\nThe project is unchanged.")
