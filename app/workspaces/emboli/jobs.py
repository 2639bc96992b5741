"""Tobogganing as a background job of the Emboli workspace.

Ctrl+G (or the Find candidates button) runs
:func:`core.jobs.volume_candidates.generate_volume_candidates` on the open study
(Shift+click: every CT study of the task) on a worker thread, with a progress bar and a
cancel button; when it ends the open study's candidates are reloaded. The candidates
replace the study's earlier ones; decisions, stored at the candidates' centres, stay.
"""

from __future__ import annotations

from PySide6.QtCore import Qt

STAGES = {"load": "reading", "candidates": "volumes", "toboggan": "tobogganing",
          "axes": "vessel axes"}


class CandidateJobMixin:
    """Runs the candidate generator off the GUI thread (mixed into EmboliWorkspace)."""

    def _on_find_clicked(self) -> None:
        from PySide6.QtWidgets import QApplication

        every = bool(QApplication.keyboardModifiers() & Qt.KeyboardModifier.ShiftModifier)
        self.find_candidates(every=every)

    def find_candidates(self, every: bool = False) -> None:
        """Run tobogganing on the open study (or every study of the task)."""
        from core.jobs.volume_candidates import generate_volume_candidates

        if self._job.is_running():
            self._say("the candidate generator is already running")
            return
        ids = [s.id for s in self._studies] if every else (
            [self.study.id] if self.study is not None else [])
        if not ids:
            self._say("import a CT series first (File > Import DICOM folder)")
            return
        project = self.project
        self._job.start(lambda: generate_volume_candidates(project, ids), "candidates")
        self.find_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.job_bar.setRange(0, 0)
        self.job_bar.setFormat("starting…")

    def _on_event(self, ev) -> None:
        from core.events import Notice, Progress

        if isinstance(ev, Progress):
            self.job_bar.setRange(0, max(ev.total, 1))
            self.job_bar.setValue(ev.done)
            self.job_bar.setFormat(f"{STAGES.get(ev.stage, ev.stage)} · %p%")
            if ev.message:
                self.job_bar.setToolTip(ev.message)
        elif isinstance(ev, Notice):
            self._say(ev.message)

    def _job_done(self, text: str) -> None:
        self.find_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.job_bar.setRange(0, 100)
        self.job_bar.setValue(100)
        self.job_bar.setFormat(text.split(":")[0])
        self.reload_studies()
        if self.study is not None and self.volume is not None:
            keep = self.viewer.selected
            self._load_candidates()
            self._refresh_markers()
            if keep is None or keep not in self._pos:
                self.planes.clear()
        self._say(text)

    def _on_returned(self, report) -> None:
        self._job_done(f"candidates: {report.text()}")

    def _on_error(self, payload) -> None:
        exc, _tb = payload
        self._job_done(f"candidate generator stopped: {exc}")

    def _on_aborted(self) -> None:
        self._job_done("candidate generator cancelled (finished volumes keep theirs)")

    def shutdown_jobs(self, timeout_ms: int = 5000) -> bool:
        ok = self._job.shutdown(timeout_ms)
        return self.loader.shutdown(timeout_ms) and ok
