"""The CIMT workspace's leftovers, driven as a user would, on a real project (SQLite,
synthetic carotid images): undo / redo of a snake correction puts the snake on screen
back, a one-point tracing survives switching studies and reopening the project (and is
undoable), the snake parameters set in the dialog re-converge the snakes and stay with
the project, and the results view exports SVG, PNG and CSV."""

from __future__ import annotations

import csv
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from cimt_cases import ridge_output
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QDialogButtonBox


@pytest.fixture
def folder(tmp_path):
    """A project folder with two carotid studies (one synthetic frame each)."""
    import cv2

    from core.events import drain
    from core.io.importer import import_path
    from core.store import Project
    from core.synth.carotid import synth_carotid

    project = Project.create(tmp_path / "proj")
    for k, seed in enumerate((3, 4)):
        d = tmp_path / f"us{k + 1}" / "images"
        d.mkdir(parents=True)
        cv2.imwrite(str(d / "carotid.png"), synth_carotid(seed).frames[0])
        drain(import_path(project, d.parent, task="cimt"))
    assert len(project.studies()) == 2
    project.close()
    return tmp_path / "proj"


@pytest.fixture
def open_ws(qtbot, folder):
    """``open_ws()``: the project opened afresh and a CIMT workspace on it, shown (the
    first study open); everything closed after the test."""
    from app.workspaces.cimt import CimtWorkspace
    from core.store import Project

    opened = []

    def make():
        project = Project.open(folder)
        w = CimtWorkspace(project)
        qtbot.addWidget(w)
        w.resize(1400, 850)
        w.show()
        qtbot.waitExposed(w)
        opened.append(w)
        return w

    yield make
    for w in opened:
        close(w)


def close(w) -> None:
    """Close a workspace and its project (as closing the window does); once."""
    if getattr(w, "_closed_by_test", False):
        return
    w._closed_by_test = True
    w.shutdown_jobs(30000)
    w.close()
    w.project.close()


def _drag(qtbot, view, a, b):
    qtbot.mousePress(view.viewport(), Qt.MouseButton.LeftButton, pos=a)
    qtbot.mouseMove(view.viewport(), pos=b)
    qtbot.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, pos=b)


def _click(qtbot, w, row, col):
    qtbot.mouseClick(w.canvas.viewport(), Qt.MouseButton.LeftButton,
                     pos=w.canvas.viewport_of(row, col).toPoint())


def _ridge_output(ws, params=None):
    """An ROI on the open frame and model output from a map with flat LI / MA ridges,
    its snakes converged with ``params`` (default: the defaults)."""
    from core.store.geometry import Box

    ws.project.add_annotation(ws.study.id, "roi", Box(140, 60, 200, 140), frame=0)
    ws.reload()
    return ridge_output(ws, params=params)


def _drag_snake(qtbot, ws, col: int = 100, down: float = 6.0) -> tuple[float, float]:
    """Drag the first ROI's LI snake point at column ``col`` down by ``down`` rows; the
    constraint it became (row, col), within the mouse's resolution of the aim."""
    pts = ws.canvas.snake_points(0, "LI")
    i = int(np.argmin(np.abs(pts[:, 1] - col)))
    ws.set_tool("select")
    _drag(qtbot, ws.canvas, ws.canvas.viewport_of(*pts[i]).toPoint(),
          ws.canvas.viewport_of(pts[i, 0] + down, col).toPoint())
    got = ws._results[ws.frame_rois()[0].id].constraints["LI"][-1]
    assert got[0] == pytest.approx(pts[i, 0] + down, abs=0.5) and got[1] == col
    return got


# ---------------------------------------------------------------------- 1: undo / redo
def test_undo_redo_of_a_snake_correction_restores_the_snake_on_screen(qtbot, open_ws):
    ws = open_ws()
    ann = _ridge_output(ws)
    before = ws.canvas.snake_points(0, "LI")
    ma_before = ws.canvas.snake_points(0, "MA")
    target = _drag_snake(qtbot, ws)
    after = ws.canvas.snake_points(0, "LI")
    assert np.abs(after - before).max() > 3  # the correction moved the snake
    [line] = ws.project.annotations(ws.study.id, kind="polyline")
    assert line.value == "LI"

    ws.undo()  # Ctrl+Z: the tracing and the snake on screen, as before the drag
    assert ws.project.annotations(ws.study.id, kind="polyline") == []
    np.testing.assert_array_equal(ws.canvas.snake_points(0, "LI"), before)
    np.testing.assert_array_equal(ws.canvas.snake_points(0, "MA"), ma_before)
    assert ws._results[ann.id].n_constraints == 0
    assert "IMT" in ws.info.text() or "undone" in ws.info.text()

    ws.redo()  # and back: the corrected snake and its constraint
    np.testing.assert_array_equal(ws.canvas.snake_points(0, "LI"), after)
    assert ws._results[ann.id].constraints["LI"] == [target]
    [line] = ws.project.annotations(ws.study.id, kind="polyline")
    pts = line.geometry.points
    assert np.interp(target[1], pts[:, 1], pts[:, 0]) == pytest.approx(target[0], abs=0.3)

    # a second correction: undone one at a time, each puts its own snake back
    _drag_snake(qtbot, ws, col=120, down=-5)
    twice = ws.canvas.snake_points(0, "LI")
    ws.undo()
    np.testing.assert_array_equal(ws.canvas.snake_points(0, "LI"), after)
    ws.undo()
    np.testing.assert_array_equal(ws.canvas.snake_points(0, "LI"), before)
    ws.redo()
    ws.redo()
    np.testing.assert_array_equal(ws.canvas.snake_points(0, "LI"), twice)


# ---------------------------------------------------------------------- 2: one point
def test_a_one_point_tracing_is_kept_restored_and_undoable(qtbot, open_ws):
    ws = open_ws()
    first = ws.study.id
    ws.trace("LI")
    _click(qtbot, ws, 160.0, 90.0)
    assert len(ws.canvas.tracing("LI")) == 1
    assert "draft" in ws.info.text()  # the user is told it is kept
    assert ws.project.annotations(first, kind="polyline") == []  # not a tracing yet

    ws.undo()  # the click is an undo step of its own
    assert len(ws.canvas.tracing("LI")) == 0
    ws.redo()
    np.testing.assert_allclose(ws.canvas.tracing("LI"), [[160.0, 90.0]], atol=0.6)

    # another study and back: the point is still there
    other = next(s.id for s in ws.project.studies() if s.id != first)
    ws.select_study(other)
    assert ws.study.id == other and len(ws.canvas.tracing("LI")) == 0
    ws.select_study(first)
    np.testing.assert_allclose(ws.canvas.tracing("LI"), [[160.0, 90.0]], atol=0.6)

    # close the project; reopened, the point comes back (and the user is told)
    close(ws)
    ws = open_ws()
    ws.select_study(first)
    np.testing.assert_allclose(ws.canvas.tracing("LI"), [[160.0, 90.0]], atol=0.6)
    assert "draft" in ws.info.text() or "LI on frame 0" in ws.info.text()

    # the second point makes it the stored tracing (one step, draft included)
    ws.trace("LI")
    _click(qtbot, ws, 162.0, 130.0)
    [line] = ws.project.annotations(first, kind="polyline")
    np.testing.assert_allclose(line.geometry.points, [[160, 90], [162, 130]], atol=0.6)
    ws.undo()
    assert ws.project.annotations(first, kind="polyline") == []
    np.testing.assert_allclose(ws.canvas.tracing("LI"), [[160.0, 90.0]], atol=0.6)
    ws.redo()
    assert len(ws.project.annotations(first, kind="polyline")) == 1
    # deleting back to one point keeps that point as the draft, stored at once
    _click(qtbot, ws, 162.0, 130.0)  # selects the second point (a click on it)
    assert ws.canvas.selected_point == 1
    qtbot.keyClick(ws.canvas, Qt.Key.Key_Delete)
    assert ws.project.annotations(first, kind="polyline") == []
    close(ws)
    ws = open_ws()
    ws.select_study(first)
    np.testing.assert_allclose(ws.canvas.tracing("LI"), [[160.0, 90.0]], atol=0.6)
    assert len(ws.canvas.tracing("MA")) == 0


# ---------------------------------------------------------------------- 3: parameters
def test_snake_parameters_from_the_dialog_reconverge_and_persist(qtbot, open_ws):
    from core.tasks.cimt.snake import SnakeParams

    ws = open_ws()
    assert ws.snake_params == SnakeParams() and ws.snake_button.isVisible()
    ann = _ridge_output(ws)
    target = _drag_snake(qtbot, ws)
    soft = ws.canvas.snake_points(0, "LI")

    qtbot.mouseClick(ws.snake_button, Qt.MouseButton.LeftButton)
    dlg = ws._snake_dialog
    qtbot.waitExposed(dlg)
    ok = dlg.buttons.button(QDialogButtonBox.StandardButton.Ok)
    for name, box in dlg.fields.items():  # every field explains itself
        assert len(box.toolTip()) > 40, name
    dlg.fields["w_line"].setValue(0.0)  # refused: the snake would ignore the map
    assert not ok.isEnabled() and "ignores the confidence map" in dlg.problem.text()
    dlg.fields["w_line"].setValue(1.0)
    assert ok.isEnabled() and dlg.problem.text() == ""
    dlg.fields["beta"].setValue(5.0)  # much stiffer
    qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)
    assert not dlg.isVisible()

    stiff = ws.canvas.snake_points(0, "LI")
    assert ws.snake_params.beta == 5.0
    assert np.abs(stiff[:, 0] - soft[:, 0]).max() > 1.0  # the snake re-converged...
    j = int(np.argmin(np.abs(stiff[:, 1] - target[1])))
    assert stiff[j, 0] == pytest.approx(target[0], abs=0.3)  # ...through the correction
    wide = np.isin(np.abs(stiff[:, 1] - target[1]), (2, 5))  # stiffer: bends over more
    assert np.all(stiff[wide, 0] > soft[wide, 0] + 1.0)  # columns around the correction
    assert ws.project.get_setting("cimt/snake") == {"beta": 5.0}
    assert ws.task_options()["snake"] == {"beta": 5.0}  # evaluation converges alike

    ws.undo()  # the correction undone under the new parameters: re-converged without it
    assert ws._results[ann.id].n_constraints == 0
    np.testing.assert_allclose(ws.canvas.snake_points(0, "LI")[:, 0], 160, atol=1.0)
    ws.redo()
    np.testing.assert_allclose(ws.canvas.snake_points(0, "LI"), stiff)

    # reopened: the parameters are the project's, and converge the same snake
    close(ws)
    ws = open_ws()
    assert ws.snake_params.beta == 5.0 and "rigidity 5" in ws.snake_button.toolTip()
    ann = _ridge_output(ws, ws.snake_params)
    again = ws.reconverge(ann.id, "LI", *target)
    np.testing.assert_allclose(again, stiff, atol=1e-9)
    dlg = ws.edit_snake_params()
    assert dlg.fields["beta"].value() == 5.0
    dlg.buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).click()
    assert dlg.fields["beta"].value() == SnakeParams().beta
    dlg.buttons.button(QDialogButtonBox.StandardButton.Apply).click()
    assert ws.snake_params == SnakeParams() and ws.project.get_setting("cimt/snake") == {}
    np.testing.assert_allclose(ws.canvas.snake_points(0, "LI"), soft, atol=1e-9)
    dlg.reject()

    # a snake that ran to the ROI's edge (not converged) is pointed out
    from dataclasses import replace

    out = ws._results[ann.id]
    li = out.boundaries.li.copy()
    li[-3:, 0] = out.box[0]
    out.boundaries = replace(out.boundaries, li=li)
    assert "ran to the ROI's edge" in ws._runaway_text()


# ---------------------------------------------------------------------- 4: exports
def test_results_export_svg_png_and_csv(qtbot, tmp_path):
    from app.widgets.cimt_results import CimtResultsWidget

    rng = np.random.default_rng(4)
    li, ma = rng.gamma(2, 0.03, 25), rng.gamma(2, 0.05, 25)
    expert = 0.7 + rng.normal(0, 0.05, 25)
    system = expert + 0.02 + rng.normal(0, 0.03, 25)
    w = CimtResultsWidget()
    qtbot.addWidget(w)
    w.resize(900, 380)
    w.show()
    qtbot.waitExposed(w)
    with pytest.raises(ValueError, match="no CIMT result"):
        w.export(tmp_path / "none.svg")
    w.set_data(li, ma, system, expert, unit="mm")
    texts = [a.text() for a in w.export_button.menu().actions()]
    assert texts == ["PNG image…", "SVG drawing…", "CSV numbers…"]

    svg = w.export(tmp_path / "r.svg")
    raw = svg.read_text(encoding="utf-8")
    assert raw.startswith("<?xml") and "<svg" in raw
    root = ET.fromstring(raw)  # well-formed
    ns = "{http://www.w3.org/2000/svg}"
    assert root.tag == f"{ns}svg" and float(root.get("width")) >= 800
    groups = [g for g in root if g.tag == f"{ns}g"]
    assert len(groups) == 2  # both plots
    assert "Bland" in raw and "Boundary error" in raw
    ids = [e.get("id") for e in root.iter() if e.get("id")]
    assert len(ids) == len(set(ids))  # the two plots' clip paths stay apart
    from PySide6.QtSvg import QSvgRenderer

    assert QSvgRenderer(str(svg)).isValid()

    # from a narrow side panel the figure is still drawn at a readable size, data included
    n_paths = raw.count("<path")
    w.resize(420, 240)
    qtbot.wait(10)
    narrow = ET.fromstring(w.export(tmp_path / "n.svg").read_text(encoding="utf-8"))
    assert float(narrow.get("width")) >= 900
    assert abs(sum(1 for e in narrow.iter() if e.tag == f"{ns}path") - n_paths) <= n_paths // 5
    w.resize(900, 380)
    qtbot.wait(10)

    png = w.export(tmp_path / "r.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = QImage(str(png))
    assert not img.isNull() and img.width() >= 1600

    rows = list(csv.reader(w.export(tmp_path / "r.csv").open(encoding="utf-8")))
    assert rows[0] == ["roi", "li_distance", "ma_distance", "imt_system", "imt_expert", "unit"]
    assert len(rows) == 26 and rows[1][-1] == "mm"
    np.testing.assert_allclose([float(r[1]) for r in rows[1:]], li)
    np.testing.assert_allclose([float(r[3]) for r in rows[1:]], system)
    with pytest.raises(ValueError, match=r"\.svg"):
        w.export(tmp_path / "r.pdf")
