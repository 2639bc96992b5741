"""The main window: one tab per registered workspace, the menus, notices, background jobs.

It only wires parts: the tabs come from :mod:`app.workspaces.registry`; the menus from
:mod:`app.window_menus`; File (projects, imports, exports) and Edit act on the current
tab's workspace; each workspace that trains gets its own :class:`TrainingController`;
after a run or an evaluation every study is scored in the background
(:class:`app.study_scoring.StudyScorer`); every message lands in the notices list.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.store import Project

from . import session
from .dialogs import projects
from .study_import import StudyImportJob
from .study_scoring import StudyScorer
from .training_controller import TrainingController, ask_import_weights
from .widgets.empty_hint import EmptyProjectHint
from .widgets.help_overlay import HelpOverlayWidget
from .widgets.notices import NoticesWidget, notices_button_text
from .window_experiments import ExperimentsMixin
from .window_menus import build_menus
from .window_projects import ProjectsMixin
from .window_runs import RunsMixin
from .workspaces import Workspace, workspace_classes


class MainWindow(RunsMixin, ProjectsMixin, ExperimentsMixin, QMainWindow):
    def __init__(self, project: Project) -> None:
        super().__init__()
        self.project = project
        from core.jobs import recover_interrupted_runs

        recovered = recover_interrupted_runs(project)
        self.setWindowTitle(f"LayerTune — {project.folder}")
        self.notices = NoticesWidget()
        self.notices_dock = QDockWidget("Notices", self)
        self.notices_dock.setObjectName("notices")
        self.notices_dock.setWidget(self.notices)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.notices_dock)
        self.notices_dock.hide()
        self.tabs = QTabWidget()
        self.workspaces: dict[str, Workspace] = {}
        self.controllers: dict[str, TrainingController] = {}
        self._import_job = None
        self.scorer = StudyScorer(self)
        for cls in workspace_classes():
            self._add_workspace(cls(project))
        self.hint = EmptyProjectHint()
        self.hint.import_requested.connect(self.import_dialog)
        central = QWidget()
        lay = QVBoxLayout(central)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.hint)
        lay.addWidget(self.tabs, 1)
        self.setCentralWidget(central)
        self.help = HelpOverlayWidget(self, [], title="Keyboard shortcuts")
        self.help.hide()
        self._build_status_bar()
        build_menus(self)
        self.tabs.currentChanged.connect(self._on_tab_changed)
        self._open_busy_tab()
        self._on_tab_changed()
        self._restore_session()
        notes = []
        if project.migrated_from is not None:
            notes.append(f"This project was upgraded from schema {project.migrated_from}; the "
                         f"old database is kept as {project.backup_path.name}.")
        if recovered:
            notes.append(f"Run(s) {', '.join(map(str, recovered))} had been interrupted; their "
                         "best models are kept.")
        for note in notes:
            self.notices.add(note, "info", "project")
        self.statusBar().showMessage(" ".join(notes) or "Press F1 or ? for keyboard shortcuts.")
        geo = QSettings().value("main_window/geometry")
        self.restoreGeometry(geo) if geo is not None else self.resize(1500, 900)
        projects.remember_project(project.folder)

    def _add_workspace(self, ws: Workspace) -> None:
        self.workspaces[ws.task_name] = ws
        self.tabs.addTab(ws, ws.title)
        ws.message.connect(lambda text, ws=ws: self.notify(text, source=ws.title))
        ws.study_import_requested.connect(self.import_study)
        ws.undo_state_changed.connect(self._update_edit_actions)
        if ws.training is not None:
            c = TrainingController(ws, self)
            c.message.connect(lambda text, ws=ws: self.notify(text, source=ws.title))
            c.notice.connect(lambda text, level, ws=ws: self.notify(text, level, ws.title))
            c.run_finished.connect(lambda run_id, ws=ws: self.score_all(ws, run_id))
            c.evaluated.connect(lambda run_id, ws=ws: self.score_all(ws, run_id))
            # a new run gets the machine to itself; its choices are remembered at once
            ws.training.train_requested.connect(self.scorer.cancel)
            ws.training.train_requested.connect(
                lambda _cfg, ws=ws: session.save_preferences(ws.training, ws.task_name))
            self.controllers[ws.task_name] = c

    def _build_status_bar(self) -> None:
        sb = self.statusBar()
        self.scoring_label = QLabel()
        self.scoring_cancel = QPushButton("Stop scoring")
        self.scoring_cancel.clicked.connect(self.scorer.cancel)
        for w in (self.scoring_label, self.scoring_cancel):
            sb.addPermanentWidget(w)
            w.hide()
        self.notices_button = QPushButton(notices_button_text(0, 0))
        self.notices_button.setFlat(True)
        self.notices_button.setToolTip("Read back every notice and warning (Ctrl+Shift+M)")
        self.notices_button.clicked.connect(
            lambda: self.notices_dock.setVisible(not self.notices_dock.isVisible()))
        sb.addPermanentWidget(self.notices_button)
        self.notices.count_changed.connect(
            lambda n, w: self.notices_button.setText(notices_button_text(n, w)))
        self.scorer.progress.connect(self._on_scoring_progress)
        self.scorer.scored.connect(self._on_study_scored)
        self.scorer.notice.connect(lambda text, level: self.notify(text, level, "scoring"))
        self.scorer.finished.connect(self._on_scoring_finished)

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
        self._update_hint()

    def _update_hint(self) -> None:
        ws = self.current_workspace()
        empty = ws is not None and not any(ws.owns_task(s.task) for s in self.project.studies())
        if empty:
            actions = ws.import_actions() if ws.empty_hint is not None else []
            self.hint.set_workspace(ws.empty_hint, actions[0] if actions else None)
        self.hint.setVisible(empty)

    def _open_busy_tab(self) -> None:
        """Start on the tab holding the most studies (a CT-only project opens on Emboli)."""
        counts = [sum(ws.owns_task(s.task) for s in self.project.studies())
                  for ws in (self.tabs.widget(i) for i in range(self.tabs.count()))]
        if counts and max(counts) > 0 and counts[self.tabs.currentIndex()] == 0:
            self.tabs.setCurrentIndex(counts.index(max(counts)))

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

    def notify(self, text: str, level: str = "info", source: str = "") -> None:
        """Show ``text`` in the status bar and keep it in the notices list."""
        self.notices.add(text, level, source)
        self.statusBar().showMessage(text, 30000 if level == "warning" else 10000)

    _show_message = notify

    # ------------------------------------------------------------------ training
    def train(self) -> None:
        if self.controller is not None:
            self.controller.panel.train_button.click()

    def evaluate(self) -> None:
        if self.controller is not None:
            self.controller.evaluate()

    def cancel_jobs(self) -> None:
        if self.controller is not None and self.controller.is_running():
            self.controller.cancel()
        elif self.scorer.is_running():
            self.scorer.cancel()

    _cancel_training = cancel_jobs

    # ------------------------------------------------------------------ imports
    def import_dialog(self, kind: str = "videos") -> None:
        """Pick videos / a frame folder / an image set and their set; import them."""
        from .dialogs.import_dialog import ask_import

        splits = [s.split for s in self.project.studies()]
        chosen = ask_import(self, kind, (splits.count("train"), splits.count("test")))
        if chosen is not None:
            self.import_study(chosen[0], split=chosen[1])

    def import_study(self, path: str | list[str] | None = None, split: str = "train") -> None:
        """Scan and add studies in the background (asks when no path is given)."""
        if not path:
            self.import_dialog("videos")
            return
        ws = self.current_workspace()
        task = ws.task_name if ws is not None else "frame_quality"
        job = StudyImportJob(self, self.project, path, task=task, split=split)
        job.imported.connect(self._on_imported)
        job.notice.connect(lambda text, level: self.notify(text, level, "import"))
        self._import_job = (job.worker, job)
        job.start()

    def _on_imported(self, study) -> None:
        self.notify(f"imported {study.name} ({study.split} set): {study.n_frames} frames",
                    source="import")
        for ws in self.workspaces.values():
            ws.reload()
        self._update_hint()

    def import_weights(self) -> None:
        dest = ask_import_weights(self)
        if dest is not None:
            self.notify(f"Pretrained weights installed: {dest}")

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
        stopped += [ws.shutdown_jobs(10000) for ws in self.workspaces.values()]
        stopped.append(self.shutdown_experiments(10000))
        if not all(stopped) or not self.scorer.shutdown(10000):
            QMessageBox.warning(self, "Still stopping", "Training is still stopping; try again.")
            event.ignore()
            return
        self.scorer.blockSignals(True)  # its last queued events find the project closed
        QSettings().setValue("main_window/geometry", self.saveGeometry())
        for name, ws in self.workspaces.items():
            if ws.training is not None:
                session.save_preferences(ws.training, name)
            ws.close_sources()
        self.project.close()  # everything was committed as it was entered
        event.accept()

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        if self.help.isVisible():
            self.help.setGeometry(self.rect())
