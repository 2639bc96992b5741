"""The one worker abstraction: run a core generator on a QThread (STYLE §4).

Modelled on superqt's ``GeneratorWorker``: a QObject moved to its own QThread pulls
events from a generator and re-emits them as signals (``started``, ``yielded``,
``returned``, ``errored``, ``aborted``, ``finished``). Cancelling sets a thread-safe
flag checked between two events, then closes the generator, so cleanup code in the
generator (``finally``) runs. Per-batch events are coalesced to about 10 Hz: bursts of
:class:`core.events.BatchEnd` arrive as one tuple.
"""

from __future__ import annotations

import os
import threading
import time
import traceback
import weakref
from collections.abc import Callable, Generator

from PySide6.QtCore import QObject, QThread, Signal, Slot

from core.events import BatchEnd

_gc_guard = None


def collect_garbage_on_gui_thread() -> None:
    """Collect Python garbage on the GUI thread only, from the first worker on.

    Python's cyclic collector runs in whichever thread happens to allocate. When that
    is a worker and the garbage holds Qt wrappers (a closed window's widgets), their
    destructors disconnect signals under Qt's lock and then wait for the GIL, while the
    GUI thread, holding the GIL, waits for that lock in a ``connect``: both hang
    (seen in the test suite: a volume loading while a window was built). pyqtgraph's
    ``GarbageCollector`` turns automatic collection off and collects from a GUI-thread
    timer instead (the remedy PySide's and pyqtgraph's authors give).
    """
    global _gc_guard
    if _gc_guard is None:
        from pyqtgraph.util.garbage_collector import GarbageCollector

        _gc_guard = GarbageCollector(interval=1.0)


class GeneratorWorker(QObject):
    """Runs ``factory()`` (a generator) on a fresh QThread.

    The generator is created inside the worker thread so that all of its work runs
    there. Signals carry plain data only.
    """

    started = Signal()
    yielded = Signal(object)
    returned = Signal(object)
    errored = Signal(object)  # (exception, formatted traceback)
    aborted = Signal()
    finished = Signal()

    _instances: weakref.WeakSet = weakref.WeakSet()

    def __init__(self, factory: Callable[[], Generator], *, throttle_s: float = 0.1,
                 name: str = "job") -> None:
        super().__init__()
        self._factory = factory
        self._throttle_s = throttle_s
        self._abort = threading.Event()
        self._done = threading.Event()
        self.name = name
        self._thread = QThread()
        self._thread.setObjectName(f"layertune-{name}")
        self.moveToThread(self._thread)
        self._thread.started.connect(self._run)
        GeneratorWorker._instances.add(self)

    @classmethod
    def running(cls) -> list[GeneratorWorker]:
        """Workers whose thread is still running (tests assert none are left)."""
        return [w for w in list(cls._instances) if w.is_running()]

    # -- control (GUI thread)
    def start(self) -> None:
        collect_garbage_on_gui_thread()
        self._thread.start()

    def quit(self) -> None:
        """Ask the job to stop at its next event (cancel)."""
        self._abort.set()

    @property
    def abort_requested(self) -> bool:
        return self._abort.is_set()

    def is_running(self) -> bool:
        return self._thread.isRunning()

    def wait(self, timeout_ms: int = 5000) -> bool:
        """Wait for the thread to end; True when it did (never terminates it)."""
        if not self._thread.isRunning():
            return True
        return self._thread.wait(timeout_ms)

    # -- worker thread
    @Slot()
    def _run(self) -> None:
        _lower_thread_priority()
        self.started.emit()
        pending: list[BatchEnd] = []
        last = 0.0
        gen = None
        try:
            gen = self._factory()
            while True:
                if self._abort.is_set():
                    gen.close()
                    if pending:
                        self.yielded.emit(tuple(pending))
                    self.aborted.emit()
                    return
                try:
                    ev = next(gen)
                except StopIteration as stop:
                    if pending:
                        self.yielded.emit(tuple(pending))
                    self.returned.emit(stop.value)
                    return
                if isinstance(ev, BatchEnd):
                    pending.append(ev)
                    now = time.monotonic()
                    if now - last >= self._throttle_s:
                        self.yielded.emit(tuple(pending))
                        pending, last = [], now
                else:
                    if pending:
                        self.yielded.emit(tuple(pending))
                        pending = []
                    self.yielded.emit(ev)
        except Exception as exc:  # reported to the GUI, which shows a message
            self.errored.emit((exc, traceback.format_exc()))
        finally:
            if gen is not None:
                gen.close()
            self._done.set()
            self.finished.emit()
            # quit() is thread-safe; called here (not via a queued signal) so that wait()
            # on a GUI thread that is not processing events still returns promptly
            self._thread.quit()



class WorkerSlot:
    """One job at a time for a GUI-thread owner (a controller).

    :meth:`start` runs a core generator on a new :class:`GeneratorWorker` whose signals go
    to the owner's ``_on_event``, ``_on_returned``, ``_on_error`` and ``_on_aborted`` (bound
    methods of a GUI-thread QObject: queued, run on the GUI thread; a plain lambda would
    run in the worker's thread). A superseded worker stays referenced until its thread has
    really ended; :meth:`shutdown` cancels and waits for them all, never terminating one.
    """

    def __init__(self, owner: QObject) -> None:
        self.owner = owner
        self.worker: GeneratorWorker | None = None
        self._retired: list[GeneratorWorker] = []

    def start(self, factory: Callable[[], Generator], name: str) -> GeneratorWorker:
        self._retired = [w for w in self._retired if w.is_running()]
        if self.worker is not None:
            self._retired.append(self.worker)
        w = GeneratorWorker(factory, name=name)
        o = self.owner
        w.yielded.connect(o._on_event)
        w.returned.connect(o._on_returned)
        w.errored.connect(o._on_error)
        w.aborted.connect(o._on_aborted)
        self.worker = w
        w.start()
        return w

    def is_running(self) -> bool:
        return self.worker is not None and self.worker.is_running()

    def quit(self) -> None:
        """Ask the current job to stop at its next event."""
        if self.worker is not None:
            self.worker.quit()

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Cancel every job and wait for its thread; False if one is still running."""
        ok = True
        for w in [*self._retired, self.worker]:
            if w is not None:
                w.quit()
                ok = w.wait(timeout_ms) and ok
        return ok


def _lower_thread_priority(nice: int = 5) -> None:
    """Run long jobs a little below the GUI thread (Linux: per-thread nice value)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
    except (AttributeError, OSError, PermissionError):
        pass
