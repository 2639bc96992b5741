"""Annotations of every kind: geometry round trip, provenance, event log, undo/redo."""

from __future__ import annotations

import numpy as np
import pytest

from core.store import Box, Mask, Point, Polyline, Project, ProjectError, Sphere
from core.store.history import AnnotationHistory, LabelHistory


@pytest.fixture
def project(tmp_path):
    with Project.create(tmp_path / "proj") as p:
        yield p


def _study(project, task="any_task", n_frames=20, stem="s"):
    return project.add_study(f"/d/{stem}.mp4", f"h-{stem}", "video", task, n_frames, 25.0, 64, 80)


def _mask():
    m = np.zeros((64, 80), bool)
    m[10:30, 20:50] = True
    m[40:44, 5:9] = True  # a second component
    return Mask(m)


GEOMETRIES = {
    "mask": _mask(),
    "box": Box(1.5, 2.0, 30.0, 41.25),
    "point": Point(12.0, 7.5),
    "sphere": Sphere((-120.5, 33.25, -410.0), 4.5),
    "polyline": Polyline(np.array([[40.0, 0.0], [41.5, 10.0], [43.25, 25.5], [42.0, 79.0]])),
    "roi": Box(20.0, 10.0, 60.0, 70.0),
}


@pytest.mark.parametrize("kind", sorted(GEOMETRIES))
def test_each_kind_round_trips_with_geometry_and_history(project, kind):
    s = _study(project)
    frame = None if kind == "sphere" else 3
    g = GEOMETRIES[kind]
    hist = AnnotationHistory(project, user="dr_a")
    a = hist.add(s.id, kind, g, frame=frame, value="lesion")
    assert (a.kind, a.frame, a.value, a.source, a.user) == (kind, frame, "lesion", "expert", "dr_a")
    assert project.annotation(a.id).geometry == g
    if kind == "mask":
        assert project.annotation(a.id).geometry.array.dtype == bool
    # survives closing and reopening
    folder = project.folder
    project.close()
    with Project.open(folder) as p2:
        got = p2.annotation(a.id)
        assert got.geometry == g and got.geometry is not g
    # edit, delete, undo, redo: the log records each step and ids are kept
    project2 = Project.open(folder)
    try:
        hist = AnnotationHistory(project2, user="dr_b")
        moved = {
            "mask": Mask(np.roll(g.array, 3, axis=1)) if kind == "mask" else None,
            "box": Box(2.0, 2.0, 31.0, 42.0), "point": Point(13.0, 8.0),
            "sphere": Sphere((-120.0, 33.0, -400.0), 5.0),
            "polyline": Polyline(g.points + 1.0) if kind == "polyline" else None,
            "roi": Box(21.0, 11.0, 61.0, 71.0),
        }[kind]
        hist.update(a.id, geometry=moved)
        assert project2.annotation(a.id).geometry == moved
        hist.delete(a.id)
        assert project2.annotation(a.id) is None
        hist.undo()  # the delete
        assert project2.annotation(a.id).geometry == moved
        hist.undo()  # the move
        assert project2.annotation(a.id).geometry == g
        hist.redo()
        assert project2.annotation(a.id).geometry == moved
        log = project2.annotation_history(annotation_id=a.id)
        assert [e.action for e in log] == ["set", "set", "delete", "set", "set", "set"]
        assert log[0].geometry == g and log[1].geometry == moved and log[2].geometry is None
        assert [e.user for e in log] == ["dr_a"] + ["dr_b"] * 5
    finally:
        project2.close()


def test_geometry_and_kind_are_checked(project):
    s = _study(project)
    with pytest.raises(ValueError, match="needs a Box"):
        project.add_annotation(s.id, "box", Point(1, 2), frame=0)
    with pytest.raises(ValueError, match="unknown annotation kind"):
        project.add_annotation(s.id, "blob", None, frame=0)
    with pytest.raises(ValueError, match="row1 > row0"):
        Box(5, 5, 5, 9)
    with pytest.raises(ValueError, match="needs a frame"):
        project.add_annotation(s.id, "mask", _mask())
    with pytest.raises(ValueError, match="outside"):
        project.add_annotation(s.id, "point", Point(1, 1), frame=20)
    assert project.annotations() == [] and project.annotation_history() == []


def test_a_task_refuses_annotation_kinds_it_does_not_use(project):
    s = _study(project, task="frame_quality")
    with pytest.raises(ValueError, match="does not use mask annotations; it uses frame_label"):
        project.add_annotation(s.id, "mask", _mask(), frame=0)
    assert project.annotations() == []
    project.set_label(s.id, 0, "informative")  # what it does use
    assert project.label(s.id, 0).value == "informative"


def test_one_mask_per_frame_and_many_boxes(project):
    s = _study(project)
    m1 = project.add_annotation(s.id, "mask", _mask(), frame=2)
    m2 = project.add_annotation(s.id, "mask", Mask(~_mask().array), frame=2)
    assert m1.id == m2.id and len(project.annotations(s.id, kind="mask")) == 1
    for k in range(3):
        project.add_annotation(s.id, "box", Box(k, k, k + 5, k + 5), frame=2)
    assert len(project.annotations(s.id, kind="box", frame=2)) == 3
    imported = project.add_annotation(s.id, "box", Box(0, 0, 9, 9), frame=4, source="imported")
    assert project.annotations(s.id, kind="box", source="imported") == [imported]


def test_range_labelling_is_one_undo_step(project):
    s = _study(project, task="frame_quality")
    hist = LabelHistory(project, user="dr_a")
    hist.set(s.id, 5, "non-informative")
    hist.set_range(s.id, range(3, 9), "informative")
    assert {lb.frame: lb.value for lb in project.labels(s.id)} == {f: "informative"
                                                                   for f in range(3, 9)}
    assert hist.undo() is not None  # the whole range at once
    assert {lb.frame: lb.value for lb in project.labels(s.id)} == {5: "non-informative"}
    hist.redo()
    assert len(project.labels(s.id)) == 6
    hist.undo()
    hist.undo()
    assert project.labels(s.id) == [] and not hist.can_undo


def test_missing_annotation_is_a_clear_error(project):
    with pytest.raises(ProjectError, match="no annotation number 42"):
        project.delete_annotation(42)


def test_undo_over_an_edit_made_elsewhere_is_logged(project):
    s = _study(project, task="frame_quality")
    hist = LabelHistory(project, user="dr_a")
    hist.set(s.id, 2, "informative")
    hist.clear(s.id, 2)
    project.set_label(s.id, 2, "non-informative", user="dr_b")  # another window
    hist.undo()  # brings dr_a's label back; dr_b's is replaced, and the log says so
    assert project.label(s.id, 2).value == "informative"
    log = project.label_history(s.id, 2)
    assert [(e.value, e.user) for e in log[-2:]] == [(None, "dr_a"), ("informative", "dr_a")]
    assert len(project.annotations(s.id, kind="frame_label")) == 1
