"""Loading a CT volume off the GUI thread for the Emboli workspace.

A 512 x 512 x 400 series takes a few seconds to read and decode; :class:`VolumeLoader`
runs :func:`core.jobs.volume_candidates.load_hu` (int16 HU, loaded once and kept by the
workspace while the study is open) on a worker thread. When the study's ``meta`` has
no contrast verdict yet (the reader judges contrast only when asked to),
:func:`core.jobs.volume_candidates.load_checked_hu` judges the loaded volume and stores the
verdict in the study's ``meta["contrast"]``, where the workspace's non-contrast warning
reads it. Opening another study while one loads supersedes it (the late result is
dropped).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from ...worker import WorkerSlot


def load_volume(project, study):
    """Generator: ``(study id, hu int16 (Z, Y, X), VolumeGeometry)``; the contrast
    verdict is stored in ``meta["contrast"]`` when missing (module docstring)."""
    from core.jobs.volume_candidates import load_checked_hu

    hu, geometry, _study = yield from load_checked_hu(project, study)
    return study.id, hu, geometry


class VolumeLoader(QObject):
    """One volume load at a time; the newest request wins.

    Signals
    -------
    loaded(int, object, object)
        Study id, HU volume (int16 (Z, Y, X)), its VolumeGeometry.
    failed(int, str)
        Study id and why it could not be loaded.
    progress(int, int)
        Slices read, of how many.
    """

    loaded = Signal(int, object, object)
    failed = Signal(int, str)
    progress = Signal(int, int)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._slot = WorkerSlot(self)
        self.study_id: int | None = None

    def start(self, project, study) -> None:
        """Load ``study`` (cancelling a load still running)."""
        self._slot.quit()
        self.study_id = study.id
        self._slot.start(lambda: load_volume(project, study), "volume")

    def is_running(self) -> bool:
        return self._slot.is_running()

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        self.study_id = None
        return self._slot.shutdown(timeout_ms)

    def _current(self) -> bool:
        return self.sender() is self._slot.worker

    # WorkerSlot callbacks (GUI thread)
    def _on_event(self, ev) -> None:
        from core.events import Progress

        if self._current() and isinstance(ev, Progress):
            self.progress.emit(int(ev.done), int(ev.total))

    def _on_returned(self, value) -> None:
        sid, hu, geometry = value
        if self._current() and sid == self.study_id:
            self.loaded.emit(sid, hu, geometry)

    def _on_error(self, payload) -> None:
        exc, _tb = payload
        if self._current() and self.study_id is not None:
            self.failed.emit(self.study_id, str(exc))

    def _on_aborted(self) -> None:
        pass
