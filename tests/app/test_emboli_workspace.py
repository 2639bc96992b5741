"""The Emboli workspace as a user drives it, on a synthetic CTPA written as DICOM:
linked views, window presets, candidates drawn, accept / reject keys with undo, a
sphere marked by dragging, live scores and the review queue, tobogganing in the
background, the FROC's 3 FP/volume point, the warning line."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

import app.workspaces.emboli  # noqa: F401  (registers the workspace)
from app.widgets.mask_candidates import ACCEPTED_RGB, score_rgb
from app.widgets.volume_slices import PRESETS
from app.workspaces.emboli import EmboliWorkspace
from app.workspaces.emboli.workspace import warning_lines
from app.workspaces.registry import WORKSPACES
from core.events import Scored, drain
from core.store import Project, Sphere
from core.tasks.emboli.truth import ACCEPT, REJECT

SHAPE = (64, 128, 128)


@pytest.fixture(scope="module")
def ctpa_project(tmp_path_factory):
    """A project with one synthetic CTPA (emboli marked as spheres, candidates found),
    made once; each test works on a copy of the project folder."""
    from core.io.importer import import_path
    from core.jobs.volume_candidates import generate_volume_candidates
    from core.synth.ctpa import write_ctpa_series

    root = tmp_path_factory.mktemp("emboli")
    project = Project.create(root / "proj")
    ids, first = [], None
    for k, (split, n) in enumerate((("train", 3), ("train", 2), ("test", 2))):
        synth = drain(write_ctpa_series(root / f"ct{k}", shape=SHAPE, seed=1 + k, n_emboli=n))
        [study] = drain(import_path(project, root / f"ct{k}", task="emboli", split=split))
        for e in synth.emboli:
            project.add_annotation(study.id, "sphere", Sphere(e.centre_mm, e.radius_mm),
                                   value=ACCEPT)
        ids.append(study.id)
        first = first or synth
    drain(generate_volume_candidates(project, ids))
    project.close()
    return root / "proj", first


@pytest.fixture
def ws(qtbot, tmp_path, ctpa_project):
    folder, _ = ctpa_project
    shutil.copytree(folder, tmp_path / "proj")
    project = Project.open(tmp_path / "proj")
    w = EmboliWorkspace(project)
    qtbot.addWidget(w)
    w.resize(1500, 950)
    w.show()
    qtbot.waitExposed(w)
    w.activateWindow()
    qtbot.waitUntil(lambda: w.volume is not None, timeout=30_000)
    yield w
    assert w.shutdown_jobs(30_000)
    w.close_sources()
    project.close()


def _axial(ws):
    return ws.viewer.views["axial"]


def test_registered_and_opens_the_volume(ws, ctpa_project):
    _, synth = ctpa_project
    assert WORKSPACES["emboli"] is EmboliWorkspace
    assert ws.volume.shape == SHAPE and ws.volume.dtype == np.int16
    assert np.array_equal(ws.volume, synth.volume.hu)
    assert ws.study.kind == "ct_series" and len(ws._cands) > 3
    assert ws.cand_list.count() == len(ws._cands)
    assert len(ws._truth.spheres) == 3
    # the study's contrast verdict was judged on loading: enhanced, so no warning
    assert ws.project.study(ws.study.id).meta["contrast"]["enhanced"] is True
    assert ws.warn.isHidden()
    # the planes run towards the head: coronal and sagittal drawn bottom-up
    assert ws.viewer.planes["coronal"].flipped


def test_views_link_and_presets_by_key(qtbot, ws):
    ax = _axial(ws)
    target = np.array([ws.viewer.cursor[0], 40, 70])
    qtbot.mouseClick(ax.viewport(), Qt.MouseButton.LeftButton,
                     pos=ax.viewport_point(target).toPoint())
    assert tuple(ws.viewer.cursor[1:]) == pytest.approx((40, 70), abs=1)
    assert ws.viewer.views["coronal"].index == ws.viewer.cursor[1]
    assert ws.viewer.views["sagittal"].index == ws.viewer.cursor[2]
    z, y, x = ws.viewer.cursor
    assert f"{int(ws.volume[z, y, x])} HU" in ws.pos_label.text()
    qtbot.keyClick(ax, Qt.Key.Key_3)
    assert ws.viewer.window() == PRESETS["Lung"]
    qtbot.keyClick(ax, Qt.Key.Key_2)
    assert ws.viewer.window() == PRESETS["Mediastinum"]
    qtbot.keyClick(ax, Qt.Key.Key_PageDown)
    assert ws.viewer.cursor[0] == z + 1


def test_candidates_drawn_and_decided_by_key_with_undo(qtbot, ws):
    first = ws._cands[0]
    ws.select_candidate(first.id)
    assert ws.planes.has_planes()
    marks = {m.disc.key: m for m in _axial(ws).overlay_item.overlay.candidates}
    assert first.id in marks and marks[first.id].selected
    assert marks[first.id].rgb == score_rgb(None)  # no model yet
    qtbot.keyClick(_axial(ws), Qt.Key.Key_A)
    assert ws.decision_of(first.id)[1] == ACCEPT
    [ann] = [a for a in ws.project.annotations(ws.study.id, kind="point")]
    assert ann.value == ACCEPT and ann.frame == round(first.center[0])
    assert (ann.geometry.row, ann.geometry.col) == pytest.approx(first.center[1:])
    assert ws.selected().id == ws._cands[1].id  # the next undecided one
    ws.select_candidate(first.id)
    marks = {m.disc.key: m for m in _axial(ws).overlay_item.overlay.candidates}
    assert marks[first.id].rgb == ACCEPTED_RGB
    qtbot.keyClick(_axial(ws), Qt.Key.Key_R)  # change of mind: one more undo step
    assert ws.decision_of(first.id)[1] == REJECT
    # core's truth agrees: the candidate is now labelled 0
    from core.tasks.emboli.task import EmboliTask

    items, _, _ = EmboliTask().study_items(ws.project, ws.study)
    assert items.labels[list(items.indices).index(first.id)] == 0
    ws.undo()
    assert ws.decision_of(first.id)[1] == ACCEPT
    ws.undo()
    assert ws.decision_of(first.id) is None and not ws.can_undo()
    assert ws.project.annotations(ws.study.id, kind="point") == []
    ws.redo()
    assert ws.decision_of(first.id)[1] == ACCEPT
    ws.select_candidate(first.id)
    qtbot.keyClick(_axial(ws), Qt.Key.Key_Delete)
    assert ws.decision_of(first.id) is None
    qtbot.keyClick(_axial(ws), Qt.Key.Key_N)
    assert ws.selected().id == ws._cands[1].id
    qtbot.keyClick(_axial(ws), Qt.Key.Key_N, Qt.KeyboardModifier.ShiftModifier)
    assert ws.selected().id == first.id


def test_sphere_marked_by_drag_is_stored_and_undone(qtbot, ws):
    ax = _axial(ws)
    before = len(ws.project.annotations(ws.study.id, kind="sphere"))
    qtbot.keyClick(ax, Qt.Key.Key_M)  # mark mode
    assert ws.viewer.mark_button.isChecked()
    z = ws.viewer.cursor[0]
    start = ax.viewport_point(np.array([z, 30, 30]))
    end = ax.viewport_point(np.array([z, 30, 40]))  # 10 columns
    qtbot.mousePress(ax.viewport(), Qt.MouseButton.LeftButton, pos=start.toPoint())
    qtbot.mouseMove(ax.viewport(), end.toPoint())
    qtbot.mouseRelease(ax.viewport(), Qt.MouseButton.LeftButton, pos=end.toPoint())
    spheres = ws.project.annotations(ws.study.id, kind="sphere")
    assert len(spheres) == before + 1
    new = spheres[-1].geometry
    dx = ws.geometry.spacing_mm[2]
    assert new.radius_mm == pytest.approx(10 * dx, abs=dx / 2)
    centre = ws.geometry.world_to_voxel(np.array([new.centre_mm]))[0]
    assert centre == pytest.approx([z, 30, 30], abs=0.6)
    assert len(ws._truth.spheres) == before + 1
    assert any(d.inside for d in ax.overlay_item.overlay.spheres)
    ws.viewer.set_cursor(centre)
    qtbot.keyClick(ax, Qt.Key.Key_Delete, Qt.KeyboardModifier.ShiftModifier)
    assert len(ws.project.annotations(ws.study.id, kind="sphere")) == before
    ws.undo()  # the deletion
    ws.undo()  # the mark
    assert len(ws.project.annotations(ws.study.id, kind="sphere")) == before
    assert len(ws._truth.spheres) == before


def test_scores_update_and_review_queue_orders_by_doubt(qtbot, ws):
    ids = [c.id for c in ws._cands]
    p = np.random.default_rng(0).random(len(ids))
    ws.show_prediction(Scored("preview", np.array(ids), np.c_[1 - p, p], 0))
    assert ws.viewer._c_scores == pytest.approx(p)
    order = ws.review_order()
    doubt = [abs(s - 0.5) for _, s in order]
    assert doubt == sorted(doubt) and ws.queue.count() == min(len(order), 200)
    assert f"model {p[0]:.2f}" in ws.cand_list.item(0).text()
    qtbot.keyClick(_axial(ws), Qt.Key.Key_Q)
    assert ws.selected().id == order[0][0]
    marks = {m.disc.key: m for m in _axial(ws).overlay_item.overlay.candidates}
    assert marks[order[0][0]].rgb == score_rgb(order[0][1])
    qtbot.keyClick(_axial(ws), Qt.Key.Key_R)  # decided: it leaves the queue
    assert order[0][0] not in [cid for cid, _ in ws.review_order()]
    p2 = 1 - p
    ws.show_prediction(Scored("preview", np.array(ids), p2, 1))  # 1-D probabilities too
    assert ws.viewer._c_scores == pytest.approx(p2)


def test_find_candidates_runs_in_the_background(qtbot, ws):
    n_old = len(ws._cands)
    first = ws._cands[0]
    ws.select_candidate(first.id)
    ws.decide(ACCEPT)
    qtbot.keyClick(_axial(ws), Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    assert ws._job.is_running() or "candidates" in ws.info.text()
    assert not ws.find_button.isEnabled() or not ws._job.is_running()
    qtbot.waitUntil(lambda: not ws._job.is_running() and ws.find_button.isEnabled(),
                    timeout=120_000)
    assert ws.info.text().startswith("candidates:"), ws.info.text()
    assert "recall" in ws.info.text()
    assert len(ws._cands) == n_old == ws.cand_list.count()  # the same (deterministic)
    again = next(c for c in ws._cands if np.allclose(c.center, first.center))
    assert ws.decision_of(again.id)[1] == ACCEPT  # decisions stay with the centres
    ws.find_button.click()  # again, and cancel at once
    ws.cancel_button.click()
    qtbot.waitUntil(lambda: not ws._job.is_running() and ws.find_button.isEnabled(),
                    timeout=120_000)
    assert ws.info.text().startswith(("candidate generator cancelled", "candidates:"))
    assert not ws.cancel_button.isEnabled() and len(ws._cands) == n_old


def test_froc_rings_three_false_positives_per_volume(ws):
    from core.stats.froc import froc_analysis

    rng = np.random.default_rng(1)
    n = 40
    scores = rng.random(n)
    lesion = [f"e{k % 4}" if k < 10 else None for k in range(n)]
    image = [f"v{k % 5}" for k in range(n)]
    lesions = sorted({(im, le) for im, le in zip(image, lesion) if le})
    res = froc_analysis(scores, lesion, image, lesions=lesions, fps=(0.5, 1, 2, 3, 4, 8),
                        n_boot=50, seed=0)
    ws.show_result(res)
    [ring] = ws._froc_marks
    x, y = ring.getData()
    s3 = next(pt.sensitivity for pt in res.points if pt.fp_rate == 3)
    assert x[0] == pytest.approx(np.log2(3)) and y[0] == pytest.approx(s3)
    labels = [label.text for _, label in ws.froc.legend.items]
    assert any(t.startswith(f"3 FP/volume: {s3:.2f}") for t in labels)
    assert "<b>" in ws.training.result.text() and "emboli" in ws.training.result.text()
    ws.show_result(res)  # shown again: still one ring, one legend entry
    assert len(ws._froc_marks) == 1
    assert sum("FP/volume" in label.text for _, label in ws.froc.legend.items) == 1


def test_warning_line_names_non_contrast_and_problems(ws):
    meta = {"contrast": {"enhanced": False, "reason": "pulmonary trunk 40 HU"},
            "problems": [{"code": "gap", "message": "2 slices missing", "level": "warning"}]}
    lines = warning_lines(meta)
    assert "No contrast" in lines[0] and "40 HU" in lines[0] and "2 slices missing" in lines[1]
    assert warning_lines({"contrast": {"enhanced": None}}) == []
    ws.project.update_study_meta(ws.study.id, **meta)
    ws.reload()
    assert ws.warn.isVisible() and "No contrast" in ws.warn.text()


def test_task_options_and_marks_round_trip(ws, tmp_path):
    ws.training.crops.setValue(4)
    assert ws.task_options() == {"train_patches": 4, "test_patches": 6, "preview_patches": 2}
    from core.tasks.emboli.task import EmboliTask

    EmboliTask(**ws.task_options())  # the core task takes them
    out = tmp_path / "marks.csv"
    rep = ws.export_marks(str(out))
    n = len(ws.project.annotations(kind="sphere"))
    assert rep.n_marks == n == 7 and rep.n_studies == 3
    assert out.read_text().startswith("seriesuid,")
    for a in ws.project.annotations(kind="sphere"):
        ws.project.delete_annotation(a.id)
    ws.reload()
    assert len(ws._truth.spheres) == 0
    rep = ws.import_marks(str(out))
    assert rep.added == n and len(ws._truth.spheres) == 3
    ws.undo()  # one import = one undo step
    assert len(ws.project.annotations(kind="sphere")) == 0
    names = [a.text for a in ws.import_actions() + ws.export_actions()]
    assert any("DICOM" in t for t in names) and any("LUNA16" in t for t in names)


def test_screenshots(qtbot, ws, tmp_path):
    """The workspace drawn (to $LAYERTUNE_SHOTS when set, to look at): a candidate on a
    marked embolus selected, its planes shown; the lung window."""
    from PySide6.QtGui import QImage

    out = Path(os.environ.get("LAYERTUNE_SHOTS", tmp_path))
    ids = [c.id for c in ws._cands]
    p = np.random.default_rng(2).random(len(ids))
    ws.show_prediction(Scored("preview", np.array(ids), np.c_[1 - p, p], 0))
    t = ws._truth.spheres[0]
    k = int(np.argmin(((ws._centres - t[1]) ** 2).sum(axis=1)))
    ws.select_candidate(ws._cands[k].id)
    qtbot.wait(50)
    assert ws.grab().save(str(out / "emb_workspace.png"))
    ws.viewer.apply_preset("Lung")
    assert ws.viewer.grab().save(str(out / "emb_viewer_lung.png"))
    img = QImage(str(out / "emb_viewer_lung.png"))
    assert img.width() == ws.viewer.width() and not img.isNull()


def test_in_the_window_training_scores_live_then_froc(qtbot, tmp_path, ctpa_project,
                                                      monkeypatch):
    """The tab in the main window: File menu entries, Edit > Undo, a short training run
    whose best snapshot scores the open volume's candidates, then the FROC."""
    from app.main_window import MainWindow
    from core.store.geometry import Point

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))  # no weights here
    shutil.copytree(ctpa_project[0], tmp_path / "proj")
    project = Project.open(tmp_path / "proj")
    # a decision on the test volume: the window's test-set check counts points, not yet
    # spheres (app/dialogs/test_video.py), and would otherwise ask in a modal box
    test = next(s for s in project.studies("emboli") if s.split == "test")
    c = project.candidates(test.id)[0]
    project.add_annotation(test.id, "point", Point(c.center[1], c.center[2]),
                           frame=round(c.center[0]), value=REJECT)
    win = MainWindow(project)
    qtbot.addWidget(win)
    win.resize(1600, 1000)
    win.show()
    ws = win.workspaces["emboli"]
    assert win.tabs.currentWidget() is ws  # a CT-only project opens on its tab
    assert not win.hint.isVisibleTo(win)
    qtbot.waitExposed(win)
    try:
        qtbot.waitUntil(lambda: ws.volume is not None, timeout=30_000)
        texts = [a.text() for a in win._file_actions["emboli"]]
        assert any("DICOM" in t for t in texts) and any("LUNA16" in t for t in texts)
        ws.select_candidate(ws._cands[0].id)
        ws.decide(ACCEPT)
        assert win.undo_action.isEnabled()
        win.undo_action.trigger()
        assert ws.decision_of(ws._cands[0].id) is None
        panel = ws.training
        panel.depth_stack.set_depth("scratch")
        panel.epochs.setValue(1)
        panel.crops.setValue(1)
        panel.device.setCurrentIndex(panel.device.findData("cpu"))
        assert not ws._scores
        panel.train_button.click()
        ctrl = win.controllers["emboli"]
        qtbot.waitUntil(lambda: not ctrl.is_running() and not panel.is_running(),
                        timeout=300_000)
        assert "finished run" in panel.status.text(), panel.status.text()
        assert set(ws._scores) == set(ws._pos)  # every candidate of the open volume scored
        assert np.isfinite(ws.viewer._c_scores).all()
        panel.evaluate_button.click()
        qtbot.waitUntil(lambda: "CPM" in panel.result.text(), timeout=300_000)
        qtbot.waitUntil(lambda: not ctrl.is_running(), timeout=10_000)
        assert panel.plots.currentWidget() is ws.froc and len(ws._froc_marks) == 1
        assert "emboli in 1 volumes" in panel.result.text()
        win.grab().save(str(Path(os.environ.get("LAYERTUNE_SHOTS", tmp_path)) / "emb_window.png"))
    finally:
        for ctl in win.controllers.values():
            ctl.shutdown(30_000)
        win.scorer.shutdown(30_000)
        ws.shutdown_jobs(30_000)
        win.close()
        project.close()
