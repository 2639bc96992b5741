"""The experiments board's flip review and disagreement queue on candidate tasks (polyps,
emboli): rows name the frame / plane and the candidate, A / R store the candidate's
decision as its workspace does (undoable there), Enter opens the study at the candidate
with it selected, and the queue leaves decided candidates out.

Runs are recorded in the demo project with made-up preview scores of the real stored
candidates (no network is trained); every read and write goes through the real SQLite
project.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.experiments.review_data import find_flips, rank_disagreement, study_candidates
from core.tasks.emboli.truth import ACCEPT as EMBOLUS
from core.tasks.emboli.truth import REJECT as NOT_EMBOLUS
from core.tasks.polyps.truth import ACCEPT as POLYP
from core.tasks.polyps.truth import REJECT as NOT_POLYP
from core.tasks.polyps.truth import decision_for, study_truth


def make_run(project, task, depth, scores: dict[int, dict[int, float]]):
    """A finished run of ``task`` with a (fake) model whose preview predictions are
    ``scores`` ({study: {candidate id: positive-class probability}})."""
    run = project.start_run(task, depth, {"epochs": 1})
    for sid, per in scores.items():
        ids = np.array(sorted(per), np.int64)
        p = np.array([per[i] for i in ids])
        project.put_predictions(run.id, "preview", sid, "candidate", ids, np.c_[1 - p, p])
    snap = project.folder / f"fake-{run.id}.pt"
    snap.write_bytes(b"")
    project.finish_run(run.id, "finished", best_auc=0.8, best_snapshot=snap,
                       metrics={"threshold": {"value": 0.5}})
    return project.run(run.id)


def _close(win, *workspaces):
    for c in win.controllers.values():  # nothing may outlive the test (a QThread would abort)
        c.shutdown(30000)
    win.scorer.shutdown(30000)
    for ws in workspaces:
        assert ws.shutdown_jobs(30000)


@pytest.fixture
def polyps(window_on, demo_folder, qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    win = window_on(demo_folder)
    ws = win.workspaces["polyps"]
    win.tabs.setCurrentWidget(ws)
    yield win, ws
    _close(win, ws)


def _polyp_flips(project, ws):
    """Two runs: on the open study's first four candidates and the other study's first
    two, the new model says "not polyp" where the old said "polyp" for the first of each
    pair and the reverse for the second; two more candidates do not flip."""
    studies = [s for s in project.studies() if ws.owns_task(s.task)]
    open_id = ws.study.id
    other = next(s.id for s in studies if s.id != open_id)
    before, after = {}, {}
    for sid, n in ((open_id, 6), (other, 2)):
        cands = project.candidates(sid, generator="polyp-vote")[:n]
        assert len(cands) == n
        for k, c in enumerate(cands):
            flip = k < 4 if sid == open_id else True
            pb = 0.9 - 0.01 * k if k % 2 == 0 else 0.1 + 0.01 * k
            pa = (1 - pb) if flip else pb
            before.setdefault(sid, {})[c.id] = pb
            after.setdefault(sid, {})[c.id] = pa
    a = make_run(project, "polyps", "fc8", before)
    b = make_run(project, "polyps", "fc7", after)
    return a, b, open_id, other


def _decision(project, sid, cid):
    c = next(c for c in project.candidates(sid) if c.id == cid)
    truth = study_truth(project, sid, c.frame).get(c.frame)
    d = decision_for(truth, c.center, c.extent)
    return None if d is None else d[1]


def test_polyp_flips_are_decided_by_key_and_opened(qtbot, polyps):
    win, ws = polyps
    p = win.project
    a, b, open_id, other = _polyp_flips(p, ws)
    board = win.experiment_board(ws)
    flips = board.results.flips
    flips.reload_runs(a.id, b.id)
    assert len(flips.flips) == 6 and flips.list.count() == 6
    cands = {c.id: c for s in (open_id, other) for c in p.candidates(s)}
    for row, f in enumerate(flips.flips):
        c = cands[f.item]
        text = flips.list.item(row).text()
        assert f"frame {c.frame}, candidate {c.id}:" in text and "item" not in text
        assert ("now not polyp" in text) == (not f.positive_after)
        assert "your decision" not in text  # nothing decided yet
    assert "your decision" in flips.keys_help.text()

    flips.list.setFocus()
    flips.list.setCurrentRow(0)
    first = flips.flips[0]
    qtbot.keyClick(flips.list, Qt.Key.Key_A)  # accept the new decision
    accepted = POLYP if first.positive_after else NOT_POLYP
    assert _decision(p, first.study_id, first.item) == accepted
    assert flips.list.item(0).text().endswith(f"your decision: {accepted} ✓")
    assert flips.list.currentRow() == 1
    second = flips.flips[1]
    qtbot.keyClick(flips.list, Qt.Key.Key_R)  # keep the previous decision
    kept = NOT_POLYP if second.positive_after else POLYP
    assert _decision(p, second.study_id, second.item) == kept
    # one annotation per decision: a point at the candidate's centre on its frame
    points = [x for x in p.annotations(second.study_id, kind="point")
              if x.value in (POLYP, NOT_POLYP)]
    c2 = cands[second.item]
    assert any(x.frame == c2.frame and (x.geometry.row, x.geometry.col)
               == pytest.approx(c2.center) and x.value == kept for x in points)
    # and core's labels follow: the candidate is labelled by the decision
    from core.tasks import get_task

    items, _ = get_task("polyps").study_items(p, p.study(second.study_id))
    assert items.labels[list(items.indices).index(second.item)] == (kept == POLYP)

    # the workspace shows it and can undo it (the decision went through its history)
    ws.select_study(second.study_id)
    ws.boxes_shown.setValue(0)
    ws.go_to_candidate(c2.frame, c2.id)
    want = "accepted" if kept == POLYP else "rejected"
    assert ws.canvas.candidate_item(c2.id).state == want
    assert ws.can_undo()
    ws.undo()
    assert _decision(p, second.study_id, second.item) is None
    ws.redo()
    assert _decision(p, second.study_id, second.item) == kept

    # a decision made in the workspace reads as "your decision" after a refresh
    flips.refresh()
    assert flips.list.item(0).text().endswith(f"your decision: {accepted}")

    # changing one's mind changes the stored decision (one annotation, not two)
    flips.list.setCurrentRow(0)
    qtbot.keyClick(flips.list, Qt.Key.Key_R)
    other_way = NOT_POLYP if accepted == POLYP else POLYP
    assert _decision(p, first.study_id, first.item) == other_way
    assert sum(1 for x in p.annotations(first.study_id, kind="point")
               if x.frame == cands[first.item].frame
               and (x.geometry.row, x.geometry.col) == pytest.approx(
                   cands[first.item].center)) == 1

    # Enter opens the study at the candidate's frame with it selected
    ws.select_study(open_id if flips.flips[3].study_id != open_id else other)
    win.tabs.setCurrentIndex(0)
    flips.list.setCurrentRow(3)
    target = flips.flips[3]
    qtbot.keyClick(flips.list, Qt.Key.Key_Return)
    c = cands[target.item]
    assert ws.study.id == target.study_id and ws.frame == c.frame
    assert ws.canvas.selected_candidate == c.id
    assert win.tabs.currentWidget() is ws


def test_disagreement_queue_leaves_decided_candidates_out(qtbot, polyps):
    win, ws = polyps
    p = win.project
    a, b, open_id, other = _polyp_flips(p, ws)
    ranked = rank_disagreement(p, [a.id, b.id], unlabelled_only=True)
    keys = [(d.study_id, d.item) for d in ranked]
    flipped = [(f.study_id, f.item) for f in find_flips(p, a.id, b.id)]
    assert set(flipped) <= set(keys)
    # decide one in the workspace, as the expert would
    sid, cid = flipped[0]
    c = next(c for c in p.candidates(sid) if c.id == cid)
    ws.select_study(sid)
    ws.boxes_shown.setValue(0)
    ws.go_to_candidate(c.frame, cid)
    ws.decide(POLYP)
    assert study_candidates(p, "polyps", sid).decision(cid) == POLYP
    after = [(d.study_id, d.item) for d in rank_disagreement(p, [a.id, b.id])]
    assert (sid, cid) not in after and len(after) == len(keys) - 1
    every = rank_disagreement(p, [a.id, b.id], unlabelled_only=False)
    assert (sid, cid) in [(d.study_id, d.item) for d in every]

    board = win.experiment_board(ws)
    dq = board.results.disagreement
    dq.set_runs([a.id, b.id])
    assert dq.unlabelled.text() == "only candidates without a decision"
    assert [(d.study_id, d.item) for d in dq.rows] == after
    top = dq.rows[0]
    ct = next(c for c in p.candidates(top.study_id) if c.id == top.item)
    assert f"frame {ct.frame}, candidate {ct.id} · " in dq.list.item(0).text()
    dq.unlabelled.setChecked(False)
    assert (sid, cid) in [(d.study_id, d.item) for d in dq.rows]
    # Enter on a row opens it
    dq.list.setCurrentRow(0)
    dq._open(dq.list.item(0))
    assert ws.study.id == dq.rows[0].study_id
    assert ws.canvas.selected_candidate == dq.rows[0].item


def test_flip_widget_marks_a_decided_row_on_screen(qtbot, polyps, tmp_path):
    from app.experiments.flips import DONE

    win, ws = polyps
    a, b, _, _ = _polyp_flips(win.project, ws)
    board = win.experiment_board(ws)
    assert board.results.figure.fp_unit == "frame"  # the FROC's x axis: FPs per frame
    flips = board.results.flips
    flips.reload_runs(a.id, b.id)
    flips.list.setCurrentRow(0)
    qtbot.keyClick(flips.list, Qt.Key.Key_A)
    flips.resize(820, 320)
    flips.show()
    qtbot.waitExposed(flips)
    row = flips.list.item(0)
    assert row.text().endswith("✓") and "frame" in row.text() and "candidate" in row.text()
    assert row.background().color() == DONE
    assert flips.list.currentRow() == 1  # moved on to the next flip
    img = flips.grab()
    assert img.width() >= 820 and img.save(str(tmp_path / "flips_polyps.png"))


# ---------------------------------------------------------------------- emboli
@pytest.fixture
def emboli(window_on, demo_folder, qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    win = window_on(demo_folder)
    ws = win.workspaces["emboli"]
    win.tabs.setCurrentWidget(ws)
    qtbot.waitUntil(lambda: ws.volume is not None, timeout=60_000)
    yield win, ws
    _close(win, ws)


def test_emboli_flips_decided_and_opened_at_the_candidate(qtbot, emboli):
    win, ws = emboli
    p = win.project
    studies = [s for s in p.studies() if ws.owns_task(s.task)]
    open_id = ws.study.id
    other = next(s.id for s in studies if s.id != open_id)
    # candidates whose centre lies near a plane (a decision can be stored on it)
    near = {sid: [c for c in p.candidates(sid, generator="toboggan")
                  if abs(c.center[0] - round(c.center[0])) < 0.3][:3]
            for sid in (open_id, other)}
    assert all(len(v) == 3 for v in near.values())
    before = {sid: {c.id: 0.2 + 0.1 * k for k, c in enumerate(v)} for sid, v in near.items()}
    after = {sid: {cid: 1 - s for cid, s in per.items()} for sid, per in before.items()}
    a = make_run(p, "emboli", "fc8", before)
    b = make_run(p, "emboli", "fc6", after)
    board = win.experiment_board(ws)
    flips = board.results.flips
    flips.reload_runs(a.id, b.id)
    assert len(flips.flips) == 6
    cands = {c.id: c for v in near.values() for c in v}
    for row, f in enumerate(flips.flips):
        c = cands[f.item]
        assert (f"candidate {c.id} at plane {c.center[0] + 1:.0f}:"
                in flips.list.item(row).text())

    # A on a candidate of the open study: the workspace shows the decision at once
    row = next(k for k, f in enumerate(flips.flips) if f.study_id == open_id)
    f = flips.flips[row]
    flips.list.setFocus()
    flips.list.setCurrentRow(row)
    qtbot.keyClick(flips.list, Qt.Key.Key_A)
    value = EMBOLUS if f.positive_after else NOT_EMBOLUS
    assert ws.decision_of(f.item)[1] == value
    assert study_candidates(p, "emboli", open_id).decision(f.item) == value
    ws.undo()
    assert ws.decision_of(f.item) is None
    ws.redo()
    assert ws.decision_of(f.item)[1] == value

    # R on a candidate of the other study (not open): stored, read by the task's truth
    row = next(k for k, f in enumerate(flips.flips) if f.study_id == other)
    g = flips.flips[row]
    flips.list.setCurrentRow(row)
    qtbot.keyClick(flips.list, Qt.Key.Key_R)
    kept = NOT_EMBOLUS if g.positive_after else EMBOLUS
    assert study_candidates(p, "emboli", other).decision(g.item) == kept
    assert ws.study.id == open_id  # deciding did not open it
    from core.tasks.emboli.task import EmboliTask

    items, _, _ = EmboliTask().study_items(p, p.study(other))
    assert items.labels[list(items.indices).index(g.item)] == (kept == EMBOLUS)
    # the queue leaves both decided candidates out
    left = {(d.study_id, d.item) for d in rank_disagreement(p, [a.id, b.id])}
    assert (open_id, f.item) not in left and (other, g.item) not in left
    assert len(left) == 4

    # Enter opens the other study (its volume loads) with the candidate selected
    flips.list.setCurrentRow(row)
    qtbot.keyClick(flips.list, Qt.Key.Key_Return)
    assert ws.study.id == other
    qtbot.waitUntil(lambda: ws.volume is not None and ws.selected() is not None,
                    timeout=60_000)
    assert ws.selected().id == g.item
    c = cands[g.item]
    assert ws.viewer.cursor[0] == pytest.approx(round(c.center[0]), abs=1)
    assert ws.decision_of(g.item)[1] == kept  # and the workspace reads the decision


# ---------------------------------------------------------------------- CIMT (pixels)
def test_cimt_items_open_their_study_with_a_message(qtbot, window_on, demo_folder, tmp_path,
                                                    monkeypatch):
    from app.experiments.flips import FlipReviewWidget
    from app.experiments.review_data import Flip

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    win = window_on(demo_folder)
    ws = win.workspaces["cimt"]
    try:
        board = win.experiment_board(ws)
        said = []
        board.message.connect(lambda text, level: said.append(text))
        sid = next(s.id for s in win.project.studies() if ws.owns_task(s.task))
        board.results.open_item(sid, 1234)  # a pixel: no frame of that number
        assert ws.study.id == sid
        assert said and "not available" in said[-1]
        # a pixel flip is not answered from the review (nothing written, the reason said)
        flips = FlipReviewWidget(win.project, ws.owns_task)
        qtbot.addWidget(flips)
        flips._kind, flips._task = "pixel", "cimt"
        n = len(win.project.annotations(sid))
        assert not flips.decide(Flip(sid, 1234, 0.9, 0.1, False), "LI")
        assert "not labelled" in flips.summary.text()
        assert len(win.project.annotations(sid)) == n
    finally:
        _close(win, ws)
