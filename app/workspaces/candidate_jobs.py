"""The candidate generator as a background job of a detection workspace.

Ctrl+G (or the Find candidates button) runs the task's generator on the open study
(Shift+click: every study of the task) on a worker thread, with a progress bar and a
cancel button; when it ends the open study's candidates are reloaded. The polyps and
emboli workspaces mix in a subclass that names the generator and the words it uses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from PySide6.QtCore import Qt


class CandidateJobMixin:
    """Runs the candidate generator off the GUI thread.

    The workspace provides ``_job`` (a WorkerSlot), ``find_button``, ``cancel_button``,
    ``job_bar``, ``_studies``, ``study``, ``project`` and ``_say``; the subclass sets:

    Class attributes
    ----------------
    job_stages : dict
        Progress stages shown on the bar, and their words (``{"candidates": "volumes"}``).
    job_first : str
        What to tell a user who asks for candidates with no study open.
    job_unit : str
        What "finished … keep theirs" counts when the job is cancelled ("videos").
    """

    job_stages: ClassVar[dict[str, str]] = {"candidates": "candidates"}
    job_first: ClassVar[str] = "import a study first"
    job_unit: ClassVar[str] = "studies"

    def candidate_job(self, project, ids: list[int]) -> Callable[[], object]:
        """The generator to run on ``ids`` (a zero-argument callable)."""
        raise NotImplementedError

    def after_candidates(self) -> None:
        """Show the open study's new candidates (called on the GUI thread)."""

    def _on_find_clicked(self) -> None:
        from PySide6.QtWidgets import QApplication

        every = bool(QApplication.keyboardModifiers() & Qt.KeyboardModifier.ShiftModifier)
        self.find_candidates(every=every)

    def find_candidates(self, every: bool = False) -> None:
        """Run the generator on the open study (or every study of the task)."""
        if self._job.is_running():
            self._say("the candidate generator is already running")
            return
        ids = [s.id for s in self._studies] if every else (
            [self.study.id] if self.study is not None else [])
        if not ids:
            self._say(self.job_first)
            return
        self._job.start(self.candidate_job(self.project, ids), "candidates")
        self.find_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.job_bar.setRange(0, 0)
        self.job_bar.setFormat("starting…")

    def _on_event(self, ev) -> None:
        from core.events import Notice, Progress

        if isinstance(ev, Progress) and ev.stage in self.job_stages:
            self.job_bar.setRange(0, max(ev.total, 1))
            self.job_bar.setValue(ev.done)
            self.job_bar.setFormat(f"{self.job_stages[ev.stage]} · %p%")
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
        self.after_candidates()
        self._say(text)

    def _on_returned(self, report) -> None:
        self._job_done(f"candidates: {report.text()}")

    def _on_error(self, payload) -> None:
        exc, _tb = payload
        self._job_done(f"candidate generator stopped: {exc}")

    def _on_aborted(self) -> None:
        self._job_done(f"candidate generator cancelled (finished {self.job_unit} keep theirs)")

    def shutdown_jobs(self, timeout_ms: int = 5000) -> bool:
        return self._job.shutdown(timeout_ms)
