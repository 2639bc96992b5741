"""The three linked views of a CT volume: geometry in mm, linked crosshair, scrolling,
window / level, candidate and sphere markers, sphere marking by drag, redraw time."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from app.widgets.mask_candidates import ACCEPTED_RGB, REJECTED_RGB, score_rgb
from app.widgets.volume_planes import VesselPlanesWidget, vessel_planes
from app.widgets.volume_slices import (
    PRESETS,
    VIEWS,
    GreyMapper,
    SlicePlane,
    grey_lut,
    sphere_discs,
)
from app.widgets.volume_view import VolumeViewer

SHAPE = (40, 60, 80)
SPACING = (2.5, 0.7, 0.8)


def _volume() -> np.ndarray:
    """HU = 10 * plane + row - col (unique enough to tell the slices apart), int16."""
    z, y, x = np.indices(SHAPE)
    return (10 * z + y - x - 200).astype(np.int16)


@pytest.fixture
def viewer(qtbot):
    v = VolumeViewer()
    qtbot.addWidget(v)
    v.resize(900, 800)
    v.show()
    qtbot.waitExposed(v)
    v.set_volume(_volume(), SPACING, flip_z=True)
    return v


# ---------------------------------------------------------------------- arithmetic
def test_grey_lut_matches_the_window_formula():
    rng = np.random.default_rng(0)
    hu = rng.integers(-32768, 32767, 5000).astype(np.int16)
    hu[:6] = [-32768, -1024, -250, 100, 450, 32767]
    for level, width in PRESETS.values():
        want = np.rint(np.clip((hu.astype(np.float64) - (level - width / 2)) / width, 0, 1)
                       * 255).astype(np.uint8)
        got = grey_lut(level, width)[hu.view(np.uint16)]
        assert np.abs(got.astype(int) - want).max() <= 1  # float32 table vs float64
    g = GreyMapper(100, 700)
    assert g(np.array([[-250, 450]], np.int16)).tolist() == [[0, 255]]
    assert g(np.array([[100.0]], np.float32)).tolist() == [[128]]  # any dtype


@pytest.mark.parametrize("view", VIEWS)
def test_slice_planes_round_trip_and_keep_the_aspect(view):
    plane = SlicePlane(view, SHAPE, SPACING, flip_z=True)
    vol = _volume()
    p = np.array([[7.0, 13.0, 29.0]])
    xy, depth = plane.to_scene(p)
    back = plane.from_scene(xy[0, 0], xy[0, 1], p[0, plane.fixed])
    assert np.allclose(back, p[0])
    assert depth[0] == pytest.approx(p[0, plane.fixed] * SPACING[plane.fixed])
    img = plane.image(vol, int(p[0, plane.fixed]))
    h, w = plane.size_mm
    assert img.shape == plane.image_shape
    assert (h, w) == pytest.approx((img.shape[0] * plane.pixel_mm[0],
                                    img.shape[1] * plane.pixel_mm[1]))
    # the image pixel under the scene point holds the voxel's value
    r, c = int(xy[0, 1] / plane.pixel_mm[0]), int(xy[0, 0] / plane.pixel_mm[1])
    assert img[r, c] == vol[7, 13, 29]
    k = int(p[0, plane.fixed])
    if view == "coronal":  # the head (the last plane) at the top
        assert np.array_equal(img[0], vol[-1, k]) and np.array_equal(img[-1], vol[0, k])
    elif view == "sagittal":
        assert np.array_equal(img[0], vol[-1, :, k]) and np.array_equal(img[-1], vol[0, :, k])


def test_sphere_discs_cut_the_slice():
    plane = SlicePlane("axial", SHAPE, SPACING)
    discs = sphere_discs(plane, 10, [1, 2], [[10, 20, 20], [12, 30, 30]], [3.0, 3.0])
    by = {d.key: d for d in discs}
    assert by[1].radius == pytest.approx(3.0) and by[1].inside
    assert 2 not in by  # 5 mm away: beyond its 3 mm radius
    near = sphere_discs(plane, 10, [2], [[12, 30, 30]], [3.0], near_mm=2.5, min_radius_mm=1)
    assert len(near) == 1 and not near[0].inside and near[0].radius == 1
    d = sphere_discs(plane, 11, [1], [[10, 20, 20]], [3.0])[0]
    assert d.radius == pytest.approx(np.sqrt(9 - 2.5 ** 2))


# ---------------------------------------------------------------------- the widget
def test_views_are_linked_by_a_click(qtbot, viewer):
    moved = []
    viewer.cursorMoved.connect(moved.append)
    ax = viewer.views["axial"]
    target = np.array([viewer.cursor[0], 17, 51])
    pos = ax.viewport_point(target).toPoint()
    qtbot.mouseClick(ax.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert tuple(viewer.cursor[1:]) == pytest.approx((17, 51), abs=1)
    assert viewer.views["coronal"].index == viewer.cursor[1]
    assert viewer.views["sagittal"].index == viewer.cursor[2]
    assert moved and tuple(moved[-1]) == tuple(viewer.cursor)
    # the coronal view shows row cursor[1]: its pixels are the volume's
    img = viewer.views["coronal"].image_item._buf
    want = viewer.grey(_volume()[::-1, viewer.cursor[1], :])
    assert np.array_equal(img, want)
    # a click in the sagittal view moves the axial slice
    sag = viewer.views["sagittal"]
    pos = sag.viewport_point(np.array([30, viewer.cursor[1], viewer.cursor[2]])).toPoint()
    qtbot.mouseClick(sag.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert viewer.cursor[0] == pytest.approx(30, abs=1)
    assert viewer.views["axial"].index == viewer.cursor[0]


def test_scrolling_moves_one_view(qtbot, viewer):
    before = viewer.cursor.copy()
    cor = viewer.views["coronal"]
    cor.setFocus()
    qtbot.keyClick(cor, Qt.Key.Key_PageDown)
    qtbot.keyClick(cor, Qt.Key.Key_PageDown)
    assert viewer.cursor[1] == before[1] + 2 and viewer.cursor[0] == before[0]
    qtbot.keyClick(cor, Qt.Key.Key_PageUp)
    assert viewer.cursor[1] == before[1] + 1
    ax = viewer.views["axial"]
    z = viewer.cursor[0]
    centre = QPointF(ax.viewport().rect().center())
    for delta, mods in ((-120, Qt.KeyboardModifier.NoModifier),
                        (-120, Qt.KeyboardModifier.ShiftModifier)):
        ev = QWheelEvent(centre, ax.viewport().mapToGlobal(centre), QPoint(0, 0),
                         QPoint(0, delta), Qt.MouseButton.NoButton, mods,
                         Qt.ScrollPhase.NoScrollPhase, False)
        QApplication.sendEvent(ax.viewport(), ev)
    assert viewer.cursor[0] == z + 1 + 5 and viewer.active == "axial"
    viewer.step("axial", -100)  # clamped
    assert viewer.cursor[0] == 0 and viewer.views["axial"].caption.startswith("Axial 1 /")


def test_window_presets_and_right_drag_change_levels(qtbot, viewer):
    ax = viewer.views["axial"]
    assert viewer.window() == PRESETS["PE"]
    pe = ax.image_item._buf.copy()
    viewer.apply_preset("Lung")
    assert viewer.window() == PRESETS["Lung"] and viewer.preset_buttons["Lung"].isChecked()
    assert not np.array_equal(pe, ax.image_item._buf)
    viewer.preset_buttons["Mediastinum"].click()
    assert viewer.window() == PRESETS["Mediastinum"]
    seen = []
    viewer.windowChanged.connect(lambda lv, wd: seen.append((lv, wd)))
    start = QPoint(200, 200)
    qtbot.mousePress(ax.viewport(), Qt.MouseButton.RightButton, pos=start)
    qtbot.mouseMove(ax.viewport(), start + QPoint(100, -40))
    qtbot.mouseRelease(ax.viewport(), Qt.MouseButton.RightButton, pos=start + QPoint(100, -40))
    level, width = viewer.window()
    assert width > 400 and level < 40 and seen[-1] == (level, width)
    assert not any(b.isChecked() for b in viewer.preset_buttons.values())
    ctrl = Qt.KeyboardModifier.ControlModifier  # Ctrl + left drag: the same
    qtbot.mousePress(ax.viewport(), Qt.MouseButton.LeftButton, ctrl, pos=start)
    qtbot.mouseMove(ax.viewport(), start + QPoint(0, 50))
    qtbot.mouseRelease(ax.viewport(), Qt.MouseButton.LeftButton, ctrl, pos=start + QPoint(0, 50))
    assert viewer.window()[1] == width and viewer.window()[0] > level
    with pytest.raises(ValueError, match="Lung"):
        viewer.apply_preset("bone")


def test_candidates_and_spheres_are_drawn(qtbot, viewer):
    c = viewer.cursor
    centres = [[c[0], 20, 20], [c[0], 40, 40], [c[0] + 1, 30, 60], [c[0] + 9, 10, 10]]
    viewer.set_candidates([5, 6, 7, 8], centres, [3, 3, 3, 3], [0.9, None, 0.1, 0.5],
                          ["accepted", None, "rejected", None])
    marks = {m.disc.key: m for m in viewer.views["axial"].overlay_item.overlay.candidates}
    assert set(marks) == {5, 6, 7}  # 8 lies 22 mm away; 7 is one slice off (near)
    assert marks[5].rgb == ACCEPTED_RGB and marks[7].rgb == REJECTED_RGB
    assert marks[6].rgb == score_rgb(None) and marks[6].state == "pending"
    viewer.set_candidates([6], [centres[1]], [3], [0.3])
    [m] = viewer.views["axial"].overlay_item.overlay.candidates
    assert m.rgb == score_rgb(0.3) and m.label == "0.30"
    clicked = []
    viewer.candidateClicked.connect(clicked.append)
    ax = viewer.views["axial"]
    qtbot.mouseClick(ax.viewport(), Qt.MouseButton.LeftButton,
                     pos=ax.viewport_point(np.array(centres[1])).toPoint())
    assert clicked == [6]
    viewer.select_candidate(6)
    assert tuple(viewer.cursor) == tuple(centres[1])
    # a sphere of 4 mm, 1 plane (2.5 mm) above the axial slice: a circle of 3.12 mm
    viewer.set_spheres([9], [[c[0] + 1, 30, 30]], [4.0])
    [d] = viewer.views["axial"].overlay_item.overlay.spheres
    assert d.radius == pytest.approx(np.sqrt(16 - 2.5 ** 2))
    assert viewer.sphere_at([c[0] + 1, 31, 30]) == 9 and viewer.sphere_at([0, 0, 0]) is None


def test_sphere_by_drag_in_mark_mode(qtbot, viewer):
    drawn = []
    viewer.sphereDrawn.connect(lambda c, r: drawn.append((c, r)))
    viewer.set_mark_mode(True)
    ax = viewer.views["axial"]
    start = ax.viewport_point(np.array([viewer.cursor[0], 30, 40]))
    end = ax.viewport_point(np.array([viewer.cursor[0], 30, 50]))  # 10 columns = 8 mm
    qtbot.mousePress(ax.viewport(), Qt.MouseButton.LeftButton, pos=start.toPoint())
    qtbot.mouseMove(ax.viewport(), end.toPoint())
    assert ax.overlay_item.overlay.preview is not None
    qtbot.mouseRelease(ax.viewport(), Qt.MouseButton.LeftButton, pos=end.toPoint())
    [(centre, r)] = drawn
    assert centre == pytest.approx([viewer.cursor[0], 30, 40], abs=0.5)
    assert r == pytest.approx(8.0, abs=0.5)
    assert ax.overlay_item.overlay.preview is None
    viewer.set_mark_mode(False)  # a plain click only moves the crosshair again
    qtbot.mouseClick(ax.viewport(), Qt.MouseButton.LeftButton, pos=start.toPoint())
    assert len(drawn) == 1


def test_vessel_planes_of_a_tube():
    """A tube along the rows: its cross-section is a disc, its long section a band."""
    z, y, x = np.indices((30, 40, 40))
    sp = (1.0, 1.0, 1.0)
    hu = np.where((z - 15) ** 2 + (x - 20) ** 2 <= 16, 400, -800).astype(np.int16)
    cross, long = vessel_planes(hu, sp, (15, 20, 20), (0, 1, 0), 20.0, size=41)
    assert cross[20, 20] == 400 and cross[0, 0] == -800
    lit = cross > 0  # a disc of radius 4 mm = 8 px of 0.49 mm
    assert 0.8 < lit.sum() / (np.pi * (4 / (20 / 41)) ** 2) < 1.25
    assert (long[:, 20] == 400).all()  # the axis runs down the long section
    w = VesselPlanesWidget()
    w.set_planes(cross, long, (100, 700), "tube")
    assert w.has_planes() and len(w.canvas.images) == 2


def test_slice_redraw_time_on_a_512x512x400_volume(qtbot):
    """Redraw (cut + window + image + overlay) and paint of one slice; reported."""
    rng = np.random.default_rng(0)
    vol = np.empty((400, 512, 512), np.int16)
    vol[:] = rng.integers(-1000, 1000, (1, 512, 512), dtype=np.int16)
    v = VolumeViewer()
    qtbot.addWidget(v)
    v.resize(1100, 1000)
    v.show()
    qtbot.waitExposed(v)
    v.set_volume(vol, (0.8, 0.7, 0.7), flip_z=True)
    n = 200
    ids = np.arange(n)
    v.set_candidates(ids, rng.random((n, 3)) * [400, 512, 512], np.full(n, 3.0),
                     rng.random(n))
    report = {}
    for name in VIEWS:
        view = v.views[name]
        times, paints = [], []
        for k in range(15):
            t0 = time.perf_counter()
            v.step(name, 1 if k % 2 == 0 else -1)
            view.viewport().repaint()
            t2 = time.perf_counter()
            times.append(v.last_redraw_ms[name])
            paints.append((t2 - t0) * 1000)
        report[name] = (float(np.median(times)), float(np.median(paints)))
    print("\nslice redraw on 512x512x400 int16, median ms (update, update+paint):",
          {k: (round(a, 2), round(b, 2)) for k, (a, b) in report.items()})
    assert all(b < 250 for _, b in report.values())  # loose: the number is reported
