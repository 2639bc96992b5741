"""Wires a workspace's training panel to a GeneratorWorker running core jobs.

The controller knows no task: it takes the task's name, options and preview study from
the workspace (:class:`app.workspaces.base.Workspace`) and hands predictions and
evaluation results back to it.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from core.events import Notice, Scored
from core.jobs import RunStarted, evaluate_run, train_run
from core.train.weights import WeightsError, WeightsMissingError, install_weights, resolve_weights

from .session import finish_text
from .worker import WorkerSlot


def ask_import_weights(parent: QWidget | None) -> Path | None:
    """Ask for torchvision's ImageNet AlexNet file and install it; where, or None."""
    path, _ = QFileDialog.getOpenFileName(parent, "Import ImageNet AlexNet weights", "",
                                          "PyTorch weights (*.pth *.pt)")
    if not path:
        return None
    try:
        w = install_weights(path)
    except WeightsError as exc:
        QMessageBox.warning(parent, "Not usable", str(exc))
        return None
    if not w.original:  # right shapes, not torchvision's published file
        QMessageBox.information(
            parent, "Custom weights installed",
            f"Installed as {w.describe()}\n\nThis is not torchvision's ImageNet AlexNet "
            "file, so runs fine-tuned from it are recorded as using custom weights.")
    return w.path


class TrainingController(QObject):
    """Starts/cancels training and evaluation jobs for one workspace.

    Parameters
    ----------
    workspace : app.workspaces.base.Workspace
        Must have a ``training`` panel; its ``task_name``, ``task_options()`` and
        ``preview_study_id()`` define each job.
    parent_widget : QWidget
        Parent of the dialogs.
    """

    run_finished = Signal(int)  # run id
    evaluated = Signal(int)  # run id
    message = Signal(str)
    notice = Signal(str, str)  # a core Notice: message, level

    def __init__(self, workspace, parent_widget: QWidget) -> None:
        super().__init__(parent_widget)
        self.workspace = workspace
        self.panel = workspace.training
        self.parent_widget = parent_widget
        self.jobs = WorkerSlot(self)
        self.run_id: int | None = None
        self.last_run_id: int | None = None
        self._preview_study: int | None = None
        self._job = ""
        self.panel.train_requested.connect(self.start_training)
        self.panel.cancel_requested.connect(self.cancel)
        self.panel.evaluate_requested.connect(self.evaluate)
        finished = [r for r in workspace.project.runs()
                    if r.best_snapshot and workspace.owns_task(r.task)]
        if finished:
            self.last_run_id = finished[-1].id
            self.panel.evaluate_button.setEnabled(True)

    # ------------------------------------------------------------------ weights
    def _weights_or_ask(self, config):
        """The config to train with (maybe switched to scratch), or None to not start."""
        if config.depth == "scratch":
            return config
        try:
            resolve_weights()
            return config
        except WeightsMissingError as exc:
            box = QMessageBox(QMessageBox.Icon.Warning, "Pretrained weights missing", str(exc),
                              parent=self.parent_widget)
            imp = box.addButton("Import weights file…", QMessageBox.ButtonRole.AcceptRole)
            scratch = box.addButton("Train from scratch instead", QMessageBox.ButtonRole.ActionRole)
            box.addButton(QMessageBox.StandardButton.Cancel)
            box.exec()
            if box.clickedButton() is imp:
                return config if self.import_weights_dialog() else None
            if box.clickedButton() is scratch:
                from dataclasses import replace

                self.panel.depth_stack.set_depth("scratch")
                return replace(config, depth="scratch", fc8_lr=config.base_lr)
            return None
        except WeightsError as exc:
            QMessageBox.warning(self.parent_widget, "Pretrained weights unusable", str(exc))
            return None

    def import_weights_dialog(self) -> bool:
        dest = ask_import_weights(self.parent_widget)
        if dest is not None:
            self.message.emit(f"Pretrained weights installed: {dest}")
        return dest is not None

    # ------------------------------------------------------------------ jobs
    def is_running(self) -> bool:
        return self.jobs.is_running()

    def start_training(self, config) -> None:
        if self.is_running():
            return
        config = self._weights_or_ask(config)
        if config is None:
            return
        ws = self.workspace
        project, task, options = ws.project, ws.task_name, ws.task_options()
        preview = self._preview_study = ws.preview_study_id()
        self.run_id = None
        self.panel.set_running(True)
        self._start(lambda: train_run(project, config, task=task, task_options=options,
                                      preview_study=preview), "train")

    def select_run(self, run_id: int) -> None:
        """Make ``run_id`` the run that Evaluate (and the window's scoring) uses."""
        self.last_run_id = run_id
        self.panel.evaluate_button.setEnabled(True)

    def evaluate(self) -> None:
        if self.is_running() or self.last_run_id is None:
            return
        from .dialogs.test_video import check_test_set

        ws = self.workspace
        project, run_id = ws.project, self.last_run_id
        decision = check_test_set(self.parent_widget, project, ws.owns_task, project.run(run_id))
        if decision != "evaluate":
            ws.reload()  # a video may have moved to the test set
            if decision == "moved":
                self.message.emit("a video was moved to the test set: train a new run, "
                                  "then evaluate")
            return
        ws.reload()
        self.panel.set_running(True, clear_curves=False)  # the curves stay, whatever happens
        self.panel.progress.setFormat("evaluating…")
        # with the run's recorded settings (task options, seed, precision): reproducible
        self._start(lambda: evaluate_run(project, run_id), "evaluate")

    def _start(self, factory, name: str) -> None:
        self._job = name
        self.jobs.start(factory, name)

    def cancel(self) -> None:
        if self.jobs.worker is not None:
            self.jobs.quit()
            self.panel.progress.setFormat("cancelling…")

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Cancel and wait (closing the window); never terminates the thread."""
        return self.jobs.shutdown(timeout_ms)

    # ------------------------------------------------------------------ events
    def _on_event(self, ev) -> None:
        if isinstance(ev, RunStarted):
            self.run_id = ev.run_id
            start = ("from scratch (no pretrained weights)" if ev.depth == "scratch"
                     else f"at depth {ev.depth} from {ev.weights}")
            self.message.emit(f"run {ev.run_id} started {start}")
            return
        if isinstance(ev, Notice):
            self.notice.emit(ev.message, ev.level)
        if isinstance(ev, Scored) and ev.name not in ("val", "test"):  # the preview study
            ws = self.workspace
            if self._preview_study is not None and ws.preview_study_id() == self._preview_study:
                ws.show_prediction(ev)
        self.panel.show_event(ev)

    def _on_aborted(self) -> None:
        self.panel.finish("cancelled: the best model so far is kept")

    def _on_returned(self, value) -> None:
        if self._job == "train":
            r = value.result
            self.last_run_id = value.run_id
            self.panel.evaluate_button.setEnabled(True)
            self.panel.finish(finish_text(value.run_id, r))
            self.message.emit(self.panel.status.text())
            self.run_finished.emit(value.run_id)
        else:
            self.panel.finish("evaluation finished")
            self.workspace.show_result(value)
            lines = getattr(self.panel.roc, "verdict_lines", [])
            text = self.panel.result.text()
            if lines and lines[0] not in text:
                self.panel.result.setText(text + "<br>" + "<br>".join(lines))
            for line in lines:
                self.notice.emit(f"evaluation of run {self.last_run_id}: {line}",
                                 "info" if line.startswith("Better") else "warning")
            self.evaluated.emit(self.last_run_id)

    def _on_error(self, payload) -> None:
        exc, tb = payload
        what = "training" if self._job == "train" else "evaluation"
        self.panel.finish(f"{what} stopped: {exc}")  # the curves stay as they were
        title = "Training stopped" if self._job == "train" else "Evaluation not possible"
        QMessageBox.warning(self.parent_widget, title,
                            f"{exc}\n\nYour labels are saved; nothing was lost.")
        self.notice.emit(f"{what} stopped: {exc}", "warning")
