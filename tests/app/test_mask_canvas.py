"""MaskCanvas: brush, eraser, polygon, flood fill, undo/redo, zoom/pan mapping, candidates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication

from app.widgets.mask_candidates import ACCEPTED_RGB, REJECTED_OPACITY, REJECTED_RGB, score_rgb
from app.widgets.mask_canvas import MaskCanvas, brush_step
from app.widgets.probability_strip import NO_SCORE_RGB

LEFT, RIGHT, MIDDLE = Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton, Qt.MouseButton.MiddleButton
NOMOD = Qt.KeyboardModifier.NoModifier
H, W = 288, 384
TESTDATA = Path(__file__).resolve().parents[2].parent / "shared" / "testdata"


def _frame(h: int = H, w: int = W) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, (h, w, 3), dtype=np.uint8)


def _send(canvas, kind, pos, button, buttons, mods=NOMOD):
    pos = QPointF(pos)
    glob = QPointF(canvas.viewport().mapToGlobal(pos.toPoint()))
    ev = QMouseEvent(kind, pos, glob, button, buttons, mods)
    QApplication.sendEvent(canvas.viewport(), ev)


def press(canvas, pos, button=LEFT, mods=NOMOD):
    _send(canvas, QEvent.Type.MouseButtonPress, pos, button, button, mods)


def move(canvas, pos, buttons=Qt.MouseButton.NoButton, mods=NOMOD):
    _send(canvas, QEvent.Type.MouseMove, pos, Qt.MouseButton.NoButton, buttons, mods)


def release(canvas, pos, button=LEFT, mods=NOMOD):
    _send(canvas, QEvent.Type.MouseButtonRelease, pos, button, Qt.MouseButton.NoButton, mods)


def click(canvas, pos, button=LEFT, mods=NOMOD):
    press(canvas, pos, button, mods)
    release(canvas, pos, button, mods)


def double_click(canvas, pos):
    press(canvas, pos)
    release(canvas, pos)
    _send(canvas, QEvent.Type.MouseButtonDblClick, pos, LEFT, LEFT)
    release(canvas, pos)


def drag(canvas, points, button=LEFT, mods=NOMOD):
    press(canvas, points[0], button, mods)
    for p in points[1:]:
        move(canvas, p, button, mods)
    release(canvas, points[-1], button, mods)


def wheel(canvas, pos, notches=1.0, mods=NOMOD):
    pos = QPointF(pos)
    ev = QWheelEvent(pos, QPointF(canvas.viewport().mapToGlobal(pos.toPoint())), QPoint(0, 0),
                     QPoint(0, int(120 * notches)), Qt.MouseButton.NoButton, mods,
                     Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(canvas.viewport(), ev)


def at(canvas, row, col) -> QPointF:
    """Viewport position of the centre of image pixel (row, col), by Qt's own mapping."""
    return canvas.viewport_point(row + 0.5, col + 0.5)


def disk(shape, row, col, diameter) -> np.ndarray:
    rr, cc = np.mgrid[: shape[0], : shape[1]]
    return (rr - row) ** 2 + (cc - col) ** 2 <= (diameter / 2) ** 2


@pytest.fixture
def canvas(qtbot):
    c = MaskCanvas()
    qtbot.addWidget(c)
    c.resize(640, 480)
    c.show()
    qtbot.waitExposed(c)
    c.set_frame(_frame())
    return c


def test_brush_dab_paints_the_disk_at_zoom_1(canvas):
    canvas.zoom_at(1.0 / canvas.zoom)
    assert canvas.zoom == pytest.approx(1.0)
    canvas.set_tool("brush")
    canvas.set_brush_size(7)
    edits = []
    canvas.maskEdited.connect(edits.append)
    click(canvas, at(canvas, 100, 150))
    m = canvas.mask()
    assert m.sum() == 37  # the pixels within 3.5 px of the centre
    assert np.array_equal(m, disk(m.shape, 100, 150, 7))
    assert len(edits) == 1 and np.array_equal(edits[0], m)
    assert canvas.can_undo() and not canvas.can_redo()


def test_brush_lands_on_the_pixel_under_the_pointer_after_zoom_and_pan(canvas):
    canvas.set_tool("brush")
    canvas.set_brush_size(5)
    wheel(canvas, QPointF(200, 150), notches=4)  # zoom about the pointer ...
    canvas.pan_by(-37, 23)  # ... and pan by a non-round amount
    wheel(canvas, QPointF(333, 222), notches=3)
    assert canvas.zoom > 4 and not canvas.is_fitted()
    r, c = 117, 163
    # Qt's integer mapping of the pixel centre: at this zoom it stays inside the pixel
    pos = QPointF(canvas.mapFromScene(QPointF(c + 0.5, r + 0.5)))
    assert 0 <= pos.x() < canvas.viewport().width() and 0 <= pos.y() < canvas.viewport().height()
    click(canvas, pos)
    m = canvas.mask()
    assert np.array_equal(m, disk(m.shape, r, c, 5))
    # a stroke: every pixel within the radius of the segment, one undo step
    drag(canvas, [at(canvas, r + 10, c), at(canvas, r + 10, c + 6), at(canvas, r + 10, c + 12)])
    m = canvas.mask()
    assert m[r + 10, c:c + 13].all() and m[r + 12, c:c + 13].all()
    assert not m[r + 13, c + 6] and not m[r + 10, c + 15]
    assert len(canvas.history) == 2


def test_wheel_zooms_about_the_pointer(canvas):
    anchor = QPointF(250, 180)
    before = canvas.image_point(anchor)
    z0 = canvas.zoom
    wheel(canvas, anchor, notches=2)
    assert canvas.zoom == pytest.approx(z0 * 1.44)
    after = canvas.image_point(anchor)
    assert abs(after.x() - before.x()) * canvas.zoom <= 1.0  # within a screen pixel
    assert abs(after.y() - before.y()) * canvas.zoom <= 1.0
    canvas.fit()
    assert canvas.is_fitted() and canvas.zoom == pytest.approx(z0)


def test_pan_with_right_middle_space_drag_and_select_drag(canvas, qtbot):
    canvas.set_tool("brush")
    p0 = canvas.image_point(QPointF(300, 200))
    drag(canvas, [QPointF(300, 200), QPointF(340, 230)], button=RIGHT)
    p1 = canvas.image_point(QPointF(300, 200))
    assert (p1.x() - p0.x()) * canvas.zoom == pytest.approx(-40, abs=1)
    assert (p1.y() - p0.y()) * canvas.zoom == pytest.approx(-30, abs=1)
    drag(canvas, [QPointF(300, 200), QPointF(280, 190)], button=MIDDLE)
    qtbot.keyPress(canvas, Qt.Key.Key_Space)
    drag(canvas, [QPointF(300, 200), QPointF(310, 200)])
    qtbot.keyRelease(canvas, Qt.Key.Key_Space)
    canvas.set_tool("select")
    drag(canvas, [QPointF(300, 200), QPointF(305, 203), QPointF(320, 220)])
    p2 = canvas.image_point(QPointF(300, 200))
    assert (p2.x() - p0.x()) * canvas.zoom == pytest.approx(-40 + 20 - 10 - 20, abs=2)
    assert not canvas.mask().any() and not canvas.can_undo()  # panning paints nothing


def test_eraser(canvas):
    canvas.set_mask(np.ones((H, W), bool))
    canvas.set_tool("eraser")
    canvas.set_brush_size(9)
    click(canvas, at(canvas, 50, 60))
    assert np.array_equal(~canvas.mask(), disk((H, W), 50, 60, 9))
    assert canvas.undo() and canvas.mask().all()


def test_polygon_enter_fills_the_pixels_whose_centres_are_inside(canvas, qtbot):
    canvas.set_tool("polygon")
    edits = []
    canvas.maskEdited.connect(edits.append)
    corners = [(20, 10), (20, 30), (40, 30), (40, 10)]  # (row, col) pixel corners
    for r, c in corners:
        click(canvas, canvas.viewport_point(r, c))
    assert len(canvas.polygon_vertices) == 4 and not edits
    qtbot.keyClick(canvas, Qt.Key.Key_Return)
    m = canvas.mask()
    assert m[20:40, 10:30].all() and m.sum() == 400
    assert len(edits) == 1 and canvas.polygon_vertices == []


def test_polygon_double_click_closes_and_escape_cancels(canvas, qtbot):
    canvas.set_tool("polygon")
    for r, c in [(100, 100), (100, 160)]:
        click(canvas, canvas.viewport_point(r, c))
    double_click(canvas, canvas.viewport_point(161, 100))
    m = canvas.mask()
    rr, cc = np.mgrid[:H, :W]
    y, x = rr + 0.5 - 100, cc + 0.5 - 100  # no pixel centre lies on an edge
    tri = (y > 0) & (x > 0) & (60 * y + 61 * x < 3660)
    assert np.array_equal(m, tri)
    for r, c in [(10, 200), (10, 250), (60, 250)]:
        click(canvas, canvas.viewport_point(r, c))
    qtbot.keyClick(canvas, Qt.Key.Key_Escape)
    assert canvas.polygon_vertices == [] and np.array_equal(canvas.mask(), tri)
    click(canvas, canvas.viewport_point(10, 200))
    click(canvas, canvas.viewport_point(10, 250))
    qtbot.keyClick(canvas, Qt.Key.Key_Return)  # two vertices: nothing to fill
    assert np.array_equal(canvas.mask(), tri) and len(canvas.history) == 1


def test_flood_fill_fills_a_hole_and_clears_a_polyp(canvas):
    rr, cc = np.mgrid[:H, :W]
    d2 = (rr - 100) ** 2 + (cc - 100) ** 2
    ring = (d2 <= 40**2) & (d2 > 25**2)
    other = (rr - 200) ** 2 + (cc - 300) ** 2 <= 20**2
    canvas.set_mask(ring | other)
    canvas.set_tool("fill")
    click(canvas, at(canvas, 100, 100))  # the hole
    assert np.array_equal(canvas.mask(), (d2 <= 40**2) | other)
    click(canvas, at(canvas, 100, 65))  # on the polyp: cleared, the other one kept
    assert np.array_equal(canvas.mask(), other)
    click(canvas, at(canvas, 5, 5))  # the background: everything
    assert canvas.mask().all()
    assert len(canvas.history) == 3


def test_undo_redo(canvas):
    states = []
    canvas.historyChanged.connect(lambda u, r: states.append((u, r)))
    edits = []
    canvas.maskEdited.connect(edits.append)
    assert not canvas.can_undo() and not canvas.undo()
    canvas.set_tool("brush")
    canvas.set_brush_size(11)
    drag(canvas, [at(canvas, 50, 50), at(canvas, 50, 80)])
    one = canvas.mask()
    drag(canvas, [at(canvas, 150, 50), at(canvas, 150, 80)])
    two = canvas.mask()
    assert len(canvas.history) == 2 and one.sum() < two.sum()
    assert canvas.undo() and np.array_equal(canvas.mask(), one)
    assert np.array_equal(edits[-1], one)  # undo tells the owner too
    assert canvas.undo() and not canvas.mask().any()
    assert not canvas.can_undo() and canvas.can_redo()
    assert canvas.redo() and np.array_equal(canvas.mask(), one)
    assert canvas.redo() and np.array_equal(canvas.mask(), two)
    assert not canvas.redo()
    canvas.undo()
    click(canvas, at(canvas, 250, 300))  # a new edit drops the redo step
    assert not canvas.can_redo()
    assert states[-1] == (True, False) and (False, True) in states
    canvas.set_mask(None, undoable=True)  # e.g. "let the mask decide": one step
    assert not canvas.mask().any() and canvas.undo() and canvas.mask().any()
    canvas.set_mask(None)
    assert not canvas.can_undo()


def test_brush_size_keys_wheel_and_cursor(canvas, qtbot):
    canvas.set_tool("brush")
    canvas.set_brush_size(15)
    sizes = []
    canvas.brushSizeChanged.connect(sizes.append)
    qtbot.keyClick(canvas, Qt.Key.Key_BracketRight)
    assert canvas.brush_size == 15 + brush_step(15) == 18
    qtbot.keyClick(canvas, Qt.Key.Key_BracketLeft)
    qtbot.keyClick(canvas, Qt.Key.Key_BracketLeft)
    assert canvas.brush_size == 18 - brush_step(18) - brush_step(14) == 11
    z = canvas.zoom
    wheel(canvas, QPointF(100, 100), notches=2, mods=Qt.KeyboardModifier.ControlModifier)
    assert canvas.brush_size == 11 + brush_step(11) + brush_step(13) == 16
    assert canvas.zoom == z  # Ctrl+wheel sizes the brush, it does not zoom
    assert sizes == [18, 14, 11, 13, 16]
    for _ in range(20):
        qtbot.keyClick(canvas, Qt.Key.Key_BracketLeft)
    assert canvas.brush_size == 1
    move(canvas, at(canvas, 40, 70))
    assert canvas.brush_cursor.isVisible() and canvas.brush_cursor.radius == 0.5
    assert (canvas.brush_cursor.pos().x(), canvas.brush_cursor.pos().y()) == (70.5, 40.5)
    canvas.set_tool("polygon")
    assert not canvas.brush_cursor.isVisible()


CANDS = [(1, (20, 30, 60, 90), 0.9, None), (2, (100, 100, 140, 160), 0.1, "pending"),
         (3, (150, 200, 200, 260), None, None), (4, (200, 20, 250, 80), 0.7, "accepted"),
         (5, (30, 250, 80, 300), 0.4, "rejected"), (6, (110, 110, 125, 130), 0.5, None)]


def test_candidates_are_drawn_by_score_and_state(canvas):
    canvas.set_candidates(CANDS)
    it = {cid: canvas.candidate_item(cid) for cid in canvas.candidate_ids()}
    assert it[1].rgb == score_rgb(0.9) and it[2].rgb == score_rgb(0.1)
    assert it[1].rgb != it[2].rgb  # high and low scores differ
    assert it[1].badge.text == "0.90" and it[2].badge.text == "0.10"
    assert it[3].rgb == NO_SCORE_RGB and it[3].dashed and it[3].badge.text == "–"
    assert it[4].rgb == ACCEPTED_RGB and it[4].pen_width() > it[1].pen_width()
    assert it[4].badge.state == "accepted" and it[4].badge.text == "0.70"
    assert it[5].rgb == REJECTED_RGB and it[5].opacity() == REJECTED_OPACITY
    assert it[1].rect.x() == 30 and it[1].rect.y() == 20 and it[1].rect.width() == 60
    canvas.select_candidate(2)
    assert it[2].selected and it[2].zValue() > it[1].zValue() and it[2].badge.bold
    canvas.select_candidate(5)
    assert not it[2].selected and it[5].opacity() == 1.0  # a selected rejected box is full
    canvas.set_candidates(CANDS[:5])  # new scores: the selection stays
    assert canvas.selected_candidate == 5 and canvas.candidate_item(5).selected
    with pytest.raises(ValueError, match="state"):
        canvas.set_candidates([(1, (0, 0, 5, 5), 0.5, "maybe")])
    with pytest.raises(ValueError, match="unique"):
        canvas.set_candidates([(1, (0, 0, 5, 5), 0.5, None), (1, (0, 0, 9, 9), 0.5, None)])


def test_box_outline_is_painted_in_its_colour(canvas):
    canvas.set_frame(np.full((H, W, 3), 128, np.uint8))
    canvas.set_candidates([(1, (40, 60, 140, 200), 0.95, None)])
    canvas.select_candidate(None)
    img = canvas.viewport().grab().toImage()
    p = canvas.viewport_point(40, 130)  # middle of the top edge
    got = img.pixelColor(round(p.x()), round(p.y()))
    want = score_rgb(0.95)
    assert max(abs(got.red() - want[0]), abs(got.green() - want[1]),
               abs(got.blue() - want[2])) < 40, (got.name(), want)
    inside = img.pixelColor(round(p.x()), round(p.y()) + 20)
    assert inside.red() == inside.green() == inside.blue()  # the box is not filled


def test_candidate_clicked(canvas):
    canvas.set_candidates(CANDS)
    got = []
    canvas.candidateClicked.connect(got.append)
    click(canvas, at(canvas, 40, 60))
    click(canvas, at(canvas, 115, 120))  # inside 2 and its nested 6: the smaller wins
    click(canvas, at(canvas, 270, 370))  # on no box
    assert got == [1, 6] and canvas.selected_candidate == 6
    canvas.set_tool("brush")
    click(canvas, at(canvas, 175, 230), mods=Qt.KeyboardModifier.ControlModifier)
    assert got == [1, 6, 3] and not canvas.mask().any()  # Ctrl+click selects, paints nothing


def test_bad_input(canvas):
    with pytest.raises(ValueError, match="shape"):
        canvas.set_mask(np.zeros((10, 10), bool))
    with pytest.raises(ValueError, match="brush"):
        canvas.set_tool("lasso")
    with pytest.raises(ValueError, match="RGB"):
        canvas.set_frame(np.zeros((5, 5, 4), np.uint8))
    with pytest.raises(ValueError, match="empty box"):
        canvas.set_candidates([(1, (10, 10, 10, 20), 0.5, None)])


def test_new_frame_size_resets_mask_and_history(canvas):
    canvas.set_tool("brush")
    click(canvas, at(canvas, 10, 10))
    canvas.set_frame(_frame())  # same size: mask and history kept
    assert canvas.mask().any() and canvas.can_undo()
    canvas.set_frame(_frame(100, 120))
    assert canvas.mask().shape == (100, 120) and not canvas.mask().any()
    assert not canvas.can_undo() and canvas.is_fitted()


def test_kvasir_frame_with_its_mask(canvas):
    images = TESTDATA / "kvasir_seg" / "images"
    if not images.is_dir():
        pytest.skip("no ../shared/testdata/kvasir_seg")
    import cv2

    path = sorted(images.glob("*.jpg"))[0]
    rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    mask = cv2.imread(str(TESTDATA / "kvasir_seg" / "masks" / path.name), 0) >= 128
    canvas.set_frame(rgb)
    canvas.set_mask(mask)
    h, w = rgb.shape[:2]
    assert canvas.frame_shape == (h, w) and canvas.is_fitted()
    canvas.set_tool("eraser")
    canvas.set_brush_size(1)
    r, c = np.argwhere(mask)[len(np.argwhere(mask)) // 2]
    click(canvas, at(canvas, r, c))  # fitted (zoom < 1): still the pixel under the pointer
    diff = canvas.mask() != mask
    assert diff.sum() == 1 and diff[r, c]


def test_canvas_keys_win_over_window_shortcuts_only_when_they_are_its_own(qtbot):
    from PySide6.QtGui import QKeySequence, QShortcut
    from PySide6.QtWidgets import QVBoxLayout, QWidget

    win = QWidget()
    qtbot.addWidget(win)
    canvas = MaskCanvas(win)
    QVBoxLayout(win).addWidget(canvas)
    fired = []
    for key in ("[", "Esc"):
        QShortcut(QKeySequence(key), win, activated=lambda k=key: fired.append(k))
    win.resize(640, 480)
    win.show()
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow)  # window shortcuts need an active window
    canvas.set_frame(_frame())
    canvas.setFocus()
    canvas.set_tool("brush")
    size = canvas.brush_size
    qtbot.keyClick(canvas, Qt.Key.Key_BracketLeft)
    assert canvas.brush_size == size - brush_step(size) and fired == []
    canvas.set_tool("select")  # not a brush tool: the window's "[" works
    qtbot.keyClick(canvas, Qt.Key.Key_BracketLeft)
    assert fired == ["["]
    canvas.set_tool("polygon")
    click(canvas, at(canvas, 10, 10))
    qtbot.keyClick(canvas, Qt.Key.Key_Escape)  # cancels the polygon, not the window's Esc
    assert canvas.polygon_vertices == [] and fired == ["["]
    qtbot.keyClick(canvas, Qt.Key.Key_Escape)  # nothing to cancel: the window's Esc
    assert fired == ["[", "Esc"]
