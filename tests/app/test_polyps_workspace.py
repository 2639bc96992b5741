"""The Polyps workspace as a user drives it: boxes on the frame, accept/reject keys,
brush edits with undo, live scores after training, the review queue, the FROC."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from core.events import Scored
from core.tasks.polyps.truth import decision_for, study_truth


@pytest.fixture
def polyps(window_on, demo_folder, qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))  # no weights here
    win = window_on(demo_folder)
    ws = win.workspaces["polyps"]
    win.tabs.setCurrentWidget(ws)
    qtbot.waitExposed(win)
    ws.canvas.setFocus()
    yield win, ws
    for c in win.controllers.values():  # nothing may outlive the test (a QThread would abort)
        c.shutdown(30000)
    win.scorer.shutdown(30000)
    ws.shutdown_jobs(30000)


def _frame_with_candidates(ws) -> int:
    return next(f for f in sorted(ws._cands) if ws._cands[f])


def test_candidates_drawn_and_decided_by_key_with_undo(qtbot, polyps):
    win, ws = polyps
    assert ws.study is not None and ws.study.task == "polyps"
    f = _frame_with_candidates(ws)
    ws.show_frame(f)
    ids = [c.id for c in ws._cands[f]]
    strongest = sorted(ws._cands[f], key=lambda c: -c.params["strength"])[:10]
    assert set(ws.canvas.candidate_ids()) == {c.id for c in strongest}  # the 10 strongest
    ws.boxes_shown.setValue(0)
    assert ws.canvas.candidate_ids() == ids  # all: one box per candidate
    first = ws._cands[f][0]
    ws.canvas.select_candidate(first.id)
    qtbot.keyClick(ws.canvas, Qt.Key.Key_R)
    truth = study_truth(win.project, ws.study.id, f).get(f)
    assert decision_for(truth, first.center, first.extent)[1] == "not polyp"
    assert ws.canvas.candidate_item(first.id).state == "rejected"
    if len(ids) > 1:  # the next undecided candidate is selected
        assert ws.canvas.selected_candidate == ids[1]
    ws.canvas.select_candidate(first.id)
    qtbot.keyClick(ws.canvas, Qt.Key.Key_A)  # change of mind: one more step
    assert ws.canvas.candidate_item(first.id).state == "accepted"
    win.undo_action.trigger()
    assert ws.canvas.candidate_item(first.id).state == "rejected"
    win.undo_action.trigger()
    assert ws.canvas.candidate_item(first.id).state == "pending"
    truth = study_truth(win.project, ws.study.id, f).get(f)
    assert decision_for(truth, first.center, first.extent) is None
    win.redo_action.trigger()
    assert ws.canvas.candidate_item(first.id).state == "rejected"


def test_brush_edit_is_stored_and_undone(qtbot, polyps):
    win, ws = polyps
    f = next(fr for fr in range(ws.n_frames) if fr not in ws._truth)  # a frame without mask
    ws.show_frame(f)
    ws.set_tool("brush")
    ws.canvas.set_brush_size(9)
    pos = ws.canvas.viewport_point(40, 60).toPoint()
    qtbot.mousePress(ws.canvas.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    qtbot.mouseRelease(ws.canvas.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    [ann] = win.project.annotations(ws.study.id, kind="mask", frame=f)
    assert ann.geometry.array[40, 60] and ann.geometry.array.sum() > 20
    assert ws._truth[f].components[1] == 1
    win.undo_action.trigger()
    assert win.project.annotations(ws.study.id, kind="mask", frame=f) == []
    assert ws.canvas.mask() is None or not ws.canvas.mask().any()
    qtbot.keyClick(ws.canvas, Qt.Key.Key_0)  # "no polyp on this frame": an empty mask
    [ann] = win.project.annotations(ws.study.id, kind="mask", frame=f)
    assert not ann.geometry.array.any()


def test_scores_update_and_review_queue_orders_by_doubt(qtbot, polyps):
    win, ws = polyps
    ids = [c.id for cs in ws._cands.values() for c in cs]
    rng = np.random.default_rng(0)
    p = rng.random(len(ids))
    ws.show_prediction(Scored("strip", np.array(ids), np.c_[1 - p, p], 0))
    f = _frame_with_candidates(ws)
    ws.show_frame(f)
    shown = ws.frame_candidates()  # the 10 highest scores of the frame
    top = sorted(ws._cands[f], key=lambda c: -p[ids.index(c.id)])[:10]
    assert {c.id for c in shown} == {c.id for c in top}
    c = shown[0]
    assert ws.canvas.candidate_item(c.id).score == pytest.approx(p[ids.index(c.id)])
    order = ws.review_order()
    doubt = [abs(s - 0.5) for _, _, s in order]
    assert doubt == sorted(doubt) and ws.queue.count() == min(len(order), 200)
    qtbot.keyClick(ws.canvas, Qt.Key.Key_Q)
    assert (ws.frame, ws.canvas.selected_candidate) == order[0][:2]


def test_training_epoch_updates_scores_then_froc(qtbot, polyps):
    win, ws = polyps
    panel = ws.training
    panel.depth_stack.set_depth("scratch")
    panel.epochs.setValue(1)
    panel.crops.setValue(1)
    panel.device.setCurrentIndex(panel.device.findData("cpu"))
    f = _frame_with_candidates(ws)
    ws.show_frame(f)
    assert all(ws.canvas.candidate_item(c.id).score is None for c in ws.frame_candidates())
    panel.train_button.click()
    ctrl = win.controllers["polyps"]
    qtbot.waitUntil(lambda: not ctrl.is_running() and not panel.is_running(), timeout=300_000)
    assert "finished run" in panel.status.text(), panel.status.text()
    # the best snapshot's scores are on the boxes of the open video
    assert all(ws.canvas.candidate_item(c.id).score is not None
               for c in ws.frame_candidates())
    assert ws.queue.count() > 0
    panel.evaluate_button.click()
    qtbot.waitUntil(lambda: "CPM" in panel.result.text(), timeout=300_000)
    assert panel.plots.currentWidget() is ws.froc
    qtbot.waitUntil(lambda: not ctrl.is_running(), timeout=10_000)
    run = win.project.runs("polyps")[-1]
    assert "cpm" in run.metrics["test"]
    out = ws.froc.export(win.project.folder / "froc.csv")
    assert out.read_text().startswith("kind,fp_rate")
