"""After a run (issue 6 items 3, 9, 11, 12, 13): every video scored, evaluate without a
test video, notices kept, the session remembered, a run history, the wording."""

from __future__ import annotations

import shutil

import pytest
from PySide6.QtWidgets import QInputDialog, QMessageBox

from app.main_window import MainWindow
from app.study_scoring import scoring_order
from core.events import Notice, drain
from core.store import Project


@pytest.fixture(scope="module")
def trained_folder(demo_folder, tmp_path_factory):
    """A copy of the demo with one finished 2-epoch scratch run (no preview scored)."""
    from core.jobs import train_run
    from core.tasks.frame_quality import FrameTaskConfig
    from core.train.engine import TrainConfig

    folder = tmp_path_factory.mktemp("trained") / "proj"
    shutil.copytree(demo_folder, folder)
    with Project.open(folder) as p:
        opts = {"config": FrameTaskConfig(crops_per_frame=1, test_crops=1)}
        drain(train_run(p, TrainConfig(depth="scratch", epochs=2, patience=5, device="cpu"),
                        task_options=opts))
    return folder


@pytest.fixture
def window(window_on, trained_folder):
    return window_on(trained_folder)


def _fq(win):
    return win.workspaces["frame_quality"]


# ------------------------------------------------------------------ item 3
def test_every_video_is_scored_after_a_run_open_one_first(qtbot, window):
    ws, project = _fq(window), window.project
    run_id = project.runs()[-1].id
    ids = [s.id for s in project.studies("frame_quality")]
    assert all(ws.strip.probability_at(f) is None for f in range(ws.n_frames))
    order = scoring_order(project, run_id, ws.owns_task, ws.study.id)
    rest = sorted((i for i in ids if i != ws.study.id), reverse=True)
    assert order == [ws.study.id, *rest]  # the open video, then the newest first
    seen, done = [], []
    window.scorer.scored.connect(lambda r, s, p: seen.append(s))
    window.scorer.finished.connect(lambda r, n, c: done.append((r, n, c)))
    window.controllers["frame_quality"].run_finished.emit(run_id)  # as when a run ends
    qtbot.waitUntil(lambda: bool(done), timeout=120_000)
    assert seen == order and done == [(run_id, len(ids), False)]
    for sid in ids:
        assert project.predictions(run_id, split="preview", study_id=sid), sid
    assert sum(ws.strip.probability_at(f) is not None for f in range(ws.n_frames)) > 5
    test = next(s for s in project.studies("frame_quality") if s.split == "test")
    ws.open_study(test.id)  # the test video has its strip too (shown when reviewing)
    if hasattr(ws, "review_test"):  # item 28 hides the model on test videos by default
        ws.review_test.setChecked(True)
    assert sum(ws.strip.probability_at(f) is not None for f in range(ws.n_frames)) > 5
    assert scoring_order(project, run_id, ws.owns_task, ws.study.id) == []  # nothing left


def test_scoring_can_be_cancelled(qtbot, window):
    run_id = window.project.runs()[-1].id
    done = []
    window.scorer.finished.connect(lambda r, n, c: done.append((n, c)))
    window.score_all(_fq(window), run_id)
    assert window.scoring_cancel.isVisibleTo(window)
    window.cancel_jobs()  # Training > Cancel (Esc) stops scoring when nothing trains
    qtbot.waitUntil(lambda: bool(done), timeout=60_000)
    n, cancelled = done[0]
    assert cancelled and n < len(window.project.studies("frame_quality"))
    assert not window.scoring_cancel.isVisibleTo(window)


# ------------------------------------------------------------------ item 9
def _click(text):
    def fake_exec(box):
        next(b for b in box.buttons() if b.text() == text).click()
        return 0
    return fake_exec


def test_evaluate_without_a_test_video_offers_to_move_one_and_keeps_the_curves(
        qtbot, window, monkeypatch):
    project, ws = window.project, _fq(window)
    for s in project.studies("frame_quality"):
        if s.split == "test":
            project.set_split(s.id, "train")
    ws.reload()
    panel = ws.training
    n_val = panel.curves.n_validations()
    assert n_val == 2  # restored from the run's record (item 12)
    monkeypatch.setattr(QMessageBox, "exec", _click("Move a video to the test set…"))
    offered = []

    def pick(parent, title, label, items, *a, **k):  # first a seen video, then an unseen one
        offered.append(list(items))
        seen = len(offered) == 1
        return next(r for r in items if ("trained on it" in r) == seen), True

    monkeypatch.setattr(QInputDialog, "getItem", pick)
    infos = []
    monkeypatch.setattr(QMessageBox, "information", lambda *a, **k: infos.append(a[2]))
    window.evaluate_action.trigger()
    rows = offered[0]
    # the videos the run never saw are offered first; the others are marked
    flags = ["(run 1 trained on it)" in r for r in rows]
    assert not flags[0] and any(flags) and flags == sorted(flags)
    # choosing one the run trained on: moved, and told to train again; no evaluation
    moved = [s for s in project.studies("frame_quality") if s.split == "test"]
    chosen = next(r for r in rows if "trained on it" in r)
    assert len(moved) == 1 and chosen.startswith(moved[0].name + " ")
    assert infos and "train a new run" in infos[0]
    assert not window.controller.is_running()
    assert panel.curves.n_validations() == n_val  # never cleared
    assert any(f"{moved[0].name}  [test]" in ws.study_list.item(i).text()
               for i in range(ws.study_list.count()))
    project.set_split(moved[0].id, "train")
    ws.reload()
    # choosing the one it never saw: evaluated at once, the curves stay
    window.evaluate_action.trigger()
    qtbot.waitUntil(lambda: "Test AUC" in panel.result.text(), timeout=120_000)
    qtbot.waitUntil(lambda: not window.controller.is_running(), timeout=10_000)
    assert panel.curves.n_validations() == n_val
    assert panel.roc.verdict_lines and "one video" in " ".join(panel.roc.verdict_lines)
    window.scorer.cancel()
    qtbot.waitUntil(lambda: not window.scorer.is_running(), timeout=60_000)


def test_a_failed_evaluation_keeps_the_curves(qtbot, window, monkeypatch):
    project, panel = window.project, _fq(window).training
    run = project.runs()[-1]
    (project.folder / run.best_snapshot).unlink()  # the model file is gone
    warned = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: warned.append(a[2]))
    n_val = panel.curves.n_validations()
    window.evaluate()
    qtbot.waitUntil(lambda: not window.controller.is_running() and bool(warned),
                    timeout=60_000)
    assert panel.curves.n_validations() == n_val == 2
    assert "evaluation stopped" in panel.status.text()
    assert any(e[1] == "warning" and "evaluation stopped" in e[3]
               for e in window.notices.entries())


# ------------------------------------------------------------------ item 11
def test_notices_are_kept_with_their_time(qtbot, window):
    ws = _fq(window)
    ws.message.emit("only one training video: the validation set is cut from it")
    window.controller._on_event(Notice("the GPU is busy; running on the CPU", "warning"))
    ws.message.emit("moved the patient's 2 videos to the test set")
    # the status bar moved on; the list still holds both, newest first on screen
    assert "moved the patient" in window.statusBar().currentMessage()
    entries = window.notices.entries()
    assert [e[3] for e in entries[-3:]] == [
        "only one training video: the validation set is cut from it",
        "the GPU is busy; running on the CPU",
        "moved the patient's 2 videos to the test set"]
    assert entries[-2][1] == "warning" and entries[-1][2] == "Frame quality"
    assert all(len(e[0]) == 8 and e[0][2] == ":" for e in entries)  # HH:MM:SS
    assert window.notices.tree.topLevelItem(0).text(3).startswith("moved the patient")
    assert "1 warning" in window.notices_button.text()
    window.notices_action.trigger()
    assert window.notices_dock.isVisible()
    window.notices_dock.resize(760, 200)


# ------------------------------------------------------------------ item 12
def test_session_choices_and_last_run_come_back(qtbot, trained_folder, tmp_path):
    folder = tmp_path / "proj"
    shutil.copytree(trained_folder, folder)
    project = Project.open(folder)
    win = MainWindow(project)
    qtbot.addWidget(win)
    panel = _fq(win).training
    history = project.runs()[-1].metrics["history"]
    assert panel.curves.n_validations() == len(history) == 2  # the last run's curves
    assert "run 1" in panel.curves.title()
    panel.epochs.setValue(7)
    panel.crops.setValue(5)
    panel.depth_stack.set_depth("conv5")
    win.close()
    project.close()
    project = Project.open(folder)
    win = MainWindow(project)
    qtbot.addWidget(win)
    panel = _fq(win).training
    assert (panel.epochs.value(), panel.crops.value(), panel.depth_stack.depth()) == \
        (7, 5, "conv5")
    assert panel.curves.n_validations() == 2
    win.close()
    project.close()


def test_run_history_lists_runs_and_shows_one_again(qtbot, window):
    from core.events import drain
    from core.jobs import evaluate_run

    project = window.project
    drain(evaluate_run(project, 1))
    window.show_run_history()
    dlg = window.history_dialog
    qtbot.addWidget(dlg)
    row = dlg.row_texts(0)
    run = project.run(1)
    assert row["run"] == "1" and row["depth"] == "scratch" and row["init"] == "scratch"
    assert row["val_auc"] == f"{run.best_auc:.3f}" and row["epochs"] == "2 / 2"
    assert row["test_auc"].startswith(f"{run.metrics['test']['auc']:.3f} (")
    assert row["crops"] == "1" and "cpu" in row["device"] and row["time"] != "–"
    panel = _fq(window).training
    panel.curves.clear()
    window.controller.last_run_id = None
    done = []
    window.scorer.finished.connect(lambda r, n, c: done.append(n))
    dlg.show_button.click()  # show run 1 again
    assert window.controller.last_run_id == 1 and panel.curves.n_validations() == 2
    assert "Test AUC" in panel.result.text()  # its stored test result
    qtbot.waitUntil(lambda: bool(done), timeout=120_000)  # its predictions on every video
    ws = _fq(window)
    assert sum(ws.strip.probability_at(f) is not None for f in range(ws.n_frames)) > 5


# ------------------------------------------------------------------ item 13
def test_wording_of_run_messages_and_menus(qtbot, window):
    from app.session import finish_text
    from core.jobs import RunStarted

    said = []
    window.controller.message.connect(said.append)
    window.controller._on_event(RunStarted(5, "scratch", "none (scratch)"))
    assert said == ["run 5 started from scratch (no pretrained weights)"]

    class R:
        best_auc, best_epoch, epochs_run, stopped = 0.9123, 1, 2, "epochs"

    text = finish_text(3, R)
    assert text == ("finished run 3: best validation AUC 0.912 at epoch 2 of 2 (all 2 epochs "
                    "run)")
    curves = _fq(window).training.curves
    assert "epoch 2" in curves.best_title() or "epoch 1" in curves.best_title()
    best_epoch = curves.best()[1]
    assert f"epoch {best_epoch + 1}" in curves.best_title()  # the same count as the message
    menus = {a.text(): a.menu() for a in window.menuBar().actions()}
    training = [a.text() for a in menus["&Training"].actions() if a.text()]
    assert training[:3] == ["&Train", "&Evaluate on test videos", "&Cancel"]
    helps = [a.text() for a in menus["&Help"].actions()]
    assert sum("Keyboard shortcuts" in t for t in helps) == 1
    keys = {s.toString() for s in window.help_action.shortcuts()}
    assert keys == {"F1", "?"}


def test_progress_text_fits_the_bar(qtbot):
    from app.widgets.training_panel import TrainingPanelWidget
    from core.events import BatchEnd, Progress

    panel = TrainingPanelWidget()
    qtbot.addWidget(panel)
    panel.resize(panel.minimumSizeHint())
    panel.show()
    panel.set_running(True)
    panel.show_event((BatchEnd(11, 12345, 0.5, 0.001, 800.0, 12345, 99999, 5000.0),))
    bar = panel.progress
    assert bar.fontMetrics().horizontalAdvance(bar.text()) < bar.width() - 8
    assert "99999" in panel.detail.text() and "left" in panel.detail.text()
    panel.show_event(Progress("preparing patches", 120, 4000, "video colonoscopy-12"))
    assert bar.fontMetrics().horizontalAdvance(bar.text()) < bar.width() - 8


def test_demo_dialog_never_shows_the_synthesiser_notes():
    from app.gui import demo_progress_text
    from core.events import Progress

    text = demo_progress_text(Progress("synth", 3, 36, "none"))
    assert "none" not in text and "3 of 36" in text


def test_ffmpeg_warnings_stay_out_of_the_terminal(tmp_path):
    import os
    import subprocess
    import sys

    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\0\1\2" * 2000)
    code = f"import core, cv2; c = cv2.VideoCapture({str(bad)!r}); print(c.isOpened())"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCV_")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, env=env)
    assert out.stdout.strip() == "False"
    assert out.stderr.strip() == "", out.stderr
