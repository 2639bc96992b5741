"""The Qt binding keeps Python's reference counts right (PySide6 6.12.0 did not)."""

from __future__ import annotations

import gc
import sys

from PySide6.QtWidgets import QGraphicsWidget, QWidget


def _none_refs() -> int:
    gc.collect()
    return sys.getrefcount(None)


def test_passing_none_for_an_object_argument_keeps_none_referenced(qtbot):
    # 6.12.0 dropped one reference to None per call; pyqtgraph makes such calls hundreds
    # of times per plot, and after a few dozen windows Python aborted.
    QWidget().setParent(None)
    before = _none_refs()
    for _ in range(500):
        QWidget().setParent(None)
        QGraphicsWidget().setParentItem(None)
    assert _none_refs() - before > -100, "this PySide6 loses references to None: use <6.12"


def test_garbage_is_collected_on_the_gui_thread_once_a_worker_runs(qtbot):
    """Cyclic garbage holding Qt wrappers, collected in a worker thread, deadlocks
    against the GUI thread (PySide6: signal disconnects under Qt's lock wait for the
    GIL). Once a worker has started, automatic collection is off and a GUI-thread timer
    collects instead."""
    import threading

    from app.worker import GeneratorWorker

    def job():
        yield threading.current_thread().name

    seen = []
    w = GeneratorWorker(job, name="gc-check")
    w.yielded.connect(seen.append)
    w.start()
    qtbot.waitUntil(lambda: not w.is_running(), timeout=10_000)
    assert not gc.isenabled()  # no collection can start inside the worker's allocations
    from app import worker

    assert worker._gc_guard.timer.isActive()  # the GUI thread collects on a timer
