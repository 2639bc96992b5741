"""The main window: menus, the workspace, the status bar. It only wires parts."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox, QTabWidget

from core.store import Project

from .training_controller import TrainingController
from .widgets.help_overlay import HelpOverlayWidget
from .worker import GeneratorWorker
from .workspaces.frame_quality import SHORTCUTS, FrameQualityWorkspace


class MainWindow(QMainWindow):
    def __init__(self, project: Project) -> None:
        super().__init__()
        self.project = project
        from core.jobs import recover_interrupted_runs

        recovered = recover_interrupted_runs(project)
        self.setWindowTitle(f"LayerTune — {project.folder}")
        self.tabs = QTabWidget()
        self.frames = FrameQualityWorkspace(project)
        self.tabs.addTab(self.frames, "Frame quality")
        self.setCentralWidget(self.tabs)
        self.controller = TrainingController(self.frames, self)
        self.controller.message.connect(lambda m: self.statusBar().showMessage(m, 10000))
        self.help = HelpOverlayWidget(self, SHORTCUTS, title="Keyboard shortcuts")
        self.help.hide()
        self._build_menus()
        self.statusBar().showMessage(
            f"Run(s) {', '.join(map(str, recovered))} had been interrupted; their best models "
            "are kept." if recovered else "Press F1 or ? for keyboard shortcuts.")
        settings = QSettings()
        geo = settings.value("main_window/geometry")
        if geo is not None:
            self.restoreGeometry(geo)
        else:
            self.resize(1500, 900)
        settings.setValue("recent/project", str(project.folder))

    def _action(self, menu, text, fn, shortcut=None, tip=None) -> QAction:
        a = QAction(text, self)
        if shortcut:
            a.setShortcut(QKeySequence(shortcut))
        if tip:
            a.setStatusTip(tip)
            a.setToolTip(tip)
        a.triggered.connect(fn)
        menu.addAction(a)
        return a

    def _build_menus(self) -> None:
        m = self.menuBar().addMenu("&File")
        self._action(m, "&Open or create project…", self.open_project, "Ctrl+O",
                     "Switch to another project folder (a new one is created if empty)")
        m.addSeparator()
        self._action(m, "Import &video or frame folder…", self.import_study, "Ctrl+I",
                     "Add a colonoscopy video or a folder of frames to the project")
        self._action(m, "Import pretrained &weights…", self.controller.import_weights_dialog,
                     tip="Install torchvision's ImageNet AlexNet file (offline computers)")
        self._action(m, "Import labels (CSV)…", self.import_labels)
        self._action(m, "Export labels (CSV)…", self.export_labels)
        m.addSeparator()
        self._action(m, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        e = self.menuBar().addMenu("&Edit")
        self.undo_action = self._action(e, "&Undo label", self.frames.undo,
                                        QKeySequence.StandardKey.Undo)
        self.redo_action = self._action(e, "&Redo label", self.frames.redo,
                                        QKeySequence.StandardKey.Redo)
        t = self.menuBar().addMenu("&Training")
        self._action(t, "Cancel training", self.controller.cancel, "Esc")
        h = self.menuBar().addMenu("&Help")
        self._action(h, "Keyboard shortcuts", self.help.toggle, "F1")
        self._action(h, "Keyboard shortcuts (?)", self.help.toggle, "?")
        self._action(h, "About LayerTune", self.about)

    # ------------------------------------------------------------------ actions
    def import_study(self, path: str | None = None) -> None:
        """Scan and add a video/frame folder in the background, with a progress dialog."""
        from PySide6.QtWidgets import QProgressDialog

        from core.io.importer import import_study

        if path is None:
            path, _ = QFileDialog.getOpenFileName(
                self, "Import video", "", "Videos (*.mp4 *.avi *.mov *.mkv *.mpg *.wmv);;"
                "All files (*)")
        if not path:
            path = QFileDialog.getExistingDirectory(self, "…or a folder of frames")
        if not path:
            return
        project = self.project
        dlg = QProgressDialog(f"Reading {Path(path).name}…", "Cancel", 0, 0, self)
        dlg.setWindowTitle("Import")
        dlg.setMinimumDuration(300)
        worker = GeneratorWorker(lambda: import_study(project, path), name="import")
        self._import_job = (worker, dlg)
        worker.yielded.connect(self._on_import_event)
        worker.returned.connect(self._on_imported)
        worker.errored.connect(self._on_import_error)
        worker.finished.connect(dlg.close)
        dlg.canceled.connect(worker.quit)
        worker.start()

    def _on_import_event(self, ev) -> None:
        from core.events import Notice, Progress

        _, dlg = self._import_job
        if isinstance(ev, Progress):
            dlg.setMaximum(max(ev.total, 1))
            dlg.setValue(ev.done)
        elif isinstance(ev, Notice):
            QMessageBox.warning(self, "Import", ev.message)

    def _on_imported(self, study) -> None:
        self.statusBar().showMessage(f"imported {study.name}: {study.n_frames} frames", 8000)
        self.frames.reload_studies()

    def _on_import_error(self, payload) -> None:
        exc, _ = payload
        QMessageBox.warning(self, "Cannot import", f"{exc}\n\nThe project is unchanged.")

    def open_project(self) -> None:
        from core.store import ProjectError

        folder = open_project_dialog(self)
        if folder is None:
            return
        try:
            project = Project.open_or_create(folder)
        except ProjectError as exc:
            QMessageBox.warning(self, "Cannot open project", str(exc))
            return
        if not self.close():  # training still stopping: keep this window
            project.close()
            return
        self._next = MainWindow(project)  # the new window owns the new project
        self._next.show()

    def import_labels(self) -> None:
        from core.io.labels_csv import import_labels_csv

        path, _ = QFileDialog.getOpenFileName(self, "Import labels", "", "CSV (*.csv)")
        if path:
            try:
                n = import_labels_csv(self.project, path)
            except Exception as exc:  # message names file and line
                QMessageBox.warning(self, "Labels not imported", str(exc))
                return
            self.statusBar().showMessage(f"{n} labels imported", 8000)
            self.frames.reload_studies()
            if self.frames.study is not None:
                self.frames.open_study(self.frames.study.id)

    def export_labels(self) -> None:
        from core.io.labels_csv import export_labels_csv

        path, _ = QFileDialog.getSaveFileName(self, "Export labels", "labels.csv", "CSV (*.csv)")
        if path:
            n = export_labels_csv(self.project, path)
            self.statusBar().showMessage(f"{n} labels written to {path}", 8000)

    def about(self) -> None:
        QMessageBox.about(self, "About LayerTune",
                          "LayerTune: label medical images and fine-tune AlexNet at a chosen "
                          "depth, live.\nMethod: Tajbakhsh et al., IEEE TMI 35(5), 2016.")

    def closeEvent(self, event) -> None:  # noqa: N802
        if self.controller.is_running():
            self.statusBar().showMessage("Stopping training…")
        job = getattr(self, "_import_job", None)
        if job is not None:
            job[0].quit()
            job[0].wait(10000)
        if not self.controller.shutdown(10000):
            QMessageBox.warning(self, "Still stopping", "Training is still stopping; try again.")
            event.ignore()
            return
        QSettings().setValue("main_window/geometry", self.saveGeometry())
        self.frames.close_source()
        self.project.close()  # everything was committed as it was entered
        event.accept()

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        if self.help.isVisible():
            self.help.setGeometry(self.rect())


def open_project_dialog(parent=None) -> Path | None:
    d = QFileDialog.getExistingDirectory(parent, "Open or create a LayerTune project")
    return Path(d) if d else None

