"""The workspace protocol: tabs from the registry; menus and help follow the current tab."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QLabel, QVBoxLayout

from app.main_window import MainWindow
from app.workspaces import (
    WORKSPACES,
    MenuAction,
    Workspace,
    register_workspace,
    unregister_workspace,
    workspace_classes,
)
from core.events import Scored
from core.store import Project

APP = Path(__file__).resolve().parents[2] / "app"


class DummyWorkspace(Workspace):
    """A task-less tab that counts what the window asks of it."""

    task_name = "dummy_test"
    title = "Dummy task"
    shortcuts = [("X", "poke the dummy"), ("Ctrl+Z", "undo a poke")]
    undo_noun = "poke"

    def __init__(self, project, parent=None) -> None:
        super().__init__(project, parent)
        QVBoxLayout(self).addWidget(QLabel("dummy"))
        self.pokes = 0
        self.undone = 0
        self.imported = 0
        self.exported = 0

    def poke(self) -> None:
        self.pokes += 1
        self.undo_state_changed.emit()

    def undo(self) -> None:
        self.undone += 1
        self.pokes -= 1

    def can_undo(self) -> bool:
        return self.pokes > 0

    def import_actions(self) -> list[MenuAction]:
        return [MenuAction("Import dummy things…", self._import, None, "dummy import")]

    def export_actions(self) -> list[MenuAction]:
        return [MenuAction("Export dummy things…", self._export)]

    def _import(self) -> None:
        self.imported += 1

    def _export(self) -> None:
        self.exported += 1


@pytest.fixture
def dummy_registered():
    register_workspace(DummyWorkspace)
    yield DummyWorkspace
    unregister_workspace(DummyWorkspace.task_name)


@pytest.fixture
def window(qtbot, demo_folder, tmp_path, monkeypatch, dummy_registered):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    project = Project.open(demo_folder)
    win = MainWindow(project)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.close()
    project.close()


def _file_action(window, text):
    file_menu = window.menuBar().actions()[0].menu()
    return next(a for a in file_menu.actions() if a.text() == text)


def test_registry_holds_frame_quality_and_refuses_clashes():
    assert WORKSPACES["frame_quality"].title == "Frame quality"
    assert workspace_classes()[0] is WORKSPACES["frame_quality"]

    class Clash(Workspace):
        task_name, title = "frame_quality", "Another"

    class Untitled(Workspace):
        task_name = "untitled"

    with pytest.raises(ValueError, match="already has the workspace"):
        register_workspace(Clash)
    with pytest.raises(ValueError, match="title"):
        register_workspace(Untitled)
    assert WORKSPACES["frame_quality"] is not Clash and "untitled" not in WORKSPACES


def test_tabs_are_built_from_the_registry(window):
    titles = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert titles == [cls.title for cls in workspace_classes()]
    assert titles[0] == "Frame quality" and titles[-1] == "Dummy task"
    assert isinstance(window.workspaces["dummy_test"], DummyWorkspace)
    assert window.tabs.indexOf(window.workspaces["dummy_test"]) == len(titles) - 1
    # only a workspace with a training panel gets a training controller
    assert set(window.controllers) == {"frame_quality", "polyps", "emboli", "cimt"}
    assert window.controller is window.controllers["frame_quality"]
    window.tabs.setCurrentWidget(window.workspaces["dummy_test"])
    assert window.controller is None


def test_edit_menu_routes_to_the_current_workspace(window):
    fq, dummy = window.workspaces["frame_quality"], window.workspaces["dummy_test"]
    assert window.undo_action.text() == "&Undo label"
    assert not window.undo_action.isEnabled()  # nothing labelled in this window yet
    window.tabs.setCurrentWidget(dummy)
    assert window.undo_action.text() == "&Undo poke"
    assert not window.undo_action.isEnabled()
    dummy.poke()
    assert window.undo_action.isEnabled()
    window.undo_action.trigger()
    assert (dummy.undone, dummy.pokes) == (1, 0)
    assert not window.undo_action.isEnabled()

    # back on frame quality, Undo undoes a label and leaves the dummy alone
    window.tabs.setCurrentWidget(fq)
    f = next(f for f in range(fq.n_frames) if f not in fq._labels)
    fq.show_frame(f)
    fq.set_label("informative")
    assert window.undo_action.isEnabled() and not window.redo_action.isEnabled()
    window.undo_action.trigger()
    assert window.project.label(fq.study.id, f) is None
    assert dummy.undone == 1
    assert window.redo_action.isEnabled()
    window.redo_action.trigger()
    assert window.project.label(fq.study.id, f).value == "informative"
    fq.history.undo()  # leave the shared demo project as it was
    assert window.project.label(fq.study.id, f) is None


def test_file_menu_shows_the_current_workspace_entries(window):
    # study imports are the window's, for every tab; the rest are the workspace's
    videos = _file_action(window, "Import &videos…")
    frames = _file_action(window, "Import &frame folder…")
    fq_labels = _file_action(window, "Export labels (CSV)…")
    dummy_import = _file_action(window, "Import dummy things…")
    dummy_export = _file_action(window, "Export dummy things…")
    weights = _file_action(window, "Import pretrained &weights…")
    assert videos.isVisible() and frames.isVisible()
    assert fq_labels.isVisible() and weights.isVisible()
    assert not dummy_import.isVisible() and not dummy_export.isVisible()
    assert videos.shortcut().toString() == "Ctrl+I"
    texts = [a.text() for a in window.menuBar().actions()[0].menu().actions()]
    assert "Import &video or frame folder…" not in texts  # one Ctrl+I only
    assert sum(a.shortcut().toString() == "Ctrl+I"
               for a in window.menuBar().actions()[0].menu().actions()) == 1

    dummy = window.workspaces["dummy_test"]
    window.tabs.setCurrentWidget(dummy)
    assert dummy_import.isVisible() and dummy_export.isVisible() and weights.isVisible()
    assert videos.isVisible() and not fq_labels.isVisible()
    assert dummy_import.statusTip() == "dummy import"
    dummy_import.trigger()
    dummy_export.trigger()
    assert (dummy.imported, dummy.exported) == (1, 1)


def test_help_sheet_follows_the_tab(window):
    fq = window.workspaces["frame_quality"]
    assert window.help.shortcuts() == fq.shortcuts
    assert ("I", "label frame informative") in window.help.shortcuts()
    window.tabs.setCurrentWidget(window.workspaces["dummy_test"])
    assert window.help.shortcuts() == DummyWorkspace.shortcuts
    window.help.open()
    assert window.help.isVisible()
    window.tabs.setCurrentWidget(fq)
    assert window.help.shortcuts() == fq.shortcuts


def test_frame_quality_protocol_methods(window):
    fq = window.workspaces["frame_quality"]
    assert fq.preview_study_id() == fq.study.id
    opts = fq.task_options()["config"]
    fq.training.crops.setValue(3)
    assert fq.task_options()["config"].crops_per_frame == 3 and opts.crops_per_frame == 16
    assert fq.result_view() is fq.training.roc
    # N x C class probabilities: the strip shows the informative column
    items = np.array([0, 2, 4])
    probs = np.array([[0.9, 0.1], [0.3, 0.7], [0.5, 0.5]])
    fq.show_prediction(Scored(name="strip", items=items, probs=probs, epoch=0))
    assert fq.strip.probability_at(2) == pytest.approx(0.7, abs=0.01)
    assert fq.strip.probability_at(0) == pytest.approx(0.1, abs=0.01)
    assert fq.strip.probability_at(4) == pytest.approx(0.5, abs=0.01)


def test_window_and_controller_import_no_task_module():
    """The main window and the training parts know workspaces only through the protocol."""
    for rel in ("main_window.py", "training_controller.py", "widgets/training_panel.py"):
        tree = ast.parse((APP / rel).read_text())
        names = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        names += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        assert not [m for m in names if "frame_quality" in m or "core.tasks" in m], rel


def test_window_says_when_it_upgraded_a_first_release_project(qtbot, tmp_path):
    import sqlite3

    from app.main_window import MainWindow
    from core.store import DB_NAME, Project, schema

    folder = tmp_path / "old"
    folder.mkdir()
    con = sqlite3.connect(folder / DB_NAME)
    for stmt in schema.statements(schema.SCHEMA_1_SQL):
        con.execute(stmt)
    con.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    con.commit()
    con.close()
    project = Project.open(folder)
    win = MainWindow(project)
    qtbot.addWidget(win)
    text = win.statusBar().currentMessage()
    assert "upgraded from schema 1" in text and ".bak" in text
    win.close()


def test_patient_of_a_video_set_from_the_list_keeps_its_videos_together(
        qtbot, demo_folder, tmp_path, monkeypatch):
    import shutil

    from PySide6.QtWidgets import QInputDialog, QMessageBox

    folder = tmp_path / "copy"
    shutil.copytree(demo_folder, folder)
    project = Project.open(folder)
    win = MainWindow(project)
    qtbot.addWidget(win)
    fq = win.workspaces["frame_quality"]
    a, b, c = [s for s in project.studies("frame_quality") if s.split == "train"][:3]
    answers = iter([("pat-1", True), ("pat-1", True), ("pat-1", True)])
    monkeypatch.setattr(QInputDialog, "getText", lambda *args, **kw: next(answers))
    warnings = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *args: warnings.append(args[2]))
    assert fq.ask_subject(a.id) and fq.ask_subject(b.id)
    assert project.study(a.id).subject_id == project.study(b.id).subject_id
    assert "patient pat-1" in fq.study_list.item(0).text()
    fq.set_split(a.id, "test")
    assert project.study(b.id).split == "test" and project.study(c.id).split == "train"
    assert "patient's 2 videos" in win.statusBar().currentMessage()
    assert not fq.ask_subject(c.id)  # pat-1 is in the test set, c in training: refused
    assert warnings and "never on both sides" in warnings[0]
    assert project.study(c.id).subject != "pat-1"
    win.close()
    project.close()
