"""The experiments board: start an experiment with one click, watch its queue, read the
results (SPEC §2.3, issue 10).

One window per workspace (task). The four buttons at the top each start an experiment
(depth sweep, reduced data, convergence, label budget) with the training panel's
settings; the queue runs in the background on the app's one worker class
(:class:`app.worker.WorkerSlot`), cancellable, resumable from the list of past
experiments. While it runs, two bars show the queue (run k of n) and the current run,
and the curves of all runs grow overlaid. When it finishes (or when a past experiment
is picked) the tabs show the task's result figure with 95 % CIs, a table per run, the
pairwise p-values and the recommended depth with its evidence; the figure exports as
PNG/SVG/CSV, the tables as CSV, and *Export report…* writes one self-contained HTML file.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.events import BatchEnd, Notice, Progress, Validated

from . import api
from .board_results import ResultsPanel
from .live_curves import ExperimentCurvesWidget
from .progress import is_queue_event, queue_state


def plain_options(options: dict) -> dict:
    """Task options as JSON values (a plan is stored): a ``config`` dataclass becomes its
    fields, which every task also takes as keywords."""
    import dataclasses

    out = {}
    for k, v in (options or {}).items():
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            out.update(dataclasses.asdict(v))
        else:
            out[k] = v
    return out


class ExperimentBoardWidget(QWidget):
    """The board of one workspace's task.

    Parameters
    ----------
    workspace : app.workspaces.base.Workspace
        Its ``project``, ``task_name``, ``task_options()`` and training panel (the
        settings every run of an experiment takes).
    parent : QWidget, optional
        The main window (the board is a separate top-level window).

    Signals
    -------
    message(str, str)
        A notice for the window's status bar and notices list: text, level.
    experiment_finished(int)
        An experiment's queue ended (its id).
    """

    message = Signal(str, str)
    experiment_finished = Signal(int)

    def __init__(self, workspace, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        from app.worker import WorkerSlot

        self.workspace = workspace
        self.project = workspace.project
        self.task = workspace.task_name
        self.setWindowTitle(f"Experiments — {workspace.title}")
        self.jobs = WorkerSlot(self)
        self.experiment_id: int | None = None
        self._job = ""
        self._n_runs = 0
        self._run_index = -1
        self._run_label = ""
        # per kind, options added to the one-click defaults (tests: a tiny sweep)
        self.extra_options: dict[str, dict] = {}

        self.kind_buttons: dict[str, QPushButton] = {}
        kinds = QHBoxLayout()
        for kind, (text, tip) in api.KINDS.items():
            b = QPushButton(text)
            b.setToolTip(tip + ". One click starts it with the training panel's settings.")
            b.clicked.connect(lambda _c=False, k=kind: self.start(k))
            self.kind_buttons[kind] = b
            kinds.addWidget(b)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the queue; finished runs are kept, and Resume "
                                      "goes on from the run that was stopped")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        kinds.addStretch(1)
        kinds.addWidget(self.cancel_button)

        self.past = QComboBox()
        self.past.setToolTip("Experiments of this task in the project")
        self.past.activated.connect(lambda i: self.show_experiment(self.past.itemData(i)))
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Go on with an unfinished experiment at the run where "
                                      "it stopped (finished runs are never redone)")
        self.resume_button.clicked.connect(self.resume)
        past_row = QHBoxLayout()
        past_row.addWidget(QLabel("Experiment"))
        past_row.addWidget(self.past, 1)
        past_row.addWidget(self.resume_button)

        self.queue_bar = QProgressBar()
        self.queue_bar.setValue(0)
        self.queue_bar.setFormat("idle")
        self.queue_bar.setTextVisible(True)
        self.run_bar = QProgressBar()
        self.run_bar.setValue(0)
        self.run_bar.setFormat("")
        self.run_bar.setTextVisible(True)
        bars = QHBoxLayout()
        bars.addWidget(QLabel("Queue"))
        bars.addWidget(self.queue_bar, 1)
        bars.addWidget(QLabel("Current run"))
        bars.addWidget(self.run_bar, 1)
        self.status = QLabel("Pick an experiment: each is a queue of runs on the same split "
                             "and seed.")
        self.status.setWordWrap(True)

        self.curves = ExperimentCurvesWidget()
        self.results = ResultsPanel(self)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.curves)
        split.addWidget(self.results)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)

        self.export_button = QToolButton()
        self.export_button.setText("Export figure")
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.export_button)
        for suffix, text in ((".png", "PNG image…"), (".svg", "SVG drawing…"),
                             (".csv", "CSV numbers…")):
            menu.addAction(text, lambda s=suffix: self.export_figure_dialog(s))
        self.export_button.setMenu(menu)
        self.table_button = QPushButton("Export tables (CSV)…")
        self.table_button.clicked.connect(self.export_tables_dialog)
        self.report_button = QPushButton("Export report…")
        self.report_button.setToolTip("One self-contained HTML file: data, subjects, splits, "
                                      "settings, software versions and results")
        self.report_button.clicked.connect(self.export_report_dialog)
        foot = QHBoxLayout()
        foot.addStretch(1)
        for w in (self.export_button, self.table_button, self.report_button):
            foot.addWidget(w)

        lay = QVBoxLayout(self)
        lay.addLayout(kinds)
        lay.addLayout(past_row)
        lay.addLayout(bars)
        lay.addWidget(self.status)
        lay.addWidget(split, 1)
        lay.addLayout(foot)
        self.resize(1300, 800)
        self.refresh_past()
        self._set_running(False)

    # ------------------------------------------------------------------ past experiments
    def experiments(self) -> list:
        return [e for e in self.project.experiments() if self.workspace.owns_task(e.task)]

    def refresh_past(self) -> None:
        self.past.clear()
        for e in reversed(self.experiments()):
            name = api.KINDS.get(e.kind, (e.kind, ""))[0]
            self.past.addItem(f"#{e.id} {name} · {len(e.runs)} run(s) · {e.status} · "
                              f"{(e.created or '')[:16].replace('T', ' ')}", e.id)
        if self.experiment_id is not None:
            i = self.past.findData(self.experiment_id)
            if i >= 0:
                self.past.setCurrentIndex(i)
        self._update_resume()

    def _update_resume(self) -> None:
        eid = self.past.currentData()
        unfinished = False
        if eid is not None:
            unfinished = self.project.experiment(eid).status not in ("finished",)
        self.resume_button.setEnabled(unfinished and not self.jobs.is_running())

    # ------------------------------------------------------------------ starting
    def _options(self, kind: str) -> dict:
        """The one-click settings: the training panel's, the task's options."""
        panel = self.workspace.training
        opts: dict = {"task_options": plain_options(self.workspace.task_options())}
        if panel is not None:
            opts["train"] = {"epochs": panel.epochs.value(), "patience": panel.patience.value(),
                             "device": panel.device.currentData()}
            if kind == "budget":
                opts["depths"] = [panel.depth_stack.depth()]
        opts.update(self.extra_options.get(kind, {}))
        return opts

    def start(self, kind: str) -> bool:
        """Plan ``kind`` with the panel's settings and run its queue; False if not started."""
        if self.jobs.is_running():
            return False
        from .leakage import confirm_no_leakage

        if not confirm_no_leakage(self, self.project, self.task):
            return False
        try:
            ex = api.start(self.project, kind, self.task, **self._options(kind))
        except api.MissingPart as exc:
            self._refuse(str(exc))
            return False
        except (ValueError, RuntimeError, OSError) as exc:  # too few labels, empty class...
            self._refuse(str(exc))
            return False
        name = api.KINDS[kind][0]
        self.message.emit(f"experiment {ex.id} ({name.lower()}) started", "info")
        self._run(ex)
        return True

    def resume(self) -> bool:
        eid = self.past.currentData()
        if eid is None or self.jobs.is_running():
            return False
        ex = self.project.experiment(eid)
        from .leakage import confirm_no_leakage

        if not confirm_no_leakage(self, self.project, self.task):
            return False
        self.message.emit(f"experiment {ex.id} resumed", "info")
        self._run(ex, resumed=True)
        return True

    def _refuse(self, text: str) -> None:
        self.status.setText(text)
        self.message.emit(text, "warning")
        QMessageBox.warning(self, "Experiment not started",
                            f"{text}\n\nNothing was started; your project is unchanged.")

    def _run(self, ex, *, resumed: bool = False) -> None:
        try:
            factory = api.runner(self.project, ex.id)
        except api.MissingPart as exc:
            self._refuse(str(exc))
            return
        self.experiment_id = ex.id
        self._n_runs = api.expected_runs(ex)
        self._run_index = -1
        self.curves.clear()
        if resumed:  # the runs already done come back from their stored histories
            for r in api.experiment_runs(self.project, ex.id):
                if r.history:
                    self.curves.set_history(r.run_id, r.label, r.history)
        self.results.clear()
        self._set_running(True)
        self.queue_bar.setRange(0, max(self._n_runs, 1))
        self.queue_bar.setValue(0)
        self.queue_bar.setFormat(f"starting {self._n_runs} run(s)…")
        self.refresh_past()
        self._job = "queue"
        self.jobs.start(factory, f"experiment-{ex.id}")

    def cancel(self) -> None:
        if self.jobs.is_running():
            self.jobs.quit()
            self.queue_bar.setFormat("cancelling…")

    def is_running(self) -> bool:
        return self.jobs.is_running()

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Cancel and wait (the window closes); never terminates the thread."""
        return self.jobs.shutdown(timeout_ms) and self.results.shutdown(timeout_ms)

    def _set_running(self, running: bool) -> None:
        for b in self.kind_buttons.values():
            b.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.past.setEnabled(not running)
        self._update_resume()

    # ------------------------------------------------------------------ events
    def _on_event(self, ev) -> None:
        if isinstance(ev, tuple):
            batches = [b for b in ev if isinstance(b, BatchEnd)]
            self.curves.add_batches(batches)
            if batches:
                b = batches[-1]
                self.run_bar.setRange(0, max(b.total, 1))
                self.run_bar.setValue(b.done)
                self.run_bar.setFormat(f"{self._run_label} · epoch {b.epoch + 1} · %p% · "
                                       f"{b.images_per_s:.0f} images/s")
            return
        from core.jobs import RunStarted

        if isinstance(ev, RunStarted):
            self._run_label = self._run_label or ev.depth
            self.curves.begin_run(ev.run_id, self._run_label)
            self.status.setText(f"run {ev.run_id} ({self._run_label}) started")
        elif isinstance(ev, Validated):
            self.curves.add_validation(ev.iteration, ev.auc)
        elif isinstance(ev, Progress):
            self.run_bar.setRange(0, max(ev.total, 1))
            self.run_bar.setValue(ev.done)
            self.run_bar.setFormat(f"{self._run_label} · {ev.stage} · %p%")
        elif isinstance(ev, Notice):
            self.status.setText(ev.message)
            self.message.emit(ev.message, ev.level)
        elif is_queue_event(ev):
            self._on_queue(queue_state(ev))

    def _on_queue(self, q) -> None:
        if q.total:
            self._n_runs = q.total
            self.queue_bar.setRange(0, q.total)
        if q.index is not None:
            self._run_index = q.index
        if q.label and (q.status == "started" or not self._run_label):
            self._run_label = q.label
        done = self._run_index + (1 if q.status in ("finished", "done", "diverged",
                                                    "skipped", "failed") else 0)
        self.queue_bar.setValue(max(done, 0))
        word = q.status or "run"
        self.queue_bar.setFormat(f"run {self._run_index + 1} of {self._n_runs} · "
                                 f"{self._run_label} · {word}")
        if q.message:
            self.status.setText(q.message)
        if q.status == "diverged":
            self.message.emit(q.message or f"{self._run_label} diverged (NaN loss); the "
                              "queue goes on", "warning")

    def _on_returned(self, _value) -> None:
        eid = self.experiment_id
        self._end(f"experiment {eid} finished", 100)
        self.experiment_finished.emit(eid)
        self.message.emit(f"experiment {eid} finished", "info")
        self.show_experiment(eid)

    def _on_aborted(self) -> None:
        self._end("cancelled: finished runs are kept; Resume goes on from here", None)
        self.message.emit(f"experiment {self.experiment_id} cancelled", "info")
        if self.experiment_id is not None:
            self.show_experiment(self.experiment_id, keep_curves=True)

    def _on_error(self, payload) -> None:
        exc, _tb = payload
        self._end(f"stopped: {exc}", None)
        self.message.emit(f"experiment {self.experiment_id} stopped: {exc}", "warning")
        QMessageBox.warning(self, "Experiment stopped",
                            f"{exc}\n\nFinished runs are kept; Resume goes on from the run "
                            "that stopped.")

    def _end(self, text: str, bar: int | None) -> None:
        self._set_running(False)
        self.status.setText(text)
        self.queue_bar.setFormat(text.split(":")[0])
        if bar is not None:
            self.queue_bar.setRange(0, 100)
            self.queue_bar.setValue(bar)
        self.run_bar.setFormat("")
        self._run_label = ""
        self.refresh_past()

    # ------------------------------------------------------------------ results
    def show_experiment(self, experiment_id: int | None, *, keep_curves: bool = False) -> None:
        """Draw a stored experiment: curves from the runs' histories, the results."""
        if experiment_id is None:
            return
        self.experiment_id = experiment_id
        runs = api.experiment_runs(self.project, experiment_id)
        if not keep_curves:
            self.curves.clear()
            for r in runs:
                self.curves.set_history(r.run_id, r.label, r.history)
        self.results.show_experiment(experiment_id, runs)
        self.refresh_past()
        if not self.jobs.is_running():
            e = self.project.experiment(experiment_id)
            done = sum(r.result is not None for r in runs)
            self.status.setText(f"experiment {e.id}: {api.KINDS.get(e.kind, (e.kind,))[0]}, "
                                f"{len(runs)} run(s), {done} evaluated on the test set; "
                                f"{e.status}")

    def export_figure_dialog(self, suffix: str):
        kinds = {".png": "PNG image (*.png)", ".svg": "SVG drawing (*.svg)",
                 ".csv": "CSV file (*.csv)"}
        name, _ = QFileDialog.getSaveFileName(self, "Export figure",
                                              f"experiment-{self.experiment_id}{suffix}",
                                              kinds[suffix])
        if not name:
            return None
        if not name.lower().endswith(suffix):
            name += suffix
        return self._try(lambda: self.results.figure.export(name), "figure")

    def export_tables_dialog(self):
        name, _ = QFileDialog.getSaveFileName(self, "Export tables",
                                              f"experiment-{self.experiment_id}-runs.csv",
                                              "CSV file (*.csv)")
        if not name:
            return None
        return self._try(lambda: self.results.export_tables(name), "tables")

    def export_report_dialog(self):
        if self.experiment_id is None:
            return None
        name, _ = QFileDialog.getSaveFileName(self, "Export report",
                                              f"experiment-{self.experiment_id}.html",
                                              "HTML report (*.html)")
        if not name:
            return None
        if not name.lower().endswith((".html", ".htm")):
            name += ".html"
        return self._try(lambda: self.export_report(name), "report")

    def export_report(self, path):
        """Write the experiment's self-contained HTML report (:mod:`core.report`)."""
        mod = api._module("core.report", "The HTML report")
        return mod.write_report(self.project, self.experiment_id, path)

    def _try(self, fn, what: str):
        try:
            out = fn()
        except (api.MissingPart, ValueError, OSError) as exc:
            QMessageBox.warning(self, f"Could not export the {what}", str(exc))
            return None
        self.message.emit(f"{what} written: {out}", "info")
        return out
