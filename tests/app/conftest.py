"""Qt tests run headless, with QSettings redirected to a temporary folder."""

from __future__ import annotations

import os

# Before any Qt import: no display is needed (CI, SSH, this machine).
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import QCoreApplication, QSettings  # noqa: E402


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path):
    """Point every QSettings the code under test opens at ``tmp_path``."""
    QCoreApplication.setOrganizationName("LayerTune-test")
    QCoreApplication.setApplicationName("layertune")
    for fmt in (QSettings.Format.IniFormat, QSettings.Format.NativeFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(tmp_path))
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    yield tmp_path


@pytest.fixture(autouse=True)
def no_thread_left_running():
    """A test that leaves a worker QThread running fails (STYLE §19)."""
    yield
    from app.worker import GeneratorWorker

    left = GeneratorWorker.running()
    for w in left:  # stop them so later tests are not disturbed, then fail
        w.quit()
        w.wait(10000)
    # the test's Qt garbage goes here, on the GUI thread (automatic collection is off
    # once a worker has run: app.worker.collect_garbage_on_gui_thread)
    import gc

    gc.collect()
    assert not left, f"{len(left)} worker thread(s) left running"


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory):
    """A small demo project, made once per test module."""
    from core.demo import SMALL, make_demo_project
    from core.events import drain

    folder = tmp_path_factory.mktemp("demo")
    drain(make_demo_project(folder, SMALL)).close()
    return folder


@pytest.fixture
def window_on(qtbot, tmp_path):
    """``window_on(folder)``: the main window, shown, on a copy of the project ``folder``;
    closed (with any project window it opened) after the test."""
    import shutil

    from app.main_window import MainWindow
    from core.store import Project

    opened = []

    def open_window(folder):
        copy = tmp_path / "proj"
        shutil.copytree(folder, copy)
        project = Project.open(copy)
        win = MainWindow(project)
        qtbot.addWidget(win)
        win.show()
        opened.append((win, project))
        return win

    yield open_window
    for win, project in opened:
        win.close()
        nxt = getattr(win, "_next", None)
        if nxt is not None:
            nxt.close()
            nxt.project.close()
        project.close()
