"""Projects from the window (issue 6 item 6): new, open, recent, refusals, the empty hint."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from PySide6.QtWidgets import QDialog, QFileDialog, QMessageBox

from app.dialogs import projects
from app.dialogs.projects import NewProjectDialog, check_place
from core.store import DB_NAME, Project


def test_places_are_checked_before_anything_is_made(tmp_path, demo_folder):
    f = tmp_path / "a-file.txt"
    f.write_text("x")
    assert not check_place(f).ok and "is a file" in check_place(f).message
    assert not check_place("/").ok and "top of the drive" in check_place("/").message
    assert not check_place(Path.home()).ok
    assert check_place(demo_folder).is_project
    assert not check_place(demo_folder / "snapshots").ok  # inside a project
    full = tmp_path / "papers"
    full.mkdir()
    (full / "notes.docx").write_text("x")
    place = check_place(full)
    assert place.ok and place.confirm and not place.is_project and "1 other item" in place.message
    empty = tmp_path / "empty"
    empty.mkdir()
    assert check_place(empty).ok and not check_place(empty).confirm
    assert check_place(tmp_path / "new" / "deeper").ok
    assert not (tmp_path / "new").exists()  # checking makes nothing


def test_an_unwritable_folder_is_refused(tmp_path, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    if os.geteuid() == 0:  # root writes anywhere: deny this one folder as a user is denied
        real = os.access
        monkeypatch.setattr(projects.os, "access",
                            lambda p, mode: False if Path(p) == locked else real(p, mode))
    try:
        assert not check_place(locked).ok and "cannot write" in check_place(locked).message
        assert not check_place(locked / "child").ok
    finally:
        locked.chmod(0o700)


def test_new_project_dialog_names_the_folder_and_refuses_bad_places(qtbot, tmp_path):
    dlg = NewProjectDialog()
    qtbot.addWidget(dlg)
    ok = dlg.buttons.button(dlg.buttons.StandardButton.Ok)
    dlg.place.setText(str(tmp_path))
    dlg.name.setText("")
    assert not ok.isEnabled()
    dlg.name.setText("a/b")
    assert not ok.isEnabled() and "no slashes" in dlg.verdict.text()
    dlg.name.setText("colonoscopy-2016")
    assert ok.isEnabled() and dlg.folder() == tmp_path / "colonoscopy-2016"
    assert "new folder" in dlg.verdict.text()
    dlg.place.setText("/")
    dlg.name.setText("x")  # /x: the root is not writable for a user; refused either way
    if not os.access("/", os.W_OK):
        assert not ok.isEnabled()
    dlg.place.setText(str(tmp_path))
    dlg.name.setText("colonoscopy-2016")
    dlg.show()


@pytest.fixture
def window(window_on, demo_folder):
    return window_on(demo_folder)


def test_new_project_opens_an_empty_project_with_the_hint(qtbot, window, tmp_path, monkeypatch):
    def fill(dlg):
        dlg.place.setText(str(tmp_path / "studies"))
        dlg.name.setText("first")
        dlg.accept()
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(NewProjectDialog, "exec", fill)
    assert not window.hint.isVisibleTo(window)  # the demo has videos
    window.new_project()
    new = window._next
    qtbot.addWidget(new)
    assert new.project.folder == tmp_path / "studies" / "first"
    assert (tmp_path / "studies" / "first" / DB_NAME).is_file()
    assert new.hint.isVisibleTo(new) and "Ctrl+I" in new.hint.label.text()
    # each task's tab says what to import there, with its own button
    new.tabs.setCurrentWidget(new.workspaces["emboli"])
    assert "DICOM folder" in new.hint.label.text() and new.hint.other.isVisibleTo(new)
    assert not any(b.isVisibleTo(new) for b in new.hint.video_buttons)
    new.tabs.setCurrentWidget(new.workspaces["frame_quality"])
    assert "Ctrl+I" in new.hint.label.text() and not new.hint.other.isVisibleTo(new)
    assert projects.recent_projects()[0] == tmp_path / "studies" / "first"
    assert projects.recent_projects()[1] == window.project.folder.absolute()


def test_open_project_confirms_before_adopting_a_folder_and_refuses_the_root(
        qtbot, window, tmp_path, monkeypatch):
    full = tmp_path / "papers"
    full.mkdir()
    (full / "notes.docx").write_text("x")
    chosen = iter([str(full), str(full), "/"])
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: next(chosen))
    answers = iter([QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes])
    asked = []

    def question(parent, title, text, *a, **k):
        asked.append(text)
        return next(answers)

    monkeypatch.setattr(QMessageBox, "question", question)
    warned = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: warned.append(a[2]))
    window.open_project()  # No: nothing is made
    assert "not a LayerTune project" in asked[0] and not (full / DB_NAME).exists()
    assert getattr(window, "_next", None) is None
    window.open_project()  # Yes: the folder becomes a project, its file untouched
    assert (full / DB_NAME).is_file() and (full / "notes.docx").read_text() == "x"
    nxt = window._next
    qtbot.addWidget(nxt)
    nxt.open_project()  # "/" is refused with a message, nothing made there
    assert warned and "top of the drive" in warned[0]
    assert not Path("/", DB_NAME).exists()
    assert getattr(nxt, "_next", None) is None


def test_recent_projects_menu_lists_the_projects_opened(qtbot, window, tmp_path):
    other = tmp_path / "other"
    Project.create(other).close()
    projects.remember_project(other)
    projects.remember_project(window.project.folder)
    window.fill_recent_menu()
    texts = [a.text() for a in window.recent_menu.actions()]
    assert texts[0] == str(window.project.folder.absolute()) and texts[1] == str(other)
    assert not window.recent_menu.actions()[0].isEnabled()  # the open one
    assert window.recent_menu.actions()[1].isEnabled()
    shutil.rmtree(other)
    window.fill_recent_menu()
    assert "(moved or deleted)" in window.recent_menu.actions()[1].text()


def test_start_up_refuses_an_unsuitable_project_argument(qtbot, tmp_path, monkeypatch):
    from app.gui import choose_project_at_start

    warned = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: warned.append(a[2]))
    f = tmp_path / "clip.avi"
    f.write_bytes(b"x")
    assert choose_project_at_start(str(f)) is None
    assert warned and "is a file" in warned[0]
