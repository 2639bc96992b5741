"""Score every study with a run's best model in the background, one after the other.

After a run finishes (and after an evaluation) the window scores each study of the
run's task that has no preview predictions of that run yet, the open video first and
then the others newest first (:func:`scoring_order`), with
:func:`core.jobs.score_study`. Each study's result is stored by the core and announced
with :attr:`StudyScorer.scored`, so the workspace can draw it at once if it is open,
and finds it in the project when it is opened later. Cancellable at any time.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from .worker import WorkerSlot


@dataclass(frozen=True)
class StudyScoring:
    """Scoring of study ``study_id`` (``index`` of ``total``) starts."""

    index: int
    total: int
    study_id: int
    name: str


@dataclass(frozen=True)
class StudyScored:
    run_id: int
    study_id: int
    prediction: object  # core.events.Scored (items, probs, positive classes)


def scoring_order(project, run_id: int, task_owner, open_study: int | None) -> list[int]:
    """Studies to score: the open one first, then the rest newest first; those already
    holding preview predictions of ``run_id`` are left out.

    ``task_owner(task_name) -> bool`` says whether a study belongs to the workspace.
    """
    ids = [s.id for s in project.studies() if task_owner(s.task)]
    ids.sort(reverse=True)
    if open_study in ids:
        ids.remove(open_study)
        ids.insert(0, open_study)
    return [i for i in ids if not project.predictions(run_id, split="preview", study_id=i)]


def score_studies(project, run_id: int, study_ids: list[int]) -> Generator:
    """Score each study in turn (yields :class:`StudyScoring`, :class:`StudyScored` and
    the core's notices); returns the number scored."""
    from core.events import Notice, Scored
    from core.jobs import score_study
    from core.tasks import get_task

    positive = tuple(get_task(project.run(run_id).task).positive)
    for k, sid in enumerate(study_ids):
        yield StudyScoring(k, len(study_ids), sid, project.study(sid).name)
        gen = score_study(project, run_id, sid)
        while True:  # pass on notices only: the inner progress is the dataset's
            try:
                ev = next(gen)
            except StopIteration as stop:
                items, probs = stop.value
                break
            if isinstance(ev, Notice):
                yield ev
        yield StudyScored(run_id, sid, Scored("strip", items, probs, -1, positive))
    return len(study_ids)


class StudyScorer(QObject):
    """Runs :func:`score_studies` on a worker; one batch at a time.

    Signals
    -------
    scored(int, int, object)
        run id, study id, the :class:`core.events.Scored` of that study.
    progress(int, int, str)
        studies done, total, the study being scored now ("" when finished).
    notice(str, str)
        message, level.
    finished(int, int, bool)
        run id, studies scored, whether it was cancelled.
    """

    scored = Signal(int, int, object)
    progress = Signal(int, int, str)
    notice = Signal(str, str)
    finished = Signal(int, int, bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.jobs = WorkerSlot(self)
        self.run_id: int | None = None
        self._done = 0

    def is_running(self) -> bool:
        return self.jobs.is_running()

    def start(self, project, run_id: int, study_ids: list[int]) -> bool:
        """Score ``study_ids`` (cancelling a batch still running); False when empty."""
        self.cancel()
        if not study_ids:
            return False
        self.run_id, self._done = run_id, 0
        self.progress.emit(0, len(study_ids), "")
        self.jobs.start(lambda: score_studies(project, run_id, study_ids), "score")
        return True

    def cancel(self) -> None:
        if self.is_running():
            self.jobs.quit()

    def shutdown(self, timeout_ms: int = 10000) -> bool:
        return self.jobs.shutdown(timeout_ms)

    def _on_event(self, ev) -> None:
        from core.events import Notice

        if isinstance(ev, StudyScoring):
            self.progress.emit(ev.index, ev.total, ev.name)
        elif isinstance(ev, StudyScored):
            self._done += 1
            self.scored.emit(ev.run_id, ev.study_id, ev.prediction)
        elif isinstance(ev, Notice):
            self.notice.emit(ev.message, ev.level)

    def _on_returned(self, _n) -> None:
        self._end(False)

    def _on_aborted(self) -> None:
        self._end(True)

    def _on_error(self, payload) -> None:
        exc, _ = payload
        self.notice.emit(f"scoring the videos stopped: {exc}", "warning")
        self._end(False)

    def _end(self, cancelled: bool) -> None:
        self.finished.emit(self.run_id if self.run_id is not None else -1, self._done,
                           cancelled)
