"""The CIMT widgets on their own: polyline editing rules, tracing on the ultrasound canvas
with the mouse and keys, the results plots, the two-click calibration dialog."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.widgets.polyline_geometry import (
    clip_to_cols,
    insert_point,
    move_point,
    smooth_curve,
    splice,
)


def test_polyline_edits_keep_columns_increasing():
    p, i = insert_point(np.zeros((0, 2)), 10, 50)
    p, j = insert_point(p, 12, 20)
    p, k = insert_point(p, 11, 35)
    assert (i, j, k) == (0, 0, 1)
    np.testing.assert_array_equal(p[:, 1], [20, 35, 50])
    p, _ = insert_point(p, 9, 35)  # a taken column is nudged, never duplicated
    assert np.all(np.diff(p[:, 1]) > 0)
    moved = move_point(p, 1, 30, 80)  # cannot pass its right neighbour
    assert moved[1, 0] == 30 and moved[1, 1] < moved[2, 1]
    curve = smooth_curve(p)
    assert curve[0, 1] == p[0, 1] and curve[-1, 1] == p[-1, 1]
    for r, c in p:  # the display curve passes through every point, never overshoots
        assert np.interp(c, curve[:, 1], curve[:, 0]) == pytest.approx(r, abs=1e-6)
    assert curve[:, 0].min() >= p[:, 0].min() - 1e-9 and curve[:, 0].max() <= p[:, 0].max() + 1e-9


def test_splice_replaces_only_the_roi_stretch():
    old = np.array([[10.0, 0], [10, 10], [10, 20], [10, 30], [10, 40]])
    new = np.array([[12.0, 15], [13, 20], [12, 25]])
    out = splice(old, new)
    np.testing.assert_array_equal(out[:, 1], [0, 10, 15, 20, 25, 30, 40])
    assert out[3, 0] == 13
    clipped = clip_to_cols(old, 5, 25)
    assert clipped[0, 1] == 5 and clipped[-1, 1] == 25 and np.all(clipped[:, 0] == 10)


@pytest.fixture
def canvas(qtbot):
    from app.widgets.us_canvas import UltrasoundCanvas

    c = UltrasoundCanvas()
    qtbot.addWidget(c)
    c.resize(640, 480)
    c.show()
    qtbot.waitExposed(c)
    c.set_frame(np.full((120, 160), 90, np.uint8))
    c.fit()
    return c


def _click(qtbot, canvas, row, col):
    pos = canvas.viewport_of(row, col).toPoint()
    qtbot.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, pos=pos)


def test_trace_polyline_with_mouse_and_keys(qtbot, canvas):
    edits = []
    canvas.polylineEdited.connect(lambda name, pts: edits.append((name, pts)))
    canvas.set_interface("MA")
    canvas.set_tool("trace")
    for row, col in ((60, 100), (58, 20), (62, 60)):  # clicked out of column order
        _click(qtbot, canvas, row, col)
    name, pts = edits[-1]
    assert name == "MA" and len(pts) == 3
    np.testing.assert_allclose(pts[:, 1], [20, 60, 100], atol=0.5)  # ordered by column
    np.testing.assert_allclose(pts[:, 0], [58, 62, 60], atol=0.5)
    # drag the middle point down by 10 rows
    a = canvas.viewport_of(62, 60).toPoint()
    b = canvas.viewport_of(72, 60).toPoint()
    qtbot.mousePress(canvas.viewport(), Qt.MouseButton.LeftButton, pos=a)
    qtbot.mouseMove(canvas.viewport(), pos=b)
    qtbot.mouseRelease(canvas.viewport(), Qt.MouseButton.LeftButton, pos=b)
    assert len(edits[-1][1]) == 3 and edits[-1][1][1, 0] == pytest.approx(72, abs=0.5)
    assert canvas.selected_point == 1
    qtbot.keyClick(canvas, Qt.Key.Key_Delete)  # Del deletes the selected point
    np.testing.assert_allclose(edits[-1][1][:, 1], [20, 100], atol=0.5)
    qtbot.keyClick(canvas, Qt.Key.Key_Escape)  # Esc finishes: back to select
    assert canvas.tool == "select" and canvas.selected_point is None
    assert canvas.tracing("LI").shape == (0, 2)  # the other interface untouched


def test_roi_drag_and_snake_drag_signals(qtbot, canvas):
    boxes, drags = [], []
    canvas.roiDrawn.connect(boxes.append)
    canvas.snakeDragged.connect(lambda *a: drags.append(a))
    canvas.set_tool("roi")
    a = canvas.viewport_point(20, 30).toPoint()
    b = canvas.viewport_point(80, 110).toPoint()
    qtbot.mousePress(canvas.viewport(), Qt.MouseButton.LeftButton, pos=a)
    qtbot.mouseMove(canvas.viewport(), pos=b)
    qtbot.mouseRelease(canvas.viewport(), Qt.MouseButton.LeftButton, pos=b)
    r0, c0, r1, c1 = boxes[-1]
    assert abs(r0 - 20) <= 1 and abs(c0 - 30) <= 1 and abs(r1 - 80) <= 1 and abs(c1 - 110) <= 1
    canvas.set_rois([(20, 30, 80, 110)])
    probs = np.zeros((3, 60, 80), np.float32)
    probs[0] = 1
    snake = np.column_stack([np.full(80, 40.0), np.arange(30, 110, dtype=float)])
    canvas.set_results([{"probs": probs, "snakes": {"LI": snake}, "thin": {"LI": snake}}])
    assert canvas.map_items[0].pos().x() == 30 and canvas.map_items[0].pos().y() == 20
    canvas.set_tool("select")
    p = canvas.viewport_of(40, 70).toPoint()
    q = canvas.viewport_of(46, 70).toPoint()
    qtbot.mousePress(canvas.viewport(), Qt.MouseButton.LeftButton, pos=p)
    qtbot.mouseMove(canvas.viewport(), pos=q)
    qtbot.mouseRelease(canvas.viewport(), Qt.MouseButton.LeftButton, pos=q)
    roi, name, index, row, col = drags[-1]
    assert (roi, name) == (0, "LI") and abs(index - 40) <= 1
    assert row == pytest.approx(46, abs=0.5) and col == pytest.approx(70, abs=0.5)


def test_confidence_rgba_colours():
    from app.widgets.us_items import confidence_rgba

    p = np.zeros((3, 1, 3), np.float32)
    p[:, 0, 0] = (1, 0, 0)  # background: clear
    p[:, 0, 1] = (0, 1, 0)  # LI: green
    p[:, 0, 2] = (0.2, 0, 0.8)  # MA: red, 80 % of the opacity
    rgba = confidence_rgba(p, 0.5)
    assert rgba[0, 0, 3] == 0
    assert tuple(rgba[0, 1]) == (0, 255, 0, 128)
    assert rgba[0, 2, 0] == 255 and rgba[0, 2, 1] == 0 and rgba[0, 2, 3] == round(255 * 0.4)


def test_results_plots_match_the_statistics(qtbot, tmp_path):
    from app.widgets.cimt_results import CimtResultsWidget

    rng = np.random.default_rng(4)
    li, ma = rng.gamma(2, 0.03, 25), rng.gamma(2, 0.05, 25)
    li[0] = 0.9  # an outlier beyond the upper whisker
    expert = 0.7 + rng.normal(0, 0.05, 25)
    system = expert + 0.02 + rng.normal(0, 0.03, 25)
    w = CimtResultsWidget()
    qtbot.addWidget(w)
    w.resize(900, 380)
    w.show()
    w.set_data(li, ma, system, expert, unit="mm")
    s = w.stats["LI"]
    q1, med, q3 = np.percentile(li, [25, 50, 75])
    assert (s.q1, s.median, s.q3) == pytest.approx((q1, med, q3))
    assert 0.9 in s.outliers and s.whisker_high < 0.9
    assert s.mean == pytest.approx(li.mean()) and s.sd == pytest.approx(li.std(ddof=1))
    d = system - expert
    assert w.bland_altman.bias == pytest.approx(d.mean())
    assert w.bland_altman.loa_high == pytest.approx(d.mean() + 1.96 * d.std(ddof=1), rel=1e-3)
    assert "Bland" in w.agreement.plotItem.titleLabel.text
    png, csv = w.export(tmp_path / "r.png"), w.export(tmp_path / "r.csv")
    assert png.stat().st_size > 2000
    assert len(csv.read_text().splitlines()) == 26


def test_results_read_a_cimt_result_dict():
    from app.widgets.cimt_results import cimt_view

    rois = [{"li_px": 1.0, "ma_px": 2.0, "li_mm": 0.06, "ma_mm": 0.12, "imt_system": 0.7,
             "imt_expert": 0.72}, {"li_px": 3.0, "ma_px": 1.0, "li_mm": 0.18, "ma_mm": 0.06,
                                   "imt_system": 0.8, "imt_expert": 0.75}]
    v = cimt_view({"unit": "mm", "rois": rois, "verdict": ["fine"]})
    np.testing.assert_allclose(v.distances["LI"], [0.06, 0.18])
    np.testing.assert_allclose(v.imt_expert, [0.72, 0.75])
    v = cimt_view({"unit": "px", "rois": rois})
    np.testing.assert_allclose(v.distances["MA"], [2.0, 1.0])


def test_calibration_dialog_two_clicks(qtbot):
    from PySide6.QtWidgets import QDialogButtonBox

    from app.dialogs.calibrate import CalibrateDialog

    dlg = CalibrateDialog(np.zeros((200, 100, 3), np.uint8), "carotid")
    qtbot.addWidget(dlg)
    dlg.show()
    qtbot.waitExposed(dlg)
    ok = dlg.buttons.button(QDialogButtonBox.StandardButton.Ok)
    v = dlg.view
    for row in (20, 120):
        p = v.viewport_point(row + 0.5, 90.5).toPoint()
        qtbot.mouseClick(v.viewport(), Qt.MouseButton.LeftButton, pos=p)
    (r0, c0), (r1, c1) = v.points
    dlg.distance.setValue(10.0)
    px = np.hypot(r1 - r0, c1 - c0)
    assert px == pytest.approx(100, abs=1.5)
    assert dlg.mm_per_pixel == pytest.approx(10.0 / px) and ok.isEnabled()
    dlg.distance.setValue(0.0)  # a zero distance is refused, with a reason
    assert dlg.mm_per_pixel is None and not ok.isEnabled()
    assert "more than 0 mm" in dlg.result_line.text()
