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
