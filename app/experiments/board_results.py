"""The board's result tabs: figure, runs, significance, recommendation, label budget,
layer change, flip review and the disagreement queue.

A view of one experiment's stored runs; every number comes from :mod:`.evidence` (the
report's statistics), :mod:`.api` (the stored runs) or :mod:`.review_data`.
"""

from __future__ import annotations

import math
from pathlib import Path

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.events import Progress

from .api import RunResult
from .budget import LabelBudgetWidget
from .disagreement import DisagreementQueueWidget, score_every_run
from .evidence import Advice, Pairwise, statistics
from .flips import FlipReviewWidget
from .layer_inspector import LayerChangeWidget
from .result_figure import ResultFigureWidget
from .tables import PairwiseTableWidget, RunsTableWidget, run_rows, write_csv


class ResultsPanel(QTabWidget):
    """Tabs of a finished (or stopped) experiment; ``board`` is the owning board."""

    def __init__(self, board) -> None:
        super().__init__(board)
        from app.worker import WorkerSlot

        self.board = board
        project = board.project
        self.runs: list[RunResult] = []
        self.tables: list[Pairwise] = []
        self.advice: Advice | None = None
        self.experiment_id: int | None = None
        self.jobs = WorkerSlot(self)  # scoring studies for the disagreement queue
        self._statistics = _Statistics(self)
        self._notes: list[str] = []
        self._tables_ready = False

        self.figure = ResultFigureWidget()
        from core.report.results import FP_UNITS
        from core.tasks.base import canonical_name

        self.figure.fp_unit = FP_UNITS.get(canonical_name(board.task), "image")
        self.runs_table = RunsTableWidget()

        sig = QWidget()
        self.sig_choice = QComboBox()
        self.sig_choice.currentIndexChanged.connect(self._show_table)
        self.sig_caption = QLabel("")
        self.sig_caption.setWordWrap(True)
        self.pair_table = PairwiseTableWidget()
        sl = QVBoxLayout(sig)
        sl.addWidget(self.sig_choice)
        sl.addWidget(self.sig_caption)
        sl.addWidget(self.pair_table, 1)

        rec = QWidget()
        self.margin = QDoubleSpinBox(minimum=0.0, maximum=0.5, singleStep=0.005, decimals=3,
                                     value=0.02)
        self.margin.setToolTip("Non-inferiority margin: how much worse than the best a "
                               "shallower depth may be and still be recommended (AUC or "
                               "sensitivity units; Walker & Nowacki 2011)")
        self.margin.valueChanged.connect(lambda _v: self._recommend())
        self.rec_text = QLabel("")
        self.rec_text.setWordWrap(True)
        self.rec_text.setTextFormat(Qt.TextFormat.RichText)
        self.rec_text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.rec_table = RunsTableWidget()
        row = QHBoxLayout()
        row.addWidget(QLabel("Margin"))
        row.addWidget(self.margin)
        row.addStretch(1)
        rl = QVBoxLayout(rec)
        rl.addLayout(row)
        rl.addWidget(self.rec_text)
        rl.addWidget(self.rec_table, 1)

        self.budget = LabelBudgetWidget()
        self.layers = LayerChangeWidget()
        ws = board.workspace
        self.flips = FlipReviewWidget(project, ws.owns_task, workspace=ws)
        self.disagreement = DisagreementQueueWidget(project)
        self.disagreement.score_requested.connect(self.score_studies)
        for w in (self.flips, self.disagreement):
            w.item_requested.connect(self.open_item)

        self.addTab(self.figure, "Result")
        self.addTab(self.runs_table, "Runs")
        self.addTab(sig, "Significance")
        self.addTab(rec, "Recommendation")
        self.addTab(self.budget, "Label budget")
        self.addTab(self.layers, "Layer change")
        self.addTab(self.flips, "Flip review")
        self.addTab(self.disagreement, "Disagreement")

    # ------------------------------------------------------------------ show
    def clear(self) -> None:
        self.runs, self.tables, self.advice = [], [], None
        self.experiment_id, self._notes, self._tables_ready = None, [], False
        self._statistics.seq += 1  # a job still running is no longer shown
        self.figure.set_runs([])
        self.runs_table.fill([], [])
        self.pair_table.fill([], [])
        self.sig_choice.clear()
        self.sig_caption.setText("")
        self.rec_text.setText("")
        self.budget.set_budget(None)

    def show_experiment(self, experiment_id: int, runs: list[RunResult]) -> None:
        """Draw an experiment's runs at once; the statistics (recommendation, pairwise
        tests, label-budget fit) follow from a background job."""
        self.experiment_id, self.runs = experiment_id, runs
        self.advice, self.tables, self._notes = None, [], []
        self._tables_ready = False
        self.figure.set_runs(runs)
        self.runs_table.set_runs(runs, None)
        self.layers.set_runs(runs)
        ids = [r.run_id for r in runs]
        self.disagreement.set_runs(ids)
        self.flips.reload_runs(*(ids[-2:] if len(ids) >= 2 else ()))
        self.sig_choice.clear()
        self.pair_table.fill([], [])
        self.budget.set_budget(None)
        self._statistics.start(tables=True)

    def statistics_running(self) -> bool:
        """Whether the recommendation or the pairwise tests are still being computed."""
        return self._statistics.running()

    def _show_statistics(self, advice: Advice, tables, notes, budget) -> None:
        """A statistics job's result (``tables`` None: only the recommendation)."""
        self._show_advice(advice)
        if tables is None:
            return
        self.tables, self._notes, self._tables_ready = tables, notes, True
        self.sig_choice.blockSignals(True)
        self.sig_choice.clear()
        for t in self.tables:
            self.sig_choice.addItem(f"{t.test} · {t.operating_point}")
        self.sig_choice.blockSignals(False)
        self.sig_choice.setVisible(len(self.tables) > 1)
        self._show_table()
        # the plan's target value, as the budget curves carry it (no database read here:
        # a late result may arrive while the window closes its project)
        target = next((d.get("target") for d in (budget or {}).values()), None)
        self.budget.set_budget(budget, target)

    def _raw_advice(self):
        return None if self.advice is None else self.advice.raw

    def _recommend(self) -> None:
        """The margin changed: recompute the recommendation (in the background)."""
        if self.experiment_id is not None:
            self._statistics.start(tables=not self._tables_ready)

    def _show_advice(self, a: Advice) -> None:
        self.advice = a
        ev = "".join(f"<br>• {line}" for line in a.evidence)
        self.rec_text.setText(f"<p style='font-size:11pt'>{a.sentence}</p>"
                              + (f"<p><b>Evidence</b>{ev}</p>" if ev else ""))
        if a.rows:
            keys = list(a.rows[0].keys())
            head = [_REC_HEADS.get(k, k.replace("_", " ")) for k in keys]
            self.rec_table.fill(head, [[_cell(r.get(k)) for k in keys] for r in a.rows])
        else:
            self.rec_table.fill([], [])
        self.runs_table.set_runs(self.runs, a.depth)

    def _show_table(self, _i: int = -1) -> None:
        i = max(self.sig_choice.currentIndex(), 0)
        if not self.tables:
            self.pair_table.fill([], [])
            if self.experiment_id is not None and not self._tables_ready:
                self.sig_caption.setText("Computing the pairwise tests…")
                return
            self.sig_caption.setText("<br>".join(self._notes) or
                                     "Pairwise tests appear when two runs or more were "
                                     "evaluated on the test set.")
            return
        t = self.tables[i]
        self.pair_table.set_pairwise(t)
        self.sig_caption.setText(f"<b>{t.test}</b> at {t.operating_point}. Each cell: p of "
                                 "the row's run against the column's; p &lt; .05 is marked "
                                 "(orange, *). Hover a marked cell for the difference.")

    # ------------------------------------------------------------------ actions
    def export_tables(self, path: str | Path) -> Path:
        """The per-run table, then each pairwise table, in one CSV file."""
        if not self.runs:
            raise ValueError("no experiment shown")
        head, rows = run_rows(self.runs)
        rows = [list(r) for r in rows]
        for t in self.tables:
            rows += [[], [f"{t.test} · {t.operating_point}", *t.labels]]
            for i, name in enumerate(t.labels):
                rows.append([name, *[("" if i == j else f"{t.p[i, j]:.4g}")
                                     for j in range(len(t.labels))]])
        return write_csv(path, head, rows)

    def open_item(self, study_id: int, item: int) -> None:
        """Open an item in the workspace: the study, then the frame (frame tasks), or the
        candidate selected on its frame (polyps) or at its centre (emboli); items of
        other kinds (CIMT pixels) open the study only, with a message saying so."""
        from .review_data import item_kind, study_candidates

        ws = self.board.workspace
        kind = item_kind(self.board.task)
        cand = None
        if kind == "candidate":
            cand = study_candidates(self.board.project, self.board.task,
                                    study_id).by_id.get(int(item))
            if cand is None:
                self.board.message.emit(f"candidate {item} is gone (the generator ran again "
                                        "since the study was scored): score it again",
                                        "warning")
                return
        win = ws.window()
        tabs = getattr(win, "tabs", None)
        if tabs is not None and tabs.indexOf(ws) >= 0:
            tabs.setCurrentWidget(ws)
        ws.select_study(study_id)
        if kind == "frame":
            for name in ("go_to_frame", "seek", "show_frame", "set_frame"):
                fn = getattr(ws, name, None)
                if callable(fn):
                    fn(item)
                    break
        elif cand is not None and callable(getattr(ws, "show_candidate", None)):
            ws.show_candidate(int(item))  # emboli: once the volume is loaded
        elif cand is not None and callable(getattr(ws, "go_to_candidate", None)):
            ws.go_to_candidate(int(cand.frame), int(item))  # polyps
        else:
            self.board.message.emit(f"opening a single {kind} is not available for this "
                                    "task: its study is open in the workspace", "info")
        win.raise_()
        win.activateWindow()

    def score_studies(self) -> None:
        if self.jobs.is_running() or not self.disagreement.run_ids:
            return
        p, ids, owns = self.board.project, list(self.disagreement.run_ids), \
            self.board.workspace.owns_task
        self.disagreement.score_button.setEnabled(False)
        self.disagreement.summary.setText("scoring the studies with every run…")
        self.jobs.start(lambda: score_every_run(p, ids, owns), "score-every-run")

    def _on_event(self, ev) -> None:
        from app.study_scoring import StudyScoring

        if isinstance(ev, StudyScoring):
            self.disagreement.summary.setText(f"scoring {ev.name} ({ev.index + 1} of "
                                              f"{ev.total})…")

    def _on_returned(self, _n) -> None:
        self.disagreement.score_button.setEnabled(True)
        self.disagreement.refresh()

    def _on_aborted(self) -> None:
        self.disagreement.score_button.setEnabled(True)
        self.disagreement.refresh()

    def _on_error(self, payload) -> None:
        self.disagreement.score_button.setEnabled(True)
        self.disagreement.summary.setText(f"scoring stopped: {payload[0]}")

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        return self._statistics.shutdown(timeout_ms) and self.jobs.shutdown(timeout_ms)


class _Statistics(QObject):
    """The panel's statistics job: one at a time, only the newest one's result shown."""

    def __init__(self, panel: ResultsPanel) -> None:
        from app.worker import WorkerSlot

        super().__init__(panel)
        self.panel = panel
        self.slot = WorkerSlot(self)
        self.seq = 0

    def start(self, *, tables: bool) -> None:
        panel = self.panel
        self.seq += 1
        seq, project, eid = self.seq, panel.board.project, panel.experiment_id
        margin = panel.margin.value()
        panel.rec_text.setText("Computing the depth recommendation…")
        if tables:
            panel.sig_caption.setText("Computing the pairwise tests…")
        self.slot.quit()  # a superseded job stops at its next step; its result is dropped

        def job():
            got = yield from statistics(project, eid, margin, tables=tables)
            return seq, got

        self.slot.start(job, "experiment-statistics")

    def running(self) -> bool:
        return self.slot.is_running()

    def shutdown(self, timeout_ms: int) -> bool:
        self.seq += 1  # a result still queued for the GUI thread is dropped
        return self.slot.shutdown(timeout_ms)

    def _on_event(self, ev) -> None:
        if isinstance(ev, Progress) and ev.total and self.panel.advice is None:
            self.panel.rec_text.setText(f"Computing: {ev.message}…")

    def _on_returned(self, value) -> None:
        seq, got = value
        if seq == self.seq:
            self.panel._show_statistics(*got)

    def _on_error(self, payload) -> None:
        self.panel.rec_text.setText(f"The statistics could not be computed: {payload[0]}")

    def _on_aborted(self) -> None:
        pass


#: The recommendation table's columns (fields of core.stats.recommend.DepthRow).
_REC_HEADS = {"value": "value", "value_ci": "95 % CI", "diff": "minus the best",
              "diff_ci": "95 % CI of the difference", "p": "p (difference)",
              "p_noninferiority": "p (non-inferiority)",
              "significantly_worse": "significantly worse", "passes": "passes the rule"}


def _cell(v) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.4g}" if math.isfinite(v) else "–"
    if isinstance(v, (list, tuple)):
        parts = [_cell(x) for x in v]
        return "–" if all(p == "–" for p in parts) else " to ".join(parts)
    return "–" if v is None else str(v)
