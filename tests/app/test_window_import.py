"""Importing from the window (issue 6 item 1): several videos, a frame folder, the set."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtWidgets import QDialog, QFileDialog, QMessageBox

from app.dialogs.import_dialog import ImportDialog, video_filter
from core.events import drain


@pytest.fixture
def window(window_on, demo_folder):
    return window_on(demo_folder)


def _videos(tmp_path, n):
    from core.synth import make_video

    out = []
    for k in range(n):
        v = drain(make_video(tmp_path / f"new-{k}.avi", 8, np.random.default_rng(k)))
        out.append(str(v.path))
    return out


def _accept_as(split):
    def fake_exec(dlg):
        (dlg.test if split == "test" else dlg.train).setChecked(True)
        return QDialog.DialogCode.Accepted
    return fake_exec


def test_file_picker_takes_several_videos_into_the_chosen_set(qtbot, window, tmp_path,
                                                              monkeypatch):
    paths = _videos(tmp_path, 2)
    asked = {}

    def pick(parent, title, folder, flt):
        asked["filter"] = flt
        return paths, flt

    monkeypatch.setattr(QFileDialog, "getOpenFileNames", pick)
    monkeypatch.setattr(ImportDialog, "exec", _accept_as("test"))
    n_before = len(window.project.studies())
    window.import_actions["videos"].trigger()  # File > Import videos… (Ctrl+I)
    qtbot.waitUntil(lambda: len(window.project.studies()) == n_before + 2, timeout=60_000)
    qtbot.waitUntil(lambda: not window._import_job[0].is_running(), timeout=10_000)
    new = {s.name: s for s in window.project.studies()[n_before:]}
    assert set(new) == {"new-0", "new-1"}
    assert {s.split for s in new.values()} == {"test"}
    assert "*.avi" in asked["filter"] and "*.mp4" in asked["filter"]
    assert window.import_actions["videos"].shortcut().toString() == "Ctrl+I"
    ws = window.workspaces["frame_quality"]
    # the list follows once the last import's result has reached the GUI thread
    qtbot.waitUntil(lambda: sum("new-" in ws.study_list.item(i).text()
                                for i in range(ws.study_list.count())) == 2, timeout=10_000)
    qtbot.waitUntil(lambda: any("imported new-1 (test set)" in e[3]
                                for e in window.notices.entries()), timeout=10_000)


def test_frame_folder_has_its_own_entry(qtbot, window, tmp_path, monkeypatch):
    import cv2

    folder = tmp_path / "frames-of-a-video"
    folder.mkdir()
    for k in range(5):
        cv2.imwrite(str(folder / f"f{k:03d}.png"), np.full((40, 50, 3), 40 * k, np.uint8))
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))
    monkeypatch.setattr(QFileDialog, "getOpenFileNames",
                        lambda *a, **k: pytest.fail("the frame folder entry asked for files"))
    monkeypatch.setattr(ImportDialog, "exec", _accept_as("train"))
    n_before = len(window.project.studies())
    window.import_actions["frames"].trigger()
    qtbot.waitUntil(lambda: len(window.project.studies()) == n_before + 1, timeout=60_000)
    qtbot.waitUntil(lambda: not window._import_job[0].is_running(), timeout=10_000)
    study = window.project.studies()[-1]
    assert study.kind in ("frames", "folder") and study.n_frames == 5
    assert study.split == "train"


def test_one_bad_file_is_reported_and_the_others_imported(qtbot, window, tmp_path,
                                                          monkeypatch):
    good = _videos(tmp_path, 1)
    bad = tmp_path / "broken.avi"
    bad.write_bytes(b"\0" * 4096)
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: shown.append(a[2]))
    n_before = len(window.project.studies())
    window.import_study([str(bad), *good], split="train")
    qtbot.waitUntil(lambda: bool(shown), timeout=60_000)
    qtbot.waitUntil(lambda: not window._import_job[0].is_running(), timeout=10_000)
    assert len(window.project.studies()) == n_before + 1
    assert "broken.avi" in shown[0] and "new-0" not in shown[0]
    assert any("broken.avi" in e[3] and e[1] == "warning" for e in window.notices.entries())


def test_import_dialog_lists_choices_and_the_set(qtbot, tmp_path, monkeypatch):
    paths = [str(tmp_path / "clinic" / f"colonoscopy-{k}.mp4") for k in (7, 8, 9)]
    dlg = ImportDialog(paths, "videos", counts=(4, 1))
    qtbot.addWidget(dlg)
    assert dlg.paths() == paths and dlg.split() == "train"
    ok = dlg.buttons.button(dlg.buttons.StandardButton.Ok)
    assert ok.text() == "Import 3" and ok.isEnabled()
    dlg.test.setChecked(True)
    assert dlg.split() == "test"
    dlg.list.item(0).setSelected(True)
    dlg._remove_selected()
    assert dlg.paths() == paths[1:] and ok.text() == "Import 2"
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", lambda *a, **k: ([paths[0]], ""))
    dlg._add_more()
    dlg._add_more()  # the same file twice is listed once
    assert sorted(dlg.paths()) == sorted(paths)
    dlg.show()
    assert "Videos (" in video_filter()
