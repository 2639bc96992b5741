"""Core tests run with Python's automatic garbage collection on.

The Qt tests (``tests/app``) run before these in one process, and their first worker
turns automatic collection off in favour of a GUI-thread timer
(:func:`app.worker.collect_garbage_on_gui_thread`); no event loop runs here to fire it.
"""

from __future__ import annotations

import gc

import pytest


@pytest.fixture(autouse=True)
def automatic_garbage_collection():
    gc.enable()
    yield
