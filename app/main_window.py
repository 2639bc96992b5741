"""The main window: one tab per registered workspace, the menus, the status bar.

It only wires parts: the tabs come from :mod:`app.workspaces.registry`; File (import,
export) and Edit (undo, redo) act on the current tab's workspace, and the shortcut sheet
shows its keys; each workspace that trains gets its own :class:`TrainingController`.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox, QTabWidget

from core.store import Project

from .study_import import StudyImportJob
from .training_controller import TrainingController, ask_import_weights
from .widgets.help_overlay import HelpOverlayWidget
from .workspaces import Workspace, workspace_classes


class MainWindow(QMainWindow):
    def __init__(self, project: Project) -> None:
        super().__init__()
        self.project = project
        from core.jobs import recover_interrupted_runs

        recovered = recover_interrupted_runs(project)
        self.setWindowTitle(f"LayerTune — {project.folder}")
        self.tabs = QTabWidget()
        self.workspaces: dict[str, Workspace] = {}
        self.controllers: dict[str, TrainingController] = {}
        self._import_job = None
        for cls in workspace_classes():
            self._add_workspace(cls(project))
        self.setCentralWidget(self.tabs)
        self.help = HelpOverlayWidget(self, [], title="Keyboard shortcuts")
        self.help.hide()
        self._build_menus()
        self.tabs.currentChanged.connect(self._on_tab_changed)
        self._on_tab_changed()
        notes = []
        if project.migrated_from is not None:
            notes.append(f"This project was upgraded from schema {project.migrated_from}; the "
                         f"old database is kept as {project.backup_path.name}.")
        if recovered:
            notes.append(f"Run(s) {', '.join(map(str, recovered))} had been interrupted; their "
                         "best models are kept.")
        self.statusBar().showMessage(" ".join(notes) or "Press F1 or ? for keyboard shortcuts.")
        settings = QSettings()
        geo = settings.value("main_window/geometry")
        if geo is not None:
            self.restoreGeometry(geo)
        else:
            self.resize(1500, 900)
        settings.setValue("recent/project", str(project.folder))

    def _add_workspace(self, ws: Workspace) -> None:
        self.workspaces[ws.task_name] = ws
        self.tabs.addTab(ws, ws.title)
        ws.message.connect(self._show_message)
        ws.study_import_requested.connect(self.import_study)
        ws.undo_state_changed.connect(self._update_edit_actions)
        if ws.training is not None:
            c = TrainingController(ws, self)
            c.message.connect(self._show_message)
            self.controllers[ws.task_name] = c

    # ------------------------------------------------------------------ routing
    def current_workspace(self) -> Workspace | None:
        ws = self.tabs.currentWidget()
        return ws if isinstance(ws, Workspace) else None

    @property
    def controller(self) -> TrainingController | None:
        """The training controller of the current tab (None when it does not train)."""
        ws = self.current_workspace()
        return None if ws is None else self.controllers.get(ws.task_name)

    def _on_tab_changed(self, _index: int = -1) -> None:
        ws = self.current_workspace()
        for name, actions in self._file_actions.items():
            for a in actions:  # a hidden action's shortcut is off too
                a.setVisible(ws is not None and name == ws.task_name)
        self.help.set_shortcuts(ws.shortcuts if ws is not None else [])
        self._update_edit_actions()

    def _update_edit_actions(self) -> None:
        ws = self.current_workspace()
        noun = f" {ws.undo_noun}" if ws is not None and ws.undo_noun else ""
        self.undo_action.setText(f"&Undo{noun}")
        self.redo_action.setText(f"&Redo{noun}")
        self.undo_action.setEnabled(ws is not None and ws.can_undo())
        self.redo_action.setEnabled(ws is not None and ws.can_redo())

    def _on_current(self, method: str) -> None:
        ws = self.current_workspace()
        if ws is not None:
            getattr(ws, method)()
            self._update_edit_actions()

    def _cancel_training(self) -> None:
        if self.controller is not None:
            self.controller.cancel()

    def _show_message(self, text: str) -> None:
        self.statusBar().showMessage(text, 10000)

    # ------------------------------------------------------------------ menus
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
        self._file_actions: dict[str, list[QAction]] = {name: [] for name in self.workspaces}
        for name, ws in self.workspaces.items():
            self._file_actions[name] += [self._action(m, *a) for a in ws.import_actions()]
        self._action(m, "Import pretrained &weights…", self.import_weights,
                     tip="Install torchvision's ImageNet AlexNet file (offline computers)")
        for name, ws in self.workspaces.items():
            self._file_actions[name] += [self._action(m, *a) for a in ws.export_actions()]
        m.addSeparator()
        self._action(m, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        e = self.menuBar().addMenu("&Edit")
        self.undo_action = self._action(e, "&Undo", lambda: self._on_current("undo"),
                                        QKeySequence.StandardKey.Undo)
        self.redo_action = self._action(e, "&Redo", lambda: self._on_current("redo"),
                                        QKeySequence.StandardKey.Redo)
        t = self.menuBar().addMenu("&Training")
        self._action(t, "Cancel training", self._cancel_training, "Esc")
        h = self.menuBar().addMenu("&Help")
        self._action(h, "Keyboard shortcuts", self.help.toggle, "F1")
        self._action(h, "Keyboard shortcuts (?)", self.help.toggle, "?")
        self._action(h, "About LayerTune", self.about)

    # ------------------------------------------------------------------ actions
    def import_study(self, path: str | None = None) -> None:
        """Scan and add a study in the background (asks the current workspace for a path)."""
        ws = self.current_workspace()
        if not path:
            path = ws.choose_study_path() if ws is not None else None
        if not path:
            return
        task = ws.task_name if ws is not None else "frame_quality"
        job = StudyImportJob(self, self.project, str(path), task=task)
        job.imported.connect(self._on_imported)
        self._import_job = (job.worker, job)
        job.start()

    def _on_imported(self, study) -> None:
        self.statusBar().showMessage(f"imported {study.name}: {study.n_frames} frames", 8000)
        for ws in self.workspaces.values():
            ws.reload()

    def import_weights(self) -> None:
        dest = ask_import_weights(self)
        if dest is not None:
            self._show_message(f"Pretrained weights installed: {dest}")

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

    def about(self) -> None:
        QMessageBox.about(self, "About LayerTune",
                          "LayerTune: label medical images and fine-tune AlexNet at a chosen "
                          "depth, live.\nMethod: Tajbakhsh et al., IEEE TMI 35(5), 2016.")

    def closeEvent(self, event) -> None:  # noqa: N802
        if any(c.is_running() for c in self.controllers.values()):
            self.statusBar().showMessage("Stopping training…")
        if self._import_job is not None:
            self._import_job[0].quit()
            self._import_job[0].wait(10000)
        stopped = [c.shutdown(10000) for c in self.controllers.values()]
        if not all(stopped):
            QMessageBox.warning(self, "Still stopping", "Training is still stopping; try again.")
            event.ignore()
            return
        QSettings().setValue("main_window/geometry", self.saveGeometry())
        for ws in self.workspaces.values():
            ws.close_sources()
        self.project.close()  # everything was committed as it was entered
        event.accept()

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        if self.help.isVisible():
            self.help.setGeometry(self.rect())


def open_project_dialog(parent=None) -> Path | None:
    d = QFileDialog.getExistingDirectory(parent, "Open or create a LayerTune project")
    return Path(d) if d else None
