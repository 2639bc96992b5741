"""Lesion marks (spheres in patient coordinates) as LUNA16-style CSV files.

The format is the one of the LUNA16 challenge's ``annotations.csv``, read by 3D Slicer
scripts and challenge tooling::

    seriesuid,coordX,coordY,coordZ,diameter_mm[,label]

``seriesuid`` is the DICOM SeriesInstanceUID; ``coordX, coordY, coordZ`` are the
lesion's centre in DICOM patient coordinates (LPS, mm: the ``(x, y, z)`` of
:mod:`core.io.geometry3d`); ``diameter_mm`` its diameter. An optional ``label`` (or
``value``) column names the lesion (default ``embolus``). Column names are matched in
any case and order; extra columns are ignored.

A mark is stored as an annotation of kind ``sphere`` (:class:`core.store.Sphere`,
radius = diameter / 2, frame None) on the study whose ``meta["series_uid"]`` is the
row's ``seriesuid``. Rows that cannot be imported (a broken number, an unknown series, a
centre outside the volume) are reported line by line in the returned
:class:`MarksImportReport`; every other row is imported. A mark already stored (same
centre, radius and label) is not stored twice, so importing a file again changes nothing.

Export writes the same columns (``label`` too unless asked not to). It is de-identified
as it stands: series UIDs are not names, and nothing else about the study is written.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Generator, Iterable
from contextlib import nullcontext, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.events import Notice, Progress
from core.io.base import quote
from core.io.csv_rows import CsvFileError, csv_rows
from core.io.geometry3d import VolumeGeometry
from core.store import Project, Sphere, Study

__all__ = ["DEFAULT_LABEL", "HEADER", "MarkProblem", "MarksExportReport", "MarksFileError",
           "MarksImportReport", "export_marks_csv", "import_marks_csv"]

HEADER = ("seriesuid", "coordX", "coordY", "coordZ", "diameter_mm")
DEFAULT_LABEL = "embolus"
PROBLEM_CODES = {
    "bad_row": "a row that is not a mark (missing column, not a number, diameter <= 0)",
    "unknown_series": "no study of the project holds the row's series",
    "ambiguous_series": "several studies hold the series (choose a task)",
    "outside": "the centre lies outside the series' volume",
    "no_geometry": "imported, but the study has no volume geometry to check it against",
}
_ALIASES = {
    "seriesuid": ("seriesuid", "series_uid", "seriesinstanceuid"),
    "coordx": ("coordx",), "coordy": ("coordy",), "coordz": ("coordz",),
    "diameter_mm": ("diameter_mm", "diameter"),
    "label": ("label", "value"),
}
_PROGRESS_EVERY = 500
_SAME_MM = 1e-6  # centres and radii closer than this are the same mark


class MarksFileError(ValueError):
    """The file cannot be read as a marks table at all (nothing was imported)."""


@dataclass(frozen=True)
class MarkProblem:
    """One row not imported as it stood: its 1-based ``line``, a ``code`` (a key of
    :data:`PROBLEM_CODES`) and a message; ``imported`` for notes on rows imported anyway."""

    line: int
    code: str
    message: str
    imported: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "code": self.code, "message": self.message,
                "imported": self.imported}


@dataclass(frozen=True)
class MarksImportReport:
    """What :func:`import_marks_csv` did.

    Attributes
    ----------
    source : str
        The file's name (not its path).
    n_rows : int
        Data rows read (blank lines not counted).
    added : int
        Marks stored.
    unchanged : int
        Rows whose mark was already stored (or repeated in the file): nothing written.
    problems : tuple of MarkProblem
        In line order.
    study_ids : tuple of int
        The studies the imported rows belong to.
    annotation_ids : tuple of int
        The annotations added.
    """

    source: str
    n_rows: int
    added: int
    unchanged: int
    problems: tuple[MarkProblem, ...]
    study_ids: tuple[int, ...] = ()
    annotation_ids: tuple[int, ...] = ()

    @property
    def refused(self) -> tuple[MarkProblem, ...]:
        """The problems that kept a row out."""
        return tuple(p for p in self.problems if not p.imported)

    def counts(self) -> dict[str, int]:
        """Problems per code."""
        out: dict[str, int] = {}
        for p in self.problems:
            out[p.code] = out.get(p.code, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "n_rows": self.n_rows, "added": self.added,
                "unchanged": self.unchanged, "refused": len(self.refused),
                "problem_counts": self.counts(), "study_ids": list(self.study_ids),
                "annotation_ids": list(self.annotation_ids),
                "problems": [p.to_dict() for p in self.problems]}


@dataclass(frozen=True)
class MarksExportReport:
    """What :func:`export_marks_csv` wrote; ``skipped_study_ids``: studies holding marks
    but no series UID (so no row could name them)."""

    path: str
    n_marks: int
    n_studies: int
    skipped_study_ids: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "n_marks": self.n_marks, "n_studies": self.n_studies,
                "skipped_study_ids": list(self.skipped_study_ids)}


# ---------------------------------------------------------------------------- import

def _read_rows(path: Path) -> list[tuple[int, list[str]]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            return list(csv_rows(f, path))
    except UnicodeDecodeError as exc:
        raise MarksFileError(f"{quote(path)} is not a text CSV file (UTF-8). File: {path}"
                             ) from exc
    except CsvFileError as exc:
        raise MarksFileError(f"{exc} Nothing was imported.") from exc
    except OSError as exc:
        raise MarksFileError(f"Cannot read {path} ({exc.strerror}).") from exc


def _columns(path: Path, line: int, header: list[str]) -> dict[str, int]:
    names = [h.strip().lower() for h in header]
    col: dict[str, int] = {}
    for key, spellings in _ALIASES.items():
        for s in spellings:
            if s in names:
                col[key] = names.index(s)
                break
    missing = [h for h in HEADER if h.lower() not in col]
    if missing:
        hint = (" (a LUNA16 candidates file, with a class column and no diameter, lists "
                "candidates, not marks)" if "class" in names and "diameter_mm" in missing
                else "")
        raise MarksFileError(
            f"{path}, line {line}: expected a header with the columns {','.join(HEADER)} "
            f"(and optionally label), found {','.join(header)!r}; missing "
            f"{', '.join(missing)}{hint}. Nothing was imported.")
    return col


def _number(text: str, what: str) -> float:
    try:
        v = float(text.strip())
    except ValueError:
        raise ValueError(f"{what} {text.strip()[:40]!r} is not a number") from None
    if not math.isfinite(v):
        raise ValueError(f"{what} is {text.strip()!r}, not a finite number")
    return v


class _Series:
    """The studies in scope by series UID, and each study's geometry (or why none)."""

    def __init__(self, project: Project, study_ids: Iterable[int] | None,
                 task: str | None) -> None:
        wanted = None if study_ids is None else {int(s) for s in study_ids}
        self.by_uid: dict[str, list[Study]] = {}
        for s in project.studies():
            if (wanted is not None and s.id not in wanted) or (task and s.task != task):
                continue
            uid = str(s.meta.get("series_uid") or "").strip()
            if uid:
                self.by_uid.setdefault(uid, []).append(s)
        self._geometry: dict[int, VolumeGeometry | str] = {}

    def geometry(self, study: Study) -> VolumeGeometry | str:
        if study.id not in self._geometry:
            try:
                self._geometry[study.id] = VolumeGeometry.from_meta(study.meta)
            except ValueError as exc:
                self._geometry[study.id] = str(exc)
        return self._geometry[study.id]


def _outside_message(g: VolumeGeometry, centre: np.ndarray, name: str) -> str:
    ijk = g.world_to_voxel(centre)
    msg = (f"the centre ({', '.join(f'{v:g}' for v in centre)}) mm lies outside study "
           f"{name!r}: voxel (plane, row, col) ({', '.join(f'{v:.1f}' for v in ijk)}) of a "
           f"{'x'.join(str(n) for n in g.shape)} volume")
    if g.contains_world(centre * [-1, -1, 1]):
        msg += ("; with x and y negated it would be inside: the file may hold RAS "
                "coordinates (3D Slicer's), where LUNA16 uses LPS patient coordinates")
    elif g.contains(centre[::-1]):
        msg += "; the numbers look like voxel indices (col, row, plane), not millimetres"
    return msg


def _same(a: Sphere, value: str, b_geometry: Any, b_value: str) -> bool:
    return (isinstance(b_geometry, Sphere) and value == b_value
            and abs(a.radius_mm - b_geometry.radius_mm) < _SAME_MM
            and max(abs(x - y) for x, y in zip(a.centre_mm, b_geometry.centre_mm)) < _SAME_MM)


def import_marks_csv(project: Project, path: str | os.PathLike[str], *,
                     study_ids: Iterable[int] | None = None, task: str | None = None,
                     default_label: str = DEFAULT_LABEL, user: str | None = None,
                     history: Any = None
                     ) -> Generator[Progress | Notice, None, MarksImportReport]:
    """Import the sphere marks of a LUNA16-style CSV file onto the project's studies.

    Parameters
    ----------
    project : Project
    path : str or PathLike
        UTF-8 CSV with the header ``seriesuid,coordX,coordY,coordZ,diameter_mm`` (any
        case and order, optional ``label``/``value`` column, other columns ignored).
    study_ids : iterable of int, optional
        The studies the rows may belong to (default: every study with a series UID).
    task : str, optional
        Only studies of this task (e.g. ``"emboli"``): needed when one series was
        imported into two tasks.
    default_label : str
        The value of marks whose row has no label.
    user : str, optional
        Recorded as the marks' author (default the OS user).
    history : core.store.history.AnnotationHistory, optional
        When given, the marks are added through it as one undo step.

    Yields
    ------
    Progress
        Stage ``"marks"``: rows checked, then marks stored.
    Notice
        A warning summarising the rows left out, when some were.

    Returns
    -------
    MarksImportReport

    Raises
    ------
    MarksFileError
        The file cannot be read, breaks the CSV format, or its header lacks a column
        (nothing is imported; the message names the file and line).
    """
    p = Path(path)
    rows = _read_rows(p)
    if not rows:
        raise MarksFileError(f"{quote(p)} is empty: expected a header line "
                             f"{','.join(HEADER)!r}. File: {p}")
    col = _columns(p, rows[0][0], rows[0][1])
    series = _Series(project, study_ids, task)
    problems: list[MarkProblem] = []
    accepted: list[tuple[Study, Sphere, str]] = []
    n_rows = 0
    total = len(rows) - 1
    for done, (line, row) in enumerate(rows[1:], 1):
        if done % _PROGRESS_EVERY == 0:
            yield Progress("marks", done, total, f"checking {p.name}")
        if not any(cell.strip() for cell in row):
            continue
        n_rows += 1
        try:
            if len(row) <= max(col.values()):
                raise ValueError(f"expected {len(rows[0][1])} columns, found {len(row)}")
            uid = row[col["seriesuid"]].strip()
            if not uid:
                raise ValueError("the seriesuid is empty")
            centre = np.array([_number(row[col[k]], name) for k, name in
                               (("coordx", "coordX"), ("coordy", "coordY"),
                                ("coordz", "coordZ"))])
            diameter = _number(row[col["diameter_mm"]], "diameter_mm")
            if diameter <= 0:
                raise ValueError(f"diameter_mm must be positive, found {diameter:g}")
            label = row[col["label"]].strip() if "label" in col else ""
        except ValueError as exc:
            problems.append(MarkProblem(line, "bad_row", f"line {line}: {exc}"))
            continue
        found = series.by_uid.get(uid, [])
        short = uid if len(uid) <= 64 else uid[:64] + "..."
        if not found:
            problems.append(MarkProblem(line, "unknown_series", f"line {line}: no study of "
                                        f"the project holds the series {short}"))
            continue
        if len(found) > 1:
            problems.append(MarkProblem(
                line, "ambiguous_series", f"line {line}: the series {short} is held by "
                f"{len(found)} studies ({', '.join(repr(s.name) for s in found)}); choose a "
                "task"))
            continue
        study = found[0]
        g = series.geometry(study)
        if isinstance(g, str):
            problems.append(MarkProblem(line, "no_geometry", f"line {line}: imported without "
                                        f"a check against study {study.name!r}: {g}", True))
        elif not g.contains_world(centre):
            problems.append(MarkProblem(line, "outside",
                                        f"line {line}: {_outside_message(g, centre, study.name)}"))
            continue
        accepted.append((study, Sphere(tuple(centre), diameter / 2.0), label or default_label))
    report = yield from _store(project, p.name, n_rows, accepted, problems, user, history)
    if report.refused:
        counts = {c: n for c, n in report.counts().items() if c != "no_geometry"}
        yield Notice(f"{len(report.refused)} of {n_rows} rows of {p.name} were not imported ("
                     + ", ".join(f"{n} {c.replace('_', ' ')}" for c, n in sorted(counts.items()))
                     + f"); first: {report.refused[0].message}", "warning")
    return report


def _store(project: Project, name: str, n_rows: int, accepted: list[tuple[Study, Sphere, str]],
           problems: list[MarkProblem], user: str | None, history: Any
           ) -> Generator[Progress, None, MarksImportReport]:
    stored: dict[int, list[tuple[Any, str]]] = {}
    added: list[int] = []
    unchanged = 0
    with history.step() if history is not None else nullcontext():
        for done, (study, sphere, label) in enumerate(accepted, 1):
            if study.id not in stored:
                stored[study.id] = [(a.geometry, a.value) for a in
                                    project.annotations(study.id, kind="sphere", source=None)]
            if any(_same(sphere, label, g, v) for g, v in stored[study.id]):
                unchanged += 1
            else:
                if history is not None:
                    a = history.add(study.id, "sphere", sphere, value=label)
                else:
                    a = project.add_annotation(study.id, "sphere", sphere, value=label,
                                               user=user)
                added.append(a.id)
                stored[study.id].append((sphere, label))
            if done % _PROGRESS_EVERY == 0 or done == len(accepted):
                yield Progress("marks", done, len(accepted), f"storing marks of {name}")
    problems.sort(key=lambda q: q.line)
    return MarksImportReport(name, n_rows, len(added), unchanged, tuple(problems),
                             tuple(sorted({s.id for s, _, _ in accepted})), tuple(added))


# ---------------------------------------------------------------------------- export

def export_marks_csv(project: Project, path: str | os.PathLike[str], *,
                     study_ids: Iterable[int] | None = None, task: str | None = None,
                     source: str | None = "expert", label: bool = True
                     ) -> Generator[Progress, None, MarksExportReport]:
    """Write the sphere marks of the studies as a LUNA16-style CSV file.

    Parameters
    ----------
    project : Project
    path : str or PathLike
        Written whole or not at all (a temporary file beside it, then a rename).
    study_ids : iterable of int, optional
        Default: every study of the project (of ``task`` when given).
    task : str, optional
    source : str or None
        The annotations' source (``"expert"``; None: every source).
    label : bool
        Add the ``label`` column (the marks' values).

    Yields
    ------
    Progress
        Stage ``"marks"``: studies done.

    Returns
    -------
    MarksExportReport
        Studies holding marks but no ``series_uid`` are skipped (listed by id).

    Raises
    ------
    MarksFileError
        The file cannot be written.
    """
    p = Path(path)
    wanted = None if study_ids is None else {int(s) for s in study_ids}
    studies = [s for s in project.studies()
               if (wanted is None or s.id in wanted) and (not task or s.task == task)]
    rows: list[list[Any]] = []
    skipped: list[int] = []
    n_studies = 0
    for done, s in enumerate(studies, 1):
        marks = project.annotations(s.id, kind="sphere", source=source)
        uid = str(s.meta.get("series_uid") or "").strip()
        if marks and not uid:
            skipped.append(s.id)
        elif marks:
            n_studies += 1
            for a in marks:
                x, y, z = a.geometry.centre_mm
                rows.append([uid, repr(x), repr(y), repr(z), repr(2.0 * a.geometry.radius_mm)]
                            + ([a.value] if label else []))
        yield Progress("marks", done, len(studies), "collecting marks")
    tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(list(HEADER) + (["label"] if label else []))
            writer.writerows(rows)
        os.replace(tmp, p)
    except OSError as exc:
        with suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise MarksFileError(f"Cannot write {p} ({exc.strerror}).") from exc
    return MarksExportReport(str(p), len(rows), n_studies, tuple(skipped))
