"""The CIMT workspace as a user drives it: ROIs dragged on the frame (3 at most, too small
refused), LI traced with the keys and clicks, a snake point dragged and the snake
re-converging through it (saved as the expert's tracing, undone with Ctrl+Z), IMT in mm
or, without spacing, in pixels until a calibration is set."""

from __future__ import annotations

import numpy as np
import pytest
from cimt_cases import ridge_output
from PySide6.QtCore import Qt


@pytest.fixture
def carotid(tmp_path):
    """A project with one synthetic carotid frame (task "cimt"), its ROIs and tracings."""
    import cv2

    from core.events import drain
    from core.io.importer import import_path
    from core.store import Project
    from core.synth.carotid import synth_carotid

    synth = synth_carotid(3)
    (tmp_path / "us" / "images").mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "us" / "images" / "carotid.png"), synth.frames[0])
    project = Project.create(tmp_path / "proj")
    [study] = drain(import_path(project, tmp_path / "us", task="cimt"))
    yield project, study, synth
    project.close()


@pytest.fixture
def ws(qtbot, carotid):
    from app.workspaces.cimt import CimtWorkspace

    project, _study, _synth = carotid
    w = CimtWorkspace(project)
    qtbot.addWidget(w)
    w.resize(1400, 850)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.shutdown_jobs(30000)


def _drag(qtbot, view, a, b):
    qtbot.mousePress(view.viewport(), Qt.MouseButton.LeftButton, pos=a)
    qtbot.mouseMove(view.viewport(), pos=b)
    qtbot.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, pos=b)


def _drag_box(qtbot, ws, r0, c0, r1, c1):
    ws.set_tool("roi")
    c = ws.canvas
    _drag(qtbot, c, c.viewport_point(r0, c0).toPoint(), c.viewport_point(r1, c1).toPoint())


def test_registered_as_the_cimt_tab():
    from app.workspaces.cimt import CimtWorkspace
    from app.workspaces.registry import WORKSPACES

    assert WORKSPACES["cimt"] is CimtWorkspace and CimtWorkspace.tab_order == 30


def test_rois_by_drag_at_most_three_with_undo(qtbot, ws, carotid):
    project, study, _ = carotid
    _drag_box(qtbot, ws, 150, 40, 200, 110)
    [roi] = project.annotations(study.id, kind="roi")
    g = roi.geometry
    assert abs(g.row0 - 150) <= 1 and abs(g.col1 - 110) <= 1 and roi.frame == 0
    _drag_box(qtbot, ws, 150, 150, 153, 160)  # 3 rows: too small, refused with the minimum
    assert "at least 8" in ws.info.text()
    for c0 in (130, 220):
        _drag_box(qtbot, ws, 150, c0, 200, c0 + 60)
    assert len(project.annotations(study.id, kind="roi")) == 3
    _drag_box(qtbot, ws, 100, 300, 140, 360)  # a fourth: refused, says how to make room
    assert len(project.annotations(study.id, kind="roi")) == 3 and "Del" in ws.info.text()
    ws.set_tool("select")
    qtbot.mouseClick(ws.canvas.viewport(), Qt.MouseButton.LeftButton,
                     pos=ws.canvas.viewport_point(175, 75).toPoint())
    assert ws.canvas.selected_roi == 0
    ws.delete_selected()
    assert len(project.annotations(study.id, kind="roi")) == 2
    ws.undo()
    assert len(project.annotations(study.id, kind="roi")) == 3
    assert len(ws.canvas.rois) == 3 and ws.roi_table.rowCount() == 3


def test_trace_li_with_keys_and_clicks(qtbot, ws, carotid):
    project, study, synth = carotid
    qtbot.keyClick(ws.canvas, Qt.Key.Key_L)
    assert ws.canvas.tool == "trace" and ws.canvas.interface == "LI"
    cols = [60, 100, 140, 180]
    for c in cols:
        r = float(synth.li[0, c])
        qtbot.mouseClick(ws.canvas.viewport(), Qt.MouseButton.LeftButton,
                         pos=ws.canvas.viewport_of(r, c).toPoint())
    [line] = project.annotations(study.id, kind="polyline")
    assert line.value == "LI" and len(line.geometry.points) == 4
    np.testing.assert_allclose(line.geometry.points[:, 1], cols, atol=1)
    np.testing.assert_allclose(line.geometry.points[:, 0], synth.li[0, cols], atol=1)
    qtbot.keyClick(ws.canvas, Qt.Key.Key_Delete)  # the last point placed is selected
    assert len(project.annotations(study.id, kind="polyline")[0].geometry.points) == 3
    qtbot.keyClick(ws.canvas, Qt.Key.Key_Escape)
    assert ws.canvas.tool == "select"
    ws.undo()
    assert len(project.annotations(study.id, kind="polyline")[0].geometry.points) == 4


def test_drag_snake_point_reconverges_and_is_saved(qtbot, ws, carotid):
    project, study, _ = carotid
    from core.store.geometry import Box

    project.add_annotation(study.id, "roi", Box(140, 60, 200, 140), frame=0)
    ws.reload()
    ann = ridge_output(ws, 160.0, 175.0)
    before = ws._results[ann.id].snake("LI").copy()
    np.testing.assert_allclose(before[:, 0], 160, atol=1.0)  # converged on the ridge
    assert "mm" not in ws.info.text() and "px" in ws.info.text()  # no spacing: pixels
    col = 100
    i = int(np.argmin(np.abs(before[:, 1] - col)))
    ws.set_tool("select")
    _drag(qtbot, ws.canvas, ws.canvas.viewport_of(*before[i]).toPoint(),
          ws.canvas.viewport_of(before[i, 0] + 6, col).toPoint())
    after = ws._results[ann.id].snake("LI")
    j = int(np.argmin(np.abs(after[:, 1] - col)))
    target = before[i, 0] + 6
    assert after[j, 0] == pytest.approx(target, abs=0.3)  # passes through the dragged point
    near = np.abs(after[:, 1] - col) == 1
    assert np.all(after[near, 0] > before[near, 0] + 2)  # its neighbours followed
    far = np.abs(after[:, 1] - col) >= 30
    np.testing.assert_allclose(after[far, 0], 160, atol=1.0)  # and the ridge holds far away
    np.testing.assert_allclose(ws.canvas.snake_points(0, "LI"), after)
    [line] = project.annotations(study.id, kind="polyline", frame=0)  # the expert's LI now
    assert line.value == "LI" and line.source == "expert"
    pts = line.geometry.points
    assert np.interp(col, pts[:, 1], pts[:, 0]) == pytest.approx(target, abs=0.3)
    ws.undo()
    assert project.annotations(study.id, kind="polyline", frame=0) == []


def test_imt_in_pixels_until_calibrated(qtbot, ws, carotid):
    project, study, _ = carotid
    from core.store.geometry import Box

    project.add_annotation(study.id, "roi", Box(140, 60, 200, 140), frame=0)
    ws.reload()
    ridge_output(ws, 160.0, 175.0)
    assert "px — in pixels: no spacing, calibrate" in ws.info.text()
    text = ws.roi_table.item(0, 2).text()
    assert text.endswith(" px") and float(text[:-3]) == pytest.approx(15, abs=1)
    ws.set_calibration(0.05)
    mm = ws.roi_table.item(0, 2).text()
    assert mm.endswith(" mm") and float(mm[:-3]) == pytest.approx(float(text[:-3]) * 0.05,
                                                                  abs=1e-3)
    assert "0.05 mm/px (calibration)" in ws.spacing_line.text()
    assert project.study(study.id).meta["spacing_source"] == "calibration"


def test_maps_and_snakes_from_a_trained_snapshot(qtbot, ws, carotid):
    """A real (random-weight) 3-class network: the background job draws the ROI's merged
    confidence map, thinned boundaries and both snakes, and the IMT appears."""
    import torch

    from core.store.geometry import Box
    from core.train.checkpoint import save_snapshot
    from core.train.model import build_alexnet

    project, study, _ = carotid
    torch.manual_seed(0)
    model = build_alexnet(3, arch="bvlc")
    run = project.start_run("cimt", "fc8", {"arch": "bvlc"})
    path = save_snapshot(project.folder / "snapshots" / "run-1" / "e0.pt", model.state_dict(),
                         {"n_classes": 3, "config": {"arch": "bvlc"}})
    project.add_snapshot(run.id, 0, path, 0.6)  # a run still training: its best so far
    ann = project.add_annotation(study.id, "roi", Box(150, 100, 162, 124), frame=0)
    ws.reload()
    ws.compute_maps()
    qtbot.waitUntil(lambda: ann.id in ws._results, timeout=120000)
    out = ws._results[ann.id]
    assert out.boundaries.probs.shape == (3, 12, 24)
    np.testing.assert_allclose(out.boundaries.probs.sum(axis=0), 1, atol=1e-4)
    assert ws.canvas.map_items[0].isVisible() and ws.canvas.map_items[0].pos().x() == 100
    assert set(ws.canvas.snakes) == {(0, "LI"), (0, "MA")} and len(ws.canvas.thinned) == 2
    assert "IMT" in ws.info.text() and "epoch 1" in ws.job_bar.format()
    ws.show_boxes["map"].setChecked(False)
    assert not ws.canvas.map_items[0].isVisible()


def test_tracings_export_then_import_is_one_undo_step(qtbot, ws, carotid, tmp_path):
    from core.store.geometry import Box, Polyline

    project, study, synth = carotid
    for name in ("LI", "MA"):
        project.add_annotation(study.id, "polyline", Polyline(synth.tracings[0][name]),
                               frame=0, value=name)
    project.add_annotation(study.id, "roi", Box(*synth.rois[0][1]), frame=0)
    ws.reload()
    out = ws.export_tracings("json", str(tmp_path / "t.json"))
    assert out is not None and "exported 1 traced frame" in ws.info.text()
    for a in project.annotations(study.id, kind="polyline"):
        project.delete_annotation(a.id)
    report = ws.import_tracings(str(tmp_path / "t.json"))
    assert report.imported == 2 and not report.refused
    lines = {a.value: a.geometry.points for a in project.annotations(study.id, kind="polyline")}
    np.testing.assert_array_equal(lines["MA"], synth.tracings[0]["MA"])  # lossless
    assert len(ws.canvas.tracing("LI")) == len(synth.tracings[0]["LI"])
    ws.undo()  # the whole import is one step
    assert project.annotations(study.id, kind="polyline") == []


def test_evaluation_result_drawn_with_summary(ws):
    from core.stats.agreement import bland_altman
    from core.stats.boxplot import tukey_box
    from core.tasks.cimt.results import CimtResult, RoiResult

    rng = np.random.default_rng(2)
    rois = tuple(RoiResult(1, "us", 0, i, (0, 0, 10, 10), 10, li, ma, li * 0.06, ma * 0.06,
                           e + d, e, "mm")
                 for i, (li, ma, e, d) in enumerate(zip(rng.gamma(2, 0.5, 12),
                                                        rng.gamma(2, 0.7, 12),
                                                        0.7 + rng.normal(0, 0.05, 12),
                                                        rng.normal(0.01, 0.03, 12))))
    li = [r.li_mm for r in rois]
    res = CimtResult("mm", rois, tukey_box(li), tukey_box([r.ma_mm for r in rois]),
                     bland_altman([r.imt_system for r in rois], [r.imt_expert for r in rois]),
                     None, ("Boundaries within 0.1 mm of the expert's.",))
    ws.show_result(res)
    assert ws.results.stats["LI"].mean == pytest.approx(np.mean(li))
    text = ws.training.result.text()
    assert "LI error" in text and "IMT bias" in text and "within 0.1 mm" in text
    assert ws.results.verdict_lines == ["Boundaries within 0.1 mm of the expert's."]
    assert ws.training.plots.currentWidget() is ws.results
