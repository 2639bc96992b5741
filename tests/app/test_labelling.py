"""Fast labelling in the Frame-quality workspace, as a user drives it (issue 6: items 2, 5,
7, 10 and 26): U across videos, the last frame, ranges, progress, live counts, keys that
reach the workspace, zoom and fit, sampled labelling."""

from __future__ import annotations

import shutil

import pytest
from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtWidgets import QApplication, QLineEdit, QMessageBox

from app.main_window import MainWindow
from core.store import Project


@pytest.fixture
def window(qtbot, demo_folder, tmp_path, monkeypatch):
    """The main window on a private copy of the demo project (these tests edit labels)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    folder = tmp_path / "project"
    shutil.copytree(demo_folder, folder)
    project = Project.open(folder)
    win = MainWindow(project)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow)
    yield win
    for c in win.controllers.values():
        c.shutdown(10000)
    win.close()
    project.close()


def _ws(window):
    return window.workspaces["frame_quality"]


def _messages(ws) -> list[str]:
    seen: list[str] = []
    ws.message.connect(seen.append)
    return seen


def _label_all_but(project, keep: dict[int, list[int]]) -> None:
    """Label every frame of every video except ``keep`` (study id -> frames left)."""
    entries = []
    for s in project.studies("frame_quality"):
        for f in range(s.n_frames):
            value = None if f in keep.get(s.id, []) else "informative"
            entries.append((s.id, f, value))
    project.set_labels(entries)


def test_u_goes_across_videos_training_first_wraps_and_says_all_labelled(qtbot, window):
    ws, project = _ws(window), window.project
    train = [s for s in project.studies("frame_quality") if s.split == "train"]
    test = [s for s in project.studies("frame_quality") if s.split == "test"]
    assert len(train) >= 3 and test
    # Unlabelled: frame 5 of the 2nd training video and frame 3 of a test video.
    _label_all_but(project, {train[1].id: [5], test[0].id: [3]})
    ws.reload()
    ws.select_study(train[2].id)  # the list continues with the test video after this one
    ws.show_frame(10)
    said = _messages(ws)
    qtbot.keyClick(ws, Qt.Key.Key_U)
    assert (ws.study.id, ws.frame) == (train[1].id, 5)  # a training video before the test one
    assert "next unlabelled frame" in said[-1] and train[1].name in said[-1]
    qtbot.keyClick(ws, Qt.Key.Key_N)
    qtbot.keyClick(ws, Qt.Key.Key_U)
    assert (ws.study.id, ws.frame) == (test[0].id, 3)
    qtbot.keyClick(ws, Qt.Key.Key_I)
    here = (ws.study.id, ws.frame)
    qtbot.keyClick(ws, Qt.Key.Key_U)
    assert (ws.study.id, ws.frame) == here  # nowhere to go
    assert "all frames labelled" in said[-1]
    assert "all frames labelled" in ws.info.text()
    # Wrapping round within the open video: the unlabelled frame lies behind the cursor.
    project.clear_label(train[0].id, 2)
    ws.reload()
    ws.select_study(train[0].id)
    ws.show_frame(20)
    qtbot.keyClick(ws, Qt.Key.Key_U)
    assert (ws.study.id, ws.frame) == (train[0].id, 2)
    assert "wrapped" in said[-1]


def test_labelling_the_last_frame_stays_there_and_says_so(qtbot, window):
    ws, project = _ws(window), window.project
    last = ws.n_frames - 1
    ws.show_frame(last - 1)
    said = _messages(ws)
    qtbot.keyClick(ws, Qt.Key.Key_N)
    assert ws.frame == last  # advanced onto the last frame
    qtbot.keyClick(ws, Qt.Key.Key_N)
    assert ws.frame == last and "last frame" in said[-1]
    qtbot.keyClick(ws, Qt.Key.Key_I)  # a second key does not pass silently either
    assert ws.frame == last
    assert project.label(ws.study.id, last).value == "informative"
    assert any("non-informative → informative" in m for m in said)
    assert "last frame" in said[-1]


def test_range_by_keys_and_by_shift_click_is_one_undo_step(qtbot, window):
    ws, project = _ws(window), window.project
    sid = ws.study.id
    before = {lab.frame: lab.value for lab in project.labels(sid)}
    ws.show_frame(3)
    qtbot.keyClick(ws, Qt.Key.Key_BracketLeft)
    ws.show_frame(9)
    qtbot.keyClick(ws, Qt.Key.Key_BracketRight)
    assert ws.strip._range == (3, 9)
    qtbot.keyClick(ws, Qt.Key.Key_N)
    assert all(project.label(sid, f).value == "non-informative" for f in range(3, 10))
    assert ws.strip._range is None  # the marks are used up
    assert ws.frame == 9  # a range does not advance
    window.undo_action.trigger()  # one step undoes the whole range
    assert {lab.frame: lab.value for lab in project.labels(sid)} == before
    assert ws.strip._labels == before  # the strip follows the undo of every frame
    window.redo_action.trigger()
    assert all(project.label(sid, f).value == "non-informative" for f in range(3, 10))
    window.undo_action.trigger()

    # Shift+click on the strip: from the current frame to the clicked one.
    window.resize(1400, 900)
    ws.show_frame(12)
    x = int(ws.strip.x_for_frame(20))
    qtbot.mouseClick(ws.strip, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier,
                     QPoint(x, ws.strip.height() // 2))
    assert ws.strip._range == (12, 20) and ws.frame == 20
    assert "range 12–20" in ws.info.text()
    qtbot.wait(50)
    qtbot.keyClick(ws, Qt.Key.Key_I)
    assert all(project.label(sid, f).value == "informative" for f in range(12, 21))
    assert "9 labelled informative" in ws.info.text()
    window.undo_action.trigger()
    assert {lab.frame: lab.value for lab in project.labels(sid)} == before
    # X forgets marks: I then labels one frame only.
    ws.show_frame(0)
    qtbot.keyClick(ws, Qt.Key.Key_BracketLeft)
    ws.show_frame(4)
    qtbot.keyClick(ws, Qt.Key.Key_BracketRight)
    qtbot.keyClick(ws, Qt.Key.Key_X)
    qtbot.keyClick(ws, Qt.Key.Key_I)
    changed = {f for f in range(5) if (project.label(sid, f) or None) and
               project.label(sid, f).value != before.get(f)}
    assert changed <= {4}


def _expected_progress(project) -> tuple[int, int, int, int]:
    labs = project.labels()
    total = sum(s.n_frames for s in project.studies("frame_quality"))
    inf = sum(lab.value == "informative" for lab in labs)
    return len(labs), total, inf, len(labs) - inf


def test_progress_and_study_counts_follow_labels_ranges_undo_and_imports(
        qtbot, window, tmp_path, monkeypatch):
    ws, project = _ws(window), window.project
    sid = ws.study.id
    n, total, inf, non = _expected_progress(project)
    assert ws.progress.text().startswith(f"Project: {n} / {total} frames labelled")
    assert f"informative {inf}" in ws.progress.text()
    assert f"non-informative {non}" in ws.progress.text()
    labelled = len(project.labels(sid))
    assert f"{labelled} labelled" in ws.study_list.text_of(sid)
    f = next(f for f in range(ws.n_frames) if project.label(sid, f) is None)
    ws.show_frame(f)
    qtbot.keyClick(ws, Qt.Key.Key_I)
    assert f"{labelled + 1} labelled" in ws.study_list.text_of(sid)  # live, not stale
    assert ws.progress.text().startswith(f"Project: {n + 1} / {total}")
    window.undo_action.trigger()
    assert f"{labelled} labelled" in ws.study_list.text_of(sid)
    assert ws.progress.text().startswith(f"Project: {n} / {total}")
    # Labels imported from a CSV show at once in the list and the progress.
    other = [s for s in project.studies("frame_quality") if s.id != sid][0]
    have = {lab.frame for lab in project.labels(other.id)}
    free = [f for f in range(other.n_frames) if f not in have][:4]
    csv = tmp_path / "labels.csv"
    csv.write_text("study,frame,label\n" + "".join(f"{other.name},{f},I\n" for f in free))
    monkeypatch.setattr("app.workspaces.label_files.QFileDialog.getOpenFileName",
                        lambda *a, **k: (str(csv), ""))
    ws.import_labels()
    assert f"{len(have) + len(free)} labelled" in ws.study_list.text_of(other.id)
    assert ws.progress.text().startswith(f"Project: {n + len(free)} / {total}")


def test_letters_pass_number_boxes_not_text_boxes_and_focus_returns_after_a_dialog(
        qtbot, window):
    ws, project = _ws(window), window.project
    sid = ws.study.id
    ws.advance.setChecked(False)
    f = next(f for f in range(ws.n_frames) if project.label(sid, f) is None)
    ws.show_frame(f)
    epochs = ws.training.epochs
    epochs.setFocus()
    qtbot.waitUntil(epochs.hasFocus)
    value = epochs.value()
    qtbot.keyClick(epochs, Qt.Key.Key_N)  # a number box does not swallow a letter
    assert project.label(sid, f).value == "non-informative"
    assert epochs.value() == value
    # The frame box takes digits, then hands the keys back to labelling.
    ws.frame_box.setFocus()
    qtbot.waitUntil(ws.frame_box.hasFocus)
    ws.frame_box.selectAll()
    qtbot.keyClicks(ws.frame_box, "12")
    qtbot.keyClick(ws.frame_box, Qt.Key.Key_Return)
    assert ws.frame == 12 and ws.viewer.hasFocus()
    # Text being typed is left alone.
    edit = QLineEdit(ws)
    edit.show()
    edit.setFocus()
    qtbot.waitUntil(edit.hasFocus)
    qtbot.keyClicks(edit, "in")
    assert edit.text() == "in"
    before12 = project.label(sid, 12)
    qtbot.keyClick(edit, Qt.Key.Key_I)
    assert project.label(sid, 12) == before12
    edit.deleteLater()
    # After a dialog closes, focus is back on the viewer and the keys work at once.
    window.tabs.tabBar().setFocus()  # outside the workspace, as a dialog may leave it
    box = QMessageBox(QMessageBox.Icon.Warning, "Pretrained weights missing", "…",
                      QMessageBox.StandardButton.Ok, window)
    box.open()
    qtbot.waitUntil(box.isActiveWindow)
    box.accept()
    window.activateWindow()  # what the window manager does when a dialog closes
    qtbot.waitUntil(window.isActiveWindow)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is ws.viewer)
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Home)
    assert ws.frame == 0


def test_zoom_and_pan_are_documented_caption_stays_and_fit_restores(qtbot, window):
    ws = _ws(window)
    rows = dict(ws.shortcuts)
    assert "zoom" in rows["Mouse wheel / drag"] and "fit" in rows["F or double-click"]
    assert "wheel" in ws.viewer.toolTip().lower() and "double-click" in ws.viewer.toolTip()
    ws.show_frame(4)
    viewer = ws.viewer
    assert viewer.is_fitted()
    cap = viewer.caption.geometry()
    viewer.view.scaleBy((0.4, 0.4))
    viewer.view.translateBy((30, 20))
    assert not viewer.is_fitted()
    ws.show_frame(5)  # a new frame keeps the zoom, the caption stays in its corner
    assert not viewer.is_fitted()
    assert viewer.caption.geometry().topLeft() == cap.topLeft()
    assert viewer.caption.isVisible() and "frame 5" in viewer.caption.toPlainText()
    qtbot.mouseDClick(viewer.viewport(), Qt.MouseButton.LeftButton,
                      pos=viewer.viewport().rect().center())
    assert viewer.is_fitted()
    viewer.view.scaleBy((0.5, 0.5))
    qtbot.keyClick(ws, Qt.Key.Key_F)
    assert viewer.is_fitted()


def test_sampled_labelling_steps_by_the_interval(qtbot, window):
    ws, project = _ws(window), window.project
    sid = ws.study.id
    fps = ws.study.fps
    assert fps > 0
    ws.sample_s.setValue(5 / fps)  # one frame in 5
    ws.sampled.setChecked(True)
    assert ws.sampled_frames(ws.study).tolist() == list(range(0, ws.n_frames, 5))
    assert ws.strip._sample_step == 5
    assert "sampled frames labelled" in ws.progress.text()
    ws.show_frame(7)
    qtbot.keyClick(ws, Qt.Key.Key_Right)
    assert ws.frame == 10
    qtbot.keyClick(ws, Qt.Key.Key_Left)
    assert ws.frame == 5
    ws.slider.setValue(13)  # the scrubber snaps to a sampled frame
    qtbot.waitUntil(lambda: ws.frame == 15)
    project.set_labels([(sid, f, None) for f in (20, 25)])
    ws.reload()
    ws.show_frame(15)
    qtbot.keyClick(ws, Qt.Key.Key_U)
    assert ws.frame == 20
    qtbot.keyClick(ws, Qt.Key.Key_I)  # advance goes to the next sampled frame
    assert ws.frame == 25
    # A range in sampled labelling labels its sampled frames only.
    project.set_labels([(sid, f, None) for f in range(0, 11)])
    ws.reload()
    ws.show_frame(0)
    qtbot.keyClick(ws, Qt.Key.Key_BracketLeft)
    ws.show_frame(10)
    qtbot.keyClick(ws, Qt.Key.Key_BracketRight)
    qtbot.keyClick(ws, Qt.Key.Key_N)
    assert {lab.frame for lab in project.labels(sid) if lab.frame <= 10} == {0, 5, 10}
    # the mode is a setting kept for the next session
    ws.sampled.setChecked(False)
    ws.sampled.setChecked(True)
    assert QSettings().value("frame_quality/sampled", type=bool) is True
    assert QSettings().value("frame_quality/sample_seconds", type=float) == pytest.approx(
        round(5 / fps, 1))
