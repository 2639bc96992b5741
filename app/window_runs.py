"""The main window's runs: scoring every study after a run, the run history, the session.

A mixin of :class:`app.main_window.MainWindow` (its ``project``, ``workspaces``,
``controllers``, ``scorer`` and ``notify``), kept apart so the window module stays short.
"""

from __future__ import annotations

from . import session
from .study_scoring import scoring_order
from .workspaces import Workspace


class RunsMixin:
    """Background scoring, the run history and restoring the last run."""

    def score_all(self, ws: Workspace | None = None, run_id: int | None = None) -> None:
        """Score every study of ``ws``'s task lacking predictions of ``run_id`` (default:
        the current tab and its newest run), the open one first."""
        ws = ws if isinstance(ws, Workspace) else self.current_workspace()
        c = None if ws is None else self.controllers.get(ws.task_name)
        run_id = run_id if run_id is not None else (None if c is None else c.last_run_id)
        if ws is None or run_id is None:
            return
        order = scoring_order(self.project, run_id, ws.owns_task, ws.preview_study_id())
        if not self.scorer.start(self.project, run_id, order):
            self.statusBar().showMessage(f"every video already shows run {run_id}", 5000)

    def _on_scoring_progress(self, done: int, total: int, name: str) -> None:
        self.scoring_label.setText(f"scoring videos with the best model: {done + 1} of {total}"
                                   + (f" ({name})" if name else ""))
        for w in (self.scoring_label, self.scoring_cancel):
            w.setVisible(total > 0)

    def _on_study_scored(self, run_id: int, study_id: int, prediction) -> None:
        for ws in self.workspaces.values():
            if ws.preview_study_id() == study_id:
                ws.show_prediction(prediction)

    def _on_scoring_finished(self, run_id: int, n: int, cancelled: bool) -> None:
        for w in (self.scoring_label, self.scoring_cancel):
            w.hide()
        for ws in self.workspaces.values():
            ws.reload()
        how = "stopped after" if cancelled else "scored"
        self.notify(f"run {run_id}: {how} {n} video(s); each one's strip shows its output",
                    source="scoring")

    def show_run_history(self) -> None:
        from .dialogs.run_history import RunHistoryDialog

        ws = self.current_workspace()
        if ws is None:
            return
        self.history_dialog = dlg = RunHistoryDialog(session.runs_of(self.project, ws.owns_task),
                                                     self)
        dlg.show_requested.connect(lambda run_id: self.show_run(ws, run_id))
        dlg.show()

    def show_run(self, ws: Workspace, run_id: int) -> None:
        """Show a past run again: curves, result, and its predictions on every study."""
        run = self.project.run(run_id)
        c = self.controllers.get(ws.task_name)
        if c is not None and c.is_running():
            self.notify("a job is running: show a past run when it has finished", "warning")
            return
        session.show_run(ws, run)
        if c is not None and run.best_snapshot:
            c.select_run(run_id)
            study = ws.preview_study_id()
            preds = self.project.predictions(run_id, split="preview", study_id=study)
            if preds:
                from core.events import Scored

                ws.show_prediction(Scored("strip", preds[-1].items, preds[-1].probs, -1))
            self.score_all(ws, run_id)
        self.notify(f"showing run {run_id} ({run.depth})", source=ws.title)

    def _restore_session(self) -> None:
        for name, ws in self.workspaces.items():
            if ws.training is None:
                continue
            session.restore_preferences(ws.training, name)
            done = [r for r in session.runs_of(self.project, ws.owns_task)
                    if (r.metrics or {}).get("history")]
            if done:
                session.show_run(ws, done[-1])
