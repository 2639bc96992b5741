"""LI/MA tracings: checks, JSON and CUBS formats, import into a project, export, undo."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.events import drain
from core.io.tracings import Tracing, check_tracing, read_tracings_json, tracings_equal
from core.io.tracings_cubs import cubs_id, parse_cubs_id, read_cubs
from core.io.tracings_store import export_tracings, import_tracings, study_tracings
from core.io.ultrasound_spacing import calibrate_study
from core.store import Box, Polyline, Project
from core.store.history import AnnotationHistory

H, W = 120, 200


def wall(cols, row, slope=0.0, wiggle=0.0):
    cols = np.asarray(cols, dtype=np.float64)
    return np.column_stack([row + slope * cols + wiggle * np.sin(cols / 7.0), cols])


def make_project(folder, names=("a", "b"), n_frames=(1, 3), task="cimt"):
    project = Project.create(folder)
    for name, n in zip(names, n_frames):
        project.add_study(f"/data/{name}.png", f"hash-{name}", "us" if n > 1 else "image",
                          task, n, 0.0, H, W, name=name)
    return project


def draw(project, name, frame, li, ma, rois=()):
    s = project.find_study(name)
    project.add_annotation(s.id, "polyline", Polyline(li), frame=frame, value="LI")
    project.add_annotation(s.id, "polyline", Polyline(ma), frame=frame, value="MA")
    for r in rois:
        project.add_annotation(s.id, "roi", Box(*r), frame=frame)


def snapshot(project):
    """Every study's tracings, by name, for exact comparison."""
    return {s.name: study_tracings(project, s) for s in project.studies()}


def same(a, b, rois=True):
    assert a.keys() == b.keys()
    for name in a:
        assert len(a[name]) == len(b[name]), name
        for x, y in zip(a[name], b[name]):
            assert (x.frame, x.mm_per_pixel) == (y.frame, y.mm_per_pixel)
            assert np.array_equal(x.li, y.li) and np.array_equal(x.ma, y.ma)
            if rois:
                assert x.rois == y.rois


def awkward(cols):
    """Floats with long expansions: a lossless round trip must keep every bit."""
    return wall(cols, 40 + 1 / 3, slope=0.1 + 0.2, wiggle=np.pi)


@pytest.fixture
def source(tmp_path):
    project = make_project(tmp_path / "src")
    cols = np.arange(20.5, 180.5, 3.7)
    li = awkward(cols)
    draw(project, "a", 0, li, li + [7.25, 0.0], rois=[(30, 20, 90, 100), (30, 100, 90, 180)])
    draw(project, "b", 2, wall(cols, 60.0, wiggle=1.5), wall(cols, 68.0), rois=[(50, 10, 80, 60)])
    calibrate_study(project, project.find_study("a").id, 0.0625)
    yield project
    project.close()


def test_json_round_trip_is_lossless(tmp_path, source):
    out = tmp_path / "t.json"
    rep = drain(export_tracings(source, out))
    assert (rep.format, rep.n_frames, rep.n_studies) == ("json", 2, 2)
    doc = json.loads(out.read_text())
    assert doc["version"] == 1 and doc["studies"][0]["mm_per_pixel"] == 0.0625
    read, problems = read_tracings_json(out)
    assert not problems
    for t, ref in zip(read, [t for ts in snapshot(source).values() for t in ts]):
        assert tracings_equal(t, ref)
    with make_project(tmp_path / "dst") as dst:
        rep = drain(import_tracings(dst, out))
        assert (rep.added, rep.replaced, rep.unchanged, rep.rois_added) == (4, 0, 0, 3)
        assert rep.calibrated == (dst.find_study("a").id,)
        assert dst.find_study("a").meta["spacing_source"] == "imported"
        same(snapshot(dst), snapshot(source))
        again = drain(import_tracings(dst, out))  # importing twice changes nothing
        assert (again.added, again.unchanged, again.rois_added) == (0, 4, 0)
        assert len(dst.annotations(kind="roi")) == 3


def test_cubs_round_trip_keeps_tracings_and_spacing(tmp_path, source):
    folder = tmp_path / "cubs"
    rep = drain(export_tracings(source, folder, fmt="cubs"))
    names = sorted(p.name for p in folder.rglob("*.txt"))
    assert names == ["a-LI.txt", "a-MA.txt", "a_CF.txt", "b_frame0002-LI.txt",
                     "b_frame0002-MA.txt"]
    assert (folder / "CF" / "a_CF.txt").read_text().strip() == "0.0625"
    first = (folder / "a-LI.txt").read_text().splitlines()[0].split()
    assert len(first) == 2 and float(first[0]) == 20.5  # x (column) first
    assert rep.n_frames == 2
    with make_project(tmp_path / "dst") as dst:
        rep = drain(import_tracings(dst, folder))
        assert rep.format == "cubs" and rep.added == 4 and not rep.refused
        same(snapshot(dst), {k: [type(t)(t.name, t.frame, t.li, t.ma, (), t.mm_per_pixel)
                                 for t in v] for k, v in snapshot(source).items()}, rois=False)
        assert dst.find_study("a").meta["pixel_spacing_mm"] == [0.0625, 0.0625]


def test_cubs_two_row_layout_commas_and_matlab_origin(tmp_path):
    (tmp_path / "CF").mkdir()
    (tmp_path / "img1-LI.txt").write_text("# LI\n11, 21, 31\n41, 42, 43\n")
    (tmp_path / "img1-MA.txt").write_text("11 49\n21 50\n31 51\n")
    (tmp_path / "CF" / "img1_CF.txt").write_text("0.06\n")
    (t,), problems = read_cubs(tmp_path, index_base=1)
    assert not problems and t.mm_per_pixel == 0.06
    assert np.array_equal(t.li, [[40, 10], [41, 20], [42, 30]])
    assert np.array_equal(t.ma, [[48, 10], [49, 20], [50, 30]])
    assert t.locate("MA", 1) == "img1-MA.txt line 2"
    (tmp_path / "bad-LI.txt").write_text("1 2 3\n4 5\n6 7\n")
    _, problems = read_cubs(tmp_path)
    assert any("bad-LI.txt line 1" in p.message for p in problems)
    with pytest.raises(ValueError, match="holds no CUBS tracings"):
        read_cubs(tmp_path / "CF")


def test_cubs_ids():
    assert cubs_id("a", 0, 1) == "a" and cubs_id("a", 3, 10) == "a_frame0003"
    assert parse_cubs_id("a_frame0003", ["a"]) == ("a", 3)
    assert parse_cubs_id("x_frame1", ["a"]) is None
    with pytest.raises(ValueError, match="file name"):
        cubs_id("a/b", 0, 1)


def test_crossing_and_backwards_refused_with_the_line_and_nothing_lost(tmp_path):
    with make_project(tmp_path / "p") as project:
        keep_li, keep_ma = wall([10, 50, 90], 40.0), wall([10, 50, 90], 50.0)
        draw(project, "a", 0, keep_li, keep_ma)
        folder = tmp_path / "in"
        folder.mkdir()
        (folder / "a-LI.txt").write_text("10 40\n50 40\n90 40\n")
        (folder / "a-MA.txt").write_text("10 50\n50 38\n90 50\n")  # crosses LI at x = 50
        (folder / "b_frame0001-LI.txt").write_text("10 40\n50 41\n45 42\n90 43\n")  # turns back
        (folder / "b_frame0001-MA.txt").write_text("10 50\n90 50\n")
        rep = drain(import_tracings(project, folder))
        assert rep.imported == 0 and len(rep.refused) == 2
        msgs = {p.code: p.message for p in rep.refused}
        assert "x = 50" in msgs["crossing"] and "a-MA.txt line 2" in msgs["crossing"]
        assert "b_frame0001-LI.txt line 3" in msgs["backwards"]
        assert "line 2" in msgs["backwards"]
        (li,) = project.annotations(kind="polyline", frame=0, study_id=1)[:1]
        assert np.array_equal(li.geometry.points, keep_li)  # nothing lost


def test_reversed_tracing_is_turned_round_and_swapped_ones_named():
    t = Tracing("a", 0, wall([90, 50, 10], 40.0), wall([10, 50, 90], 50.0))
    fixed, problems = check_tracing(t, height=H, width=W)
    assert fixed is not None and np.array_equal(fixed.li[:, 1], [10, 50, 90])
    assert [p.code for p in problems] == ["reversed"] and problems[0].imported
    swapped = Tracing("a", 0, wall([10, 90], 50.0), wall([10, 90], 40.0))
    fixed, problems = check_tracing(swapped)
    assert fixed is None and "swapped" in problems[0].message
    outside = Tracing("a", 0, wall([10, 250], 40.0), None)
    fixed, problems = check_tracing(outside, height=H, width=W)
    assert fixed is None and problems[0].code == "outside"
    bad_roi = Tracing("a", 0, None, None, ((10, 10, 5, 20),))
    assert check_tracing(bad_roi)[1][0].code == "malformed"


def test_unmatched_studies_frames_and_tasks_reported(tmp_path):
    with make_project(tmp_path / "p", names=("a", "b", "polyp"), n_frames=(1, 3, 1)) as project:
        polyp = project.add_study("/data/p.png", "hash-p", "image", "polyps", 1, 0.0, H, W,
                                  name="colon")
        assert polyp.task == "polyps"
        li, ma = wall([10, 90], 40.0).tolist(), wall([10, 90], 50.0).tolist()
        doc = {"version": 1, "studies": [
            {"name": "nobody", "frame": 0, "LI": li, "MA": ma},
            {"name": "b", "frame": 7, "LI": li, "MA": ma},
            {"name": "colon", "frame": 0, "LI": li, "MA": ma},
            {"name": "a", "frame": 0, "LI": li, "MA": ma, "mm_per_pixel": 0.5},
            {"name": "a", "frame": 0, "LI": li, "MA": ma},
            {"name": "a", "frame": "x"}]}
        f = tmp_path / "t.json"
        f.write_text(json.dumps(doc))
        calibrate_study(project, project.find_study("a").id, 0.05)
        rep = drain(import_tracings(project, f))
        codes = sorted(p.code for p in rep.problems)
        assert codes == ["duplicate", "frame", "malformed", "spacing", "study", "task"]
        assert rep.added == 2 and project.find_study("a").meta["pixel_spacing_mm"] == [0.05] * 2
        assert "studies[5]" in next(p.entry for p in rep.problems if p.code == "malformed")


def test_json_errors_say_where(tmp_path):
    f = tmp_path / "t.json"
    f.write_text('{"version": 1,\n "studies": [}')
    with pytest.raises(ValueError, match="line 2, column"):
        read_tracings_json(f)
    f.write_text('{"version": 2, "studies": []}')
    with pytest.raises(ValueError, match="version 2"):
        read_tracings_json(f)


def test_import_is_one_undo_step(tmp_path, source):
    out = tmp_path / "t.json"
    drain(export_tracings(source, out))
    with make_project(tmp_path / "dst") as dst:
        old = wall([10, 90], 30.0)
        draw(dst, "a", 0, old, wall([10, 90], 35.0))
        history = AnnotationHistory(dst)
        rep = drain(import_tracings(dst, out, history=history))
        assert rep.replaced == 2 and rep.added == 2
        same(snapshot(dst), snapshot(source))
        history.undo()
        assert not history.can_undo
        (li,) = [a for a in dst.annotations(kind="polyline") if a.value == "LI"]
        assert np.array_equal(li.geometry.points, old)
        assert not dst.annotations(kind="roi")
