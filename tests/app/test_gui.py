"""The Frame-quality workspace as a user drives it: keys, training, cancel, live strip."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import Qt

from app.main_window import MainWindow
from core.events import drain
from core.store import Project


@pytest.fixture
def window(qtbot, demo_folder, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))  # no weights here
    project = Project.open(demo_folder)
    win = MainWindow(project)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    win.workspaces["frame_quality"].setFocus()
    yield win
    win.controller.shutdown(10000)
    win.close()
    project.close()


def _first_unlabelled(ws):
    return next(f for f in range(ws.n_frames) if f not in ws._labels)


def test_label_with_keys_undo_redo(qtbot, window):
    ws = window.workspaces["frame_quality"]
    project = window.project
    f = _first_unlabelled(ws)
    ws.show_frame(f)
    qtbot.keyClick(ws, Qt.Key.Key_I)
    assert project.label(ws.study.id, f).value == "informative"
    assert ws.frame == f + 1  # advanced
    qtbot.keyClick(ws, Qt.Key.Key_N)
    assert project.label(ws.study.id, f + 1).value == "non-informative"
    qtbot.keyClick(ws, Qt.Key.Key_Left)
    assert ws.frame == f + 1
    qtbot.keyClick(ws, Qt.Key.Key_Backspace)
    assert project.label(ws.study.id, f + 1) is None
    window.undo_action.trigger()
    assert project.label(ws.study.id, f + 1).value == "non-informative"
    window.redo_action.trigger()
    assert project.label(ws.study.id, f + 1) is None
    # the strip shows the label tick, the caption the frame number
    ws.show_frame(f)
    assert f"frame {f} " in ws.viewer.caption.toPlainText()
    assert ws.strip.probability_at(f) is None  # no model yet


def test_navigation_keys(qtbot, window):
    ws = window.workspaces["frame_quality"]
    ws.show_frame(0)
    qtbot.keyClick(ws, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    assert ws.frame == 10
    qtbot.keyClick(ws, Qt.Key.Key_End)
    assert ws.frame == ws.n_frames - 1
    qtbot.keyClick(ws, Qt.Key.Key_Home)
    assert ws.frame == 0
    ws.strip.frame_requested.emit(7)
    assert ws.frame == 7 and ws.slider.value() == 7


def _start_scratch(window, epochs):
    panel = window.workspaces["frame_quality"].training
    panel.depth_stack.set_depth("scratch")
    panel.epochs.setValue(epochs)
    panel.crops.setValue(2)
    panel.device.setCurrentIndex(panel.device.findData("cpu"))
    panel.train_button.click()
    return panel


def test_train_to_the_end_updates_strip_and_disagreements(qtbot, window):
    panel = _start_scratch(window, epochs=1)
    assert panel.is_running() and not panel.depth_stack.isEnabled()
    qtbot.waitUntil(lambda: not window.controller.is_running() and not panel.is_running(),
                    timeout=180_000)
    ws = window.workspaces["frame_quality"]
    assert "finished run" in panel.status.text()
    assert panel.curves.n_batches() > 0 and panel.curves.n_validations() >= 1
    scored = [f for f in range(ws.n_frames) if ws.strip.probability_at(f) is not None]
    assert len(scored) > ws.n_frames // 2  # the strip is drawn from the best snapshot
    run = window.project.runs()[-1]
    assert run.status == "finished" and run.best_snapshot
    frames, probs = window.project.scores(run.id, ws.study.id)
    assert len(frames) and ((probs >= 0) & (probs <= 1)).all()
    model_labels = window.project.labels(ws.study.id, source="model")
    assert len(model_labels) == len(frames)
    assert model_labels[0].model_version.startswith(f"run {run.id} epoch")
    assert window.project.labels(ws.study.id)  # expert labels untouched, separate
    # the disagreement list holds exactly the labelled frames the model gets wrong
    wrong = [f for f, v in ws._labels.items() if ws.strip.probability_at(f) is not None
             and (ws.strip.probability_at(f) >= 0.5) != (v == "informative")]
    assert ws.disagreements.count() == len(wrong)
    panel.evaluate_button.click()
    qtbot.waitUntil(lambda: "Test AUC" in panel.result.text(), timeout=120_000)
    assert panel.plots.currentWidget() is panel.roc and len(panel.roc.curve.getData()[0]) > 2
    assert "AUC" in panel.roc.getPlotItem().titleLabel.text
    run = window.project.run(run.id)  # evaluated exactly as the run recorded
    assert run.metrics["test_settings"]["task_options"] == run.task_options
    assert run.metrics["test_settings"]["precision"] == run.precision
    qtbot.waitUntil(lambda: not window.controller.is_running(), timeout=10_000)


def test_cancel_stops_within_a_second_and_labels_stay(qtbot, window):
    ws = window.workspaces["frame_quality"]
    panel = _start_scratch(window, epochs=50)
    qtbot.waitUntil(lambda: panel.curves.n_batches() > 0, timeout=120_000)
    # keep labelling while training runs
    f = _first_unlabelled(ws)
    ws.show_frame(f)
    qtbot.keyClick(ws, Qt.Key.Key_I)
    t0 = time.monotonic()
    qtbot.keyClick(ws, Qt.Key.Key_Escape)
    # the thread ends first; the panel hears of it through a queued signal just after
    qtbot.waitUntil(lambda: not window.controller.is_running() and not panel.is_running(),
                    timeout=5_000)
    # the figure (< 1 s) is measured by benchmarks/bench_gui.py; here only "promptly"
    assert time.monotonic() - t0 < 5.0
    assert "cancelled" in panel.progress.format()
    assert window.project.runs()[-1].status == "cancelled"
    assert window.project.label(ws.study.id, f).value == "informative"


def test_import_bad_file_says_so_and_project_stays_usable(qtbot, window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: shown.append(a[2]))
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00" * 2048)
    n_before = len(window.project.studies())
    window.import_study(str(bad))
    qtbot.waitUntil(lambda: bool(shown), timeout=30_000)
    qtbot.waitUntil(lambda: not window._import_job[0].is_running(), timeout=10_000)
    assert "broken.mp4" in shown[0]
    assert len(window.project.studies()) == n_before
    ws = window.workspaces["frame_quality"]
    ws.show_frame(3)  # still works
    assert ws.frame == 3


def test_import_good_video_adds_study(qtbot, window, tmp_path):
    import numpy as np

    from core.synth import make_video

    synth = drain(make_video(tmp_path / "extra.mp4", 12, np.random.default_rng(5)))
    ws = window.workspaces["frame_quality"]
    n_before = ws.study_list.count()
    window.import_study(synth.path)
    qtbot.waitUntil(lambda: ws.study_list.count() == n_before + 1, timeout=60_000)
    qtbot.waitUntil(lambda: not window._import_job[0].is_running(), timeout=10_000)


def test_missing_weights_offers_scratch_instead_of_silent_random(qtbot, window, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    seen = []

    def fake_exec(box):
        seen.append(box.text())
        btn = next(b for b in box.buttons() if b.text() == "Train from scratch instead")
        btn.click()
        return 0

    monkeypatch.setattr(QMessageBox, "exec", fake_exec)
    panel = window.workspaces["frame_quality"].training
    panel.depth_stack.set_depth("fc7")
    panel.epochs.setValue(1)
    panel.crops.setValue(1)
    panel.device.setCurrentIndex(panel.device.findData("cpu"))
    panel.train_button.click()
    assert seen and "alexnet-owt-7be5be79.pth" in seen[0]
    assert panel.depth_stack.depth() == "scratch"
    qtbot.waitUntil(lambda: not window.controller.is_running() and not panel.is_running(),
                    timeout=180_000)
    assert window.project.runs()[-1].depth == "scratch"


def test_move_video_between_train_and_test(qtbot, window):
    ws = window.workspaces["frame_quality"]
    sid = ws.study.id
    before = window.project.study(sid).split
    other = "test" if before == "train" else "train"
    ws.set_split(sid, other)
    assert window.project.study(sid).split == other
    assert f"[{other}]" in ws.study_list.currentItem().text()
    ws.set_split(sid, before)
    assert window.project.study(sid).split == before
