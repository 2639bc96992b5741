"""LI/MA tracings and ROIs in and out of a project (CUBS layout or JSON).

Import matches each entry to a study by name (CUBS: ``<name>`` or
``<name>_frame<NNNN>``, see :mod:`core.io.tracings_cubs`), checks it
(:func:`core.io.tracings.check_tracing`: crossing or backwards tracings, points
outside the image are refused with the file and line at fault) and only then writes:

* the frame's LI / MA ``polyline`` annotation (value ``"LI"`` / ``"MA"``, source
  ``expert``) is added, or replaced in place when different (the earlier state stays in
  ``annotation_events``), or left alone when identical;
* each ROI is added unless the frame already has the same box;
* a file's mm per pixel calibrates a study that has no spacing (source ``"imported"``);
  one that differs from the study's spacing is reported and not taken.

A refused entry writes nothing, so nothing the project holds is lost. With an
:class:`~core.store.history.AnnotationHistory` the whole import is one undo step.
Export writes each frame's expert tracings and ROIs (and the spacing that applies to
them, :func:`core.io.ultrasound_spacing.spacing_for`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Generator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.events import Notice, Progress
from core.io.base import quote
from core.io.tracings import (
    PROBLEM_CODES,
    Tracing,
    TracingProblem,
    check_tracing,
    read_tracings_json,
    write_tracings_json,
)
from core.io.tracings_cubs import cubs_id, parse_cubs_id, read_cubs, write_cubs
from core.io.ultrasound_spacing import calibrate_study, spacing_for
from core.store import Box, Polyline, Project, Study

if TYPE_CHECKING:  # pragma: no cover
    from core.store.history import AnnotationHistory

__all__ = ["FORMATS", "TracingExportReport", "TracingImportReport", "export_tracings",
           "import_tracings", "study_tracings"]

FORMATS = ("cubs", "json")
_SPACING_RTOL = 0.005  # spacings closer than 0.5 % agree


@dataclass(frozen=True)
class TracingImportReport:
    """What an import did: entries read, tracings added / replaced / unchanged, ROIs
    added, studies calibrated from the file, and every problem (refusals and notes)."""

    source: str
    format: str
    n_entries: int
    added: int
    replaced: int
    unchanged: int
    rois_added: int
    calibrated: tuple[int, ...]
    problems: tuple[TracingProblem, ...]
    study_ids: tuple[int, ...] = ()

    @property
    def imported(self) -> int:
        """Tracings (LI or MA) the project now holds as in the file."""
        return self.added + self.replaced + self.unchanged

    @property
    def refused(self) -> tuple[TracingProblem, ...]:
        return tuple(p for p in self.problems if not p.imported)

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "format": self.format, "n_entries": self.n_entries,
                "imported": self.imported, "added": self.added, "replaced": self.replaced,
                "unchanged": self.unchanged, "rois_added": self.rois_added,
                "calibrated": list(self.calibrated), "refused": len(self.refused),
                "study_ids": list(self.study_ids),
                "problems": [p.to_dict() for p in self.problems]}


@dataclass(frozen=True)
class TracingExportReport:
    """What an export wrote."""

    path: str
    format: str
    n_frames: int
    n_studies: int
    files: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "format": self.format, "n_frames": self.n_frames,
                "n_studies": self.n_studies, "files": list(self.files)}


def _format(path: Path, fmt: str | None) -> str:
    if fmt is not None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown tracings format {fmt!r}; choose one of "
                             f"{', '.join(FORMATS)}")
        return fmt
    return "json" if path.suffix.lower() == ".json" else "cubs"


def _bbox(t: Tracing) -> tuple[float, float, float, float] | None:
    pts = [p for p in (t.li, t.ma) if p is not None and len(p)]
    if not pts:
        return None
    a = np.vstack(pts)
    return (float(np.floor(a[:, 0].min())), float(np.floor(a[:, 1].min())),
            float(np.floor(a[:, 0].max())) + 1, float(np.floor(a[:, 1].max())) + 1)


def import_tracings(project: Project, path: str | os.PathLike[str], *, fmt: str | None = None,
                    index_base: int = 0, history: AnnotationHistory | None = None,
                    user: str | None = None
                    ) -> Generator[Progress | Notice, None, TracingImportReport]:
    """Import the LI/MA tracings (and ROIs, spacing) of a CUBS folder or JSON file.

    Parameters
    ----------
    project : Project
    path : str or PathLike
        A folder in the CUBS layout, or a ``.json`` file.
    fmt : {"cubs", "json"}, optional
        Default: ``json`` for a ``.json`` file, else ``cubs``.
    index_base : int
        CUBS only: 1 for coordinates counted from 1.
    history : AnnotationHistory, optional
        Record the import as one undo step on it.
    user : str, optional
        The author recorded (default: the history's, else the OS user).

    Yields
    ------
    Progress
        Stage ``"tracings"``: entries done.
    Notice
        A summary of the problems.

    Raises
    ------
    ValueError
        The file or folder is not tracings at all (nothing is written).
    """
    p = Path(path)
    kind = _format(p, fmt)
    entries, problems = read_tracings_json(p) if kind == "json" else \
        read_cubs(p, index_base=index_base)
    studies = {s.name: s for s in project.studies()}
    names = sorted(studies)
    counts = {"added": 0, "replaced": 0, "unchanged": 0, "rois": 0}
    calibrated: list[int] = []
    seen: set[tuple[int, int]] = set()
    touched: set[int] = set()
    step = history.step() if history is not None else nullcontext()
    with step:
        for k, t in enumerate(entries):
            yield Progress("tracings", k, len(entries), f"importing {t.entry}")
            target = (t.name, t.frame) if kind == "json" else parse_cubs_id(t.name, names)
            study = studies.get(target[0]) if target else None
            if study is None:
                problems.append(TracingProblem(t.entry, "study", (
                    f"{t.entry}: the project has no study named {t.name!r}" +
                    ("" if kind == "json" else " (nor <name>_frame<NNNN>)") + ".")))
                continue
            frame = target[1]
            problem = _study_problem(study, frame, t.entry)
            if problem is None and (study.id, frame) in seen:
                problem = TracingProblem(t.entry, "duplicate", (
                    f"{t.entry}: a second entry for {study.name} frame {frame}; the first "
                    "was kept."))
            if problem is not None:
                problems.append(problem)
                continue
            t = Tracing(study.name, frame, t.li, t.ma, t.rois, t.mm_per_pixel,
                        t.pixel_spacing_mm, t.spacing_source, t.where)
            checked, found = check_tracing(t, height=study.height, width=study.width)
            problems += found
            if checked is None:
                continue
            seen.add((study.id, frame))
            touched.add(study.id)
            _write(project, study, checked, counts, history, user)
            note = _spacing(project, study, checked, calibrated)
            if note is not None:
                problems.append(note)
    yield Progress("tracings", len(entries), len(entries), "tracings imported")
    report = TracingImportReport(str(p), kind, len(entries), counts["added"],
                                 counts["replaced"], counts["unchanged"], counts["rois"],
                                 tuple(calibrated), tuple(problems), tuple(sorted(touched)))
    by_code: dict[str, int] = {}
    for pr in report.problems:
        by_code[pr.code] = by_code.get(pr.code, 0) + 1
    for code, n in by_code.items():
        yield Notice(f"{n} entries of {quote(p)}: {PROBLEM_CODES[code]}.", "warning")
    return report


def _study_problem(study: Study, frame: int, entry: str) -> TracingProblem | None:
    from core.store.annotations import task_rules

    kinds = task_rules(study.task)[1]
    if kinds is not None and "polyline" not in kinds:
        return TracingProblem(entry, "task", (
            f"{entry}: the study {study.name!r} is for the task {study.task!r}, which uses no "
            "LI/MA tracings; import the image for the cimt task."))
    if not 0 <= frame < max(1, study.n_frames):
        return TracingProblem(entry, "frame", (
            f"{entry}: frame {frame} is outside {study.name!r} (frames 0..{study.n_frames - 1})."))
    return None


def _write(project: Project, study: Study, t: Tracing, counts: dict[str, int],
           history: AnnotationHistory | None, user: str | None) -> None:
    """Store one checked tracing: LI and MA replaced in place, new ROIs added."""
    current = project.annotations(study.id, kind="polyline", frame=t.frame)
    for which, pts in (("LI", t.li), ("MA", t.ma)):
        if pts is None:
            continue
        geometry = Polyline(pts)
        mine = [a for a in current if a.value == which]
        if mine and mine[-1].geometry == geometry:
            counts["unchanged"] += 1
        elif mine:
            if history is not None:
                history.update(mine[-1].id, geometry=geometry)
            else:
                project.update_annotation(mine[-1].id, geometry=geometry, user=user)
            counts["replaced"] += 1
        else:
            _add(project, study.id, "polyline", geometry, t.frame, which, history, user)
            counts["added"] += 1
    boxes = {a.geometry for a in project.annotations(study.id, kind="roi", frame=t.frame)}
    for r in t.rois:
        box = Box(*r)
        if box not in boxes:
            _add(project, study.id, "roi", box, t.frame, "", history, user)
            boxes.add(box)
            counts["rois"] += 1


def _add(project: Project, study_id: int, kind: str, geometry: Any, frame: int, value: str,
         history: AnnotationHistory | None, user: str | None) -> None:
    if history is not None:
        history.add(study_id, kind, geometry, frame=frame, value=value)
    else:
        project.add_annotation(study_id, kind, geometry, frame=frame, value=value,
                               source="expert", user=user)


def _spacing(project: Project, study: Study, t: Tracing,
             calibrated: list[int]) -> TracingProblem | None:
    """Take the file's mm per pixel for a study without spacing; report a mismatch."""
    v = t.mm_per_pixel
    if v is None and t.pixel_spacing_mm is not None:
        dy, dx = t.pixel_spacing_mm
        v = dx if math.isclose(dy, dx, rel_tol=1e-9) else None
    if v is None or not v > 0:
        return None
    meta = project.study(study.id).meta or {}
    have = spacing_for(meta, _bbox(t))
    if have is None:
        calibrate_study(project, study.id, v, source="imported")
        if study.id not in calibrated:
            calibrated.append(study.id)
        return None
    if all(math.isclose(h, v, rel_tol=_SPACING_RTOL) for h in have):
        return None
    return TracingProblem(t.entry, "spacing", (
        f"{t.entry}: the file gives {v:.6g} mm per pixel but {study.name!r} has "
        f"{have[1]:.6g} mm per pixel ({meta.get('spacing_source') or 'unknown source'}); the "
        "study keeps its own (calibrate it to change it)."), True)


def study_tracings(project: Project, study: Study) -> list[Tracing]:
    """The expert tracings and ROIs of ``study``, one :class:`Tracing` per frame that
    has any, with the spacing that applies to them."""
    by_frame: dict[int, dict[str, Any]] = {}
    for a in project.annotations(study.id, kind="polyline"):
        if a.frame is not None and a.value in ("LI", "MA"):
            by_frame.setdefault(a.frame, {})[a.value] = a.geometry.points  # newest wins
    for a in project.annotations(study.id, kind="roi"):
        if a.frame is not None:
            box = a.geometry
            by_frame.setdefault(a.frame, {}).setdefault("rois", []).append(
                (box.row0, box.col0, box.row1, box.col1))
    out = []
    meta = study.meta or {}
    for frame in sorted(by_frame):
        d = by_frame[frame]
        t = Tracing(study.name, frame, d.get("LI"), d.get("MA"), tuple(d.get("rois", ())))
        box = _bbox(t) or (t.rois[0] if t.rois else None)
        ps = spacing_for(meta, box)
        mmpp = ps[1] if ps and math.isclose(ps[0], ps[1], rel_tol=1e-9) else None
        out.append(Tracing(study.name, frame, t.li, t.ma, t.rois, mmpp,
                           None if ps is None else (float(ps[0]), float(ps[1])),
                           meta.get("spacing_source") if ps else None))
    return out


def export_tracings(project: Project, path: str | os.PathLike[str], *,
                    fmt: str | None = None, study_ids: Sequence[int] | None = None,
                    index_base: int = 0
                    ) -> Generator[Progress | Notice, None, TracingExportReport]:
    """Write the expert tracings (and ROIs, spacing) of the project's studies.

    Parameters
    ----------
    project : Project
    path : str or PathLike
        A ``.json`` file, or a folder for the CUBS layout (created if needed).
    fmt : {"cubs", "json"}, optional
        Default: ``json`` for a ``.json`` path, else ``cubs``.
    study_ids : sequence of int, optional
        Only these studies (default: every study with tracings or ROIs).
    index_base : int
        CUBS only: 1 writes coordinates counted from 1.

    Yields
    ------
    Progress
        Stage ``"tracings"``: studies done.
    Notice
        ROIs left out of the CUBS layout; studies whose name cannot be a file name;
        anisotropic spacings written as the column spacing.
    """
    p = Path(path)
    kind = _format(p, fmt)
    studies = [project.study(i) for i in study_ids] if study_ids is not None \
        else project.studies()
    pairs: list[tuple[str, Tracing]] = []
    n_rois, names = 0, set()
    for k, s in enumerate(studies):
        yield Progress("tracings", k, len(studies), f"reading {s.name}")
        for t in study_tracings(project, s):
            if kind == "cubs":
                if t.li is None and t.ma is None:
                    n_rois += len(t.rois)
                    continue
                try:
                    image_id = cubs_id(s.name, t.frame, s.n_frames)
                except ValueError as exc:
                    yield Notice(f"{s.name!r} left out: {exc}.", "warning")
                    break
                n_rois += len(t.rois)
                if t.mm_per_pixel is None and t.pixel_spacing_mm is not None:
                    yield Notice(f"{s.name}: anisotropic pixels {t.pixel_spacing_mm} mm; the "
                                 "CF file holds the column spacing.", "warning")
                    t = Tracing(t.name, t.frame, t.li, t.ma, t.rois, t.pixel_spacing_mm[1])
                pairs.append((image_id, t))
            else:
                pairs.append((s.name, t))
            names.add(s.name)
    yield Progress("tracings", len(studies), len(studies), "writing")
    if kind == "json":
        write_tracings_json(p, [t for _, t in pairs])
        files: tuple[str, ...] = (str(p),)
    else:
        files = tuple(str(f) for f in write_cubs(p, pairs, index_base=index_base))
        if n_rois:
            yield Notice(f"{n_rois} ROIs are not part of the CUBS layout and were not "
                         "written; export as JSON to keep them.", "warning")
    return TracingExportReport(str(p), kind, len(pairs), len(names), files)
