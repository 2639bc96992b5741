"""LUNA16-style marks CSV: round trip, line-exact problems, outside-volume marks, undo."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from core.events import Notice, Progress, drain
from core.io.geometry3d import VolumeGeometry
from core.io.marks import MarksFileError, export_marks_csv, import_marks_csv
from core.store import Project, Sphere
from core.store.history import AnnotationHistory

UID_A = "1.3.6.1.4.1.14519.5.2.1.6279.6001.100225287222365663678666836860"
UID_B = "1.2.826.0.1.3680043.8.498.12345"
# A: axial, 40 planes of 1.25 mm from z = -300 upward, 0.7 mm pixels, origin at (-180, -50)
GEOM_A = VolumeGeometry((-180.0, -50.0, -300.0), (1.25, 0.7, 0.7), (1, 0, 0, 0, 1, 0),
                        (40, 512, 512))
# B: oblique, planes running against r x c
_c, _s = np.cos(0.3), np.sin(0.3)
GEOM_B = VolumeGeometry((10.0, -20.0, 50.0), (2.0, 0.8, 0.8), (_c, _s, 0, -_s, _c, 0),
                        (30, 256, 256), (0, 0, -1))


def _add(project, name, uid, geom, task="emboli"):
    meta = {"series_uid": uid} if uid else {}
    if geom is not None:
        meta.update(geom.to_meta())
    shape = geom.shape if geom is not None else (10, 64, 64)
    return project.add_study(f"/data/{name}", f"hash-{name}-{task}", "ct_series", task,
                             shape[0], 0.0, shape[1], shape[2], name=name, meta=meta)


@pytest.fixture
def project(tmp_path):
    with Project.create(tmp_path / "proj") as p:
        yield p


def _spheres(project, study_id):
    return [(a.geometry, a.value) for a in project.annotations(study_id, kind="sphere")]


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_round_trip_between_projects(tmp_path, project):
    a = _add(project, "Case A", UID_A, GEOM_A)
    b = _add(project, "Case B", UID_B, GEOM_B)
    marks_a = [Sphere(tuple(GEOM_A.voxel_to_world([10.3, 200.25, 301.7])), 3.1),
               Sphere(tuple(GEOM_A.voxel_to_world([33, 90, 400])), 0.1 + 1 / 3)]
    mark_b = Sphere(tuple(GEOM_B.voxel_to_world([4, 128, 17.5])), 6.0)
    project.add_annotation(a.id, "sphere", marks_a[0], value="embolus")
    project.add_annotation(a.id, "sphere", marks_a[1], value="nodule")
    project.add_annotation(b.id, "sphere", mark_b, value="embolus")
    out = tmp_path / "marks.csv"
    report = drain(export_marks_csv(project, out))
    assert report.to_dict() == {"path": str(out), "n_marks": 3, "n_studies": 2,
                                "skipped_study_ids": []}
    lines = out.read_text().splitlines()
    assert lines[0] == "seriesuid,coordX,coordY,coordZ,diameter_mm,label"
    row = next(csv.reader([lines[1]]))
    assert row[0] == UID_A and float(row[4]) == pytest.approx(6.2)
    assert "Case" not in out.read_text() and "/data" not in out.read_text()

    with Project.create(tmp_path / "copy") as copy:
        ca = _add(copy, "other name A", UID_A, GEOM_A)
        cb = _add(copy, "other name B", UID_B, GEOM_B)
        events = []
        gen = import_marks_csv(copy, out, user="importer")
        try:
            while True:
                events.append(next(gen))
        except StopIteration as stop:
            rep = stop.value
        assert rep.added == 3 and rep.unchanged == 0 and rep.problems == ()
        assert any(isinstance(e, Progress) and e.stage == "marks" for e in events)
        assert not any(isinstance(e, Notice) for e in events)
        # exact: repr() floats survive the text file bit for bit
        assert _spheres(copy, ca.id) == [(marks_a[0], "embolus"), (marks_a[1], "nodule")]
        assert _spheres(copy, cb.id) == [(mark_b, "embolus")]
        assert {x.user for x in copy.annotations(kind="sphere")} == {"importer"}
        # importing again stores nothing twice
        again = drain(import_marks_csv(copy, out))
        assert (again.added, again.unchanged) == (0, 3)
        assert len(copy.annotations(kind="sphere")) == 3
    # without the label column the default label is used
    plain = tmp_path / "plain.csv"
    drain(export_marks_csv(project, plain, study_ids=[b.id], label=False))
    assert plain.read_text().splitlines()[0] == "seriesuid,coordX,coordY,coordZ,diameter_mm"
    with Project.create(tmp_path / "copy2") as copy:
        cb = _add(copy, "B", UID_B, GEOM_B)
        drain(import_marks_csv(copy, plain, default_label="lesion"))
        assert _spheres(copy, cb.id) == [(mark_b, "lesion")]


def test_bad_rows_are_reported_by_line_and_the_rest_imported(tmp_path, project):
    a = _add(project, "A", UID_A, GEOM_A)
    inside = GEOM_A.voxel_to_world([20, 400, 60])  # (-138, 230, -275)
    ras = inside * [-1, -1, 1]  # a file from a RAS tool: (138, -230) is off the rows
    far = GEOM_A.voxel_to_world([80, 256, 256])  # past the last plane
    x, y, z = inside
    f = _write(tmp_path / "in.csv", "\n".join([
        "coordX,SeriesUID,coordY,coordZ,Diameter_mm,extra",  # any order, case; extra column
        f"{x},{UID_A},{y},{z},5.0,ignored",           # 2 ok
        f"{x},1.2.3.999,{y},{z},5.0,",                 # 3 unknown series
        "",                                            # 4 blank: skipped
        f"abc,{UID_A},{y},{z},5.0,",                   # 5 not a number
        f"{x},{UID_A},{y},{z},-2,",                    # 6 diameter <= 0
        f"{ras[0]},{UID_A},{ras[1]},{ras[2]},4,",      # 7 outside: RAS hint
        f"{far[0]},{UID_A},{far[1]},{far[2]},4,",      # 8 outside
        f"{x},{UID_A},{y}",                            # 9 too few columns
        f"{x},{UID_A},{y},nan,4,",                     # 10 nan
        f"{x + 1},{UID_A},{y},{z},7,",                 # 11 ok
    ]) + "\n")
    events = []
    gen = import_marks_csv(project, f)
    try:
        while True:
            events.append(next(gen))
    except StopIteration as stop:
        rep = stop.value
    assert rep.n_rows == 9 and rep.added == 2
    assert [(p.line, p.code) for p in rep.problems] == [
        (3, "unknown_series"), (5, "bad_row"), (6, "bad_row"), (7, "outside"), (8, "outside"),
        (9, "bad_row"), (10, "bad_row")]
    msgs = {p.line: p.message for p in rep.problems}
    assert msgs[3].startswith("line 3:") and "1.2.3.999" in msgs[3]
    assert "coordX 'abc' is not a number" in msgs[5]
    assert "diameter_mm must be positive" in msgs[6]
    assert "RAS" in msgs[7] and "RAS" not in msgs[8]
    assert "voxel (plane, row, col) (80.0, 256.0, 256.0)" in msgs[8]
    assert "expected 6 columns, found 3" in msgs[9]
    assert rep.to_dict()["problem_counts"] == {"unknown_series": 1, "bad_row": 4, "outside": 2}
    notices = [e for e in events if isinstance(e, Notice)]
    assert len(notices) == 1 and notices[0].level == "warning"
    assert "7 of 9 rows" in notices[0].message
    got = _spheres(project, a.id)
    assert [v for _, v in got] == ["embolus", "embolus"]
    np.testing.assert_allclose(got[0][0].centre_mm, inside)
    assert got[1][0].radius_mm == 3.5
    assert rep.study_ids == (a.id,) and len(rep.annotation_ids) == 2


def test_centre_on_the_volume_edge_and_oblique_volume(tmp_path, project):
    b = _add(project, "B", UID_B, GEOM_B)
    edge = GEOM_B.voxel_to_world([29.4, 0, 255])   # within half a voxel of the last plane
    beyond = GEOM_B.voxel_to_world([29.6, 0, 255])
    rows = [f"{UID_B},{float(p[0])!r},{float(p[1])!r},{float(p[2])!r},3" for p in (edge, beyond)]
    f = _write(tmp_path / "b.csv", "seriesuid,coordX,coordY,coordZ,diameter_mm\n"
               + "\n".join(rows) + "\n")
    rep = drain(import_marks_csv(project, f))
    assert rep.added == 1 and [(p.line, p.code) for p in rep.problems] == [(3, "outside")]
    assert len(_spheres(project, b.id)) == 1


def test_series_in_two_tasks_needs_a_task(tmp_path, project):
    e = _add(project, "A", UID_A, GEOM_A, task="emboli")
    o = _add(project, "A2", UID_A, GEOM_A, task="other_task")
    x, y, z = GEOM_A.voxel_to_world([1, 2, 3])
    f = _write(tmp_path / "m.csv", f"seriesuid,coordX,coordY,coordZ,diameter_mm,label\n"
               f"{UID_A},{x},{y},{z},2,clot\n")
    rep = drain(import_marks_csv(project, f))
    assert rep.added == 0 and rep.problems[0].code == "ambiguous_series"
    assert "choose a task" in rep.problems[0].message
    rep = drain(import_marks_csv(project, f, task="emboli"))
    assert rep.added == 1 and _spheres(project, e.id)[0][1] == "clot"
    assert _spheres(project, o.id) == []
    rep = drain(import_marks_csv(project, f, study_ids=[o.id]))
    assert rep.added == 1 and len(_spheres(project, o.id)) == 1


def test_study_without_geometry_imports_with_a_note(tmp_path, project):
    s = _add(project, "nogeom", UID_B, None)
    f = _write(tmp_path / "m.csv", f"seriesuid,coordX,coordY,coordZ,diameter_mm\n"
               f"{UID_B},1,2,3,4\n")
    rep = drain(import_marks_csv(project, f))
    assert rep.added == 1 and rep.refused == ()
    assert rep.problems[0].code == "no_geometry" and rep.problems[0].imported
    assert "no volume geometry" in rep.problems[0].message
    assert _spheres(project, s.id) == [(Sphere((1, 2, 3), 2.0), "embolus")]


def test_history_makes_the_import_one_undo_step(tmp_path, project):
    a = _add(project, "A", UID_A, GEOM_A)
    pts = GEOM_A.voxel_to_world([[1, 1, 1], [2, 2, 2], [3, 3, 3]])
    f = _write(tmp_path / "m.csv", "seriesuid,coordX,coordY,coordZ,diameter_mm\n" + "".join(
        f"{UID_A},{p[0]},{p[1]},{p[2]},3\n" for p in pts))
    hist = AnnotationHistory(project, user="dr_a")
    assert drain(import_marks_csv(project, f, history=hist)).added == 3
    assert len(_spheres(project, a.id)) == 3
    hist.undo()
    assert _spheres(project, a.id) == []


@pytest.mark.parametrize("text,match", [
    ("", "is empty"),
    ("seriesuid,coordX,coordY,coordZ,class\n1.2,0,0,0,1\n",
     r"line 1: .*missing diameter_mm.*candidates file"),
    ("seriesuid,coordX,coordY,coordZ,diameter_mm\n1.2,0,0,0,1\n\"1.3,0,0,0,1\n1.4,0,0,0,1\n",
     "line 3: a cell there opens with a quote"),
])
def test_unreadable_files_raise_and_import_nothing(tmp_path, project, text, match):
    _add(project, "A", "1.2", GEOM_A)
    f = _write(tmp_path / "bad.csv", text)
    with pytest.raises(MarksFileError, match=match):
        drain(import_marks_csv(project, f))
    assert project.annotations(kind="sphere") == []


def test_not_utf8_and_missing_file(tmp_path, project):
    f = tmp_path / "bin.csv"
    f.write_bytes(b"\xff\xfe\x00\x01garbage")
    with pytest.raises(MarksFileError, match="not a text CSV"):
        drain(import_marks_csv(project, f))
    with pytest.raises(MarksFileError, match="Cannot read"):
        drain(import_marks_csv(project, tmp_path / "absent.csv"))


def test_export_skips_studies_without_series_uid(tmp_path, project):
    a = _add(project, "A", UID_A, GEOM_A)
    s = _add(project, "video-like", None, None, task="other_task")
    project.add_annotation(a.id, "sphere", Sphere((0, 0, 0), 1.0), value="embolus")
    project.add_annotation(s.id, "sphere", Sphere((1, 1, 1), 1.0), value="embolus")
    out = tmp_path / "m.csv"
    rep = drain(export_marks_csv(project, out))
    assert (rep.n_marks, rep.n_studies, rep.skipped_study_ids) == (1, 1, (s.id,))
    assert drain(export_marks_csv(project, out, task="other_task")).n_marks == 0
    assert out.read_text().splitlines() == ["seriesuid,coordX,coordY,coordZ,diameter_mm,label"]
    with pytest.raises(MarksFileError, match="Cannot write"):
        drain(export_marks_csv(project, tmp_path / "no_such_dir" / "m.csv"))
