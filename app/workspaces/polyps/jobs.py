"""The candidate generator as a background job of the Polyps workspace.

Ctrl+G (or the Find candidates button) runs :func:`core.jobs.candidates.generate_candidates`
on the open study (Shift+click: every polyp study) on a worker thread, with a progress
bar and a cancel button; when it ends the open study's candidates are reloaded.
"""

from __future__ import annotations

from PySide6.QtCore import Qt


class CandidateJobMixin:
    """Runs the candidate generator off the GUI thread (mixed into PolypsWorkspace)."""

    # ------------------------------------------------------------------ candidates job
    def _on_find_clicked(self) -> None:
        from PySide6.QtWidgets import QApplication

        every = bool(QApplication.keyboardModifiers() & Qt.KeyboardModifier.ShiftModifier)
        self.find_candidates(every=every)

    def find_candidates(self, every: bool = False) -> None:
        """Run the generator on the open study (or every study of the task)."""
        from core.jobs.candidates import generate_candidates

        if self._job.is_running():
            self._say("the candidate generator is already running")
            return
        ids = [s.id for s in self._studies] if every else (
            [self.study.id] if self.study is not None else [])
        if not ids:
            self._say("import a polyp video or image set first")
            return
        project = self.project
        self._job.start(lambda: generate_candidates(project, ids), "candidates")
        self.find_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.job_bar.setRange(0, 0)
        self.job_bar.setFormat("starting…")

    def _on_event(self, ev) -> None:
        from core.events import Notice, Progress

        if isinstance(ev, Progress) and ev.stage == "candidates":
            self.job_bar.setRange(0, max(ev.total, 1))
            self.job_bar.setValue(ev.done)
            self.job_bar.setFormat("candidates · %p%")
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
        self._say(text)
        if self.study is not None:
            self._load_study_data()
            self.show_frame(self.frame)
        self._update_progress()

    def _on_returned(self, report) -> None:
        self._job_done(f"candidates: {report.text()}")

    def _on_error(self, payload) -> None:
        exc, _tb = payload
        self._job_done(f"candidate generator stopped: {exc}")

    def _on_aborted(self) -> None:
        self._job_done("candidate generator cancelled (finished videos keep theirs)")

    def shutdown_jobs(self, timeout_ms: int = 5000) -> bool:
        return self._job.shutdown(timeout_ms)

