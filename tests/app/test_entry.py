"""The ``layertune`` entry point: GUI where there is a display, headless where not."""

from __future__ import annotations

import json

import pytest

from app.__main__ import display_available, main


@pytest.fixture
def no_display(monkeypatch, tmp_path):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.setattr("sys.platform", "linux")


def test_display_detection(no_display, monkeypatch):
    assert not display_available()
    monkeypatch.setenv("DISPLAY", ":0")
    assert display_available()


def test_gui_without_display_is_a_clear_error(no_display, capsys):
    assert main(["gui"]) == 2
    assert "no display" in capsys.readouterr().err


@pytest.mark.slow
def test_demo_without_display_runs_headless(no_display, tmp_path, capsys):
    rc = main(["demo", "--small", "--json", "--project", str(tmp_path / "d"), "--device", "cpu"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert "No display found" in out.err
    assert 0.0 <= json.loads(out.out)["test"]["auc"] <= 1.0


def test_cli_commands_pass_through(capsys):
    assert main(["schedule", "--depth", "fc8", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["depth"] == "fc8"


def test_demo_opens_the_window_where_there_is_a_display(qtbot, tmp_path, monkeypatch):
    """`layertune demo` through the real entry point: demo project made, window shown."""
    from PySide6.QtWidgets import QApplication

    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    seen = {}

    def fake_exec(*_):
        app = QApplication.instance()
        app.processEvents()
        win = next(w for w in app.topLevelWidgets() if w.isVisible()
                   and w.windowTitle().startswith("LayerTune"))
        seen["title"] = win.windowTitle()
        seen["studies"] = win.workspaces["frame_quality"].study_list.count()
        seen["frame"] = win.workspaces["frame_quality"].viewer.image.image is not None
        win.close()
        return 0

    monkeypatch.setattr(QApplication, "exec", fake_exec)
    assert main(["demo", "--small", "--project", str(tmp_path / "demo")]) == 0
    assert str(tmp_path / "demo") in seen["title"]
    from core.demo import SMALL

    assert seen["studies"] == SMALL.n_videos and seen["frame"]


def test_missing_x11_libraries_are_named_and_demo_goes_headless(monkeypatch, tmp_path, capsys):
    import ctypes.util

    monkeypatch.setattr("sys.platform", "linux")
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("DISPLAY", ":0")
    real = ctypes.util.find_library
    monkeypatch.setattr(ctypes.util, "find_library",
                        lambda name: None if name == "xcb-cursor" else real(name))
    from app.__main__ import missing_system_libraries

    assert "libxcb-cursor0" in missing_system_libraries()
    assert main(["gui"]) == 2
    assert "libxcb-cursor0" in capsys.readouterr().err
