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
    assert not left, f"{len(left)} worker thread(s) left running"


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory):
    """A small demo project, made once per test module."""
    from core.demo import SMALL, make_demo_project
    from core.events import drain

    folder = tmp_path_factory.mktemp("demo")
    drain(make_demo_project(folder, SMALL)).close()
    return folder
