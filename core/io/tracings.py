"""LI/MA tracings of carotid ultrasound: the record, its checks, and the JSON format.

A :class:`Tracing` is what an expert drew on one frame of one study: the lumen–intima
(LI) and media–adventitia (MA) interfaces of the far wall as open polylines (N, 2)
float64 (row, col) ordered by column, the ROIs of the frame (row0, col0, row1, col1),
and the pixel spacing the file gives. Two formats carry them:

* the JSON of polylines written and read here (lossless: floats as Python's ``repr``)::

      {"version": 1,
       "studies": [{"name": "study name", "frame": 0,
                    "LI": [[row, col], ...] or null, "MA": [[row, col], ...] or null,
                    "rois": [[row0, col0, row1, col1], ...],
                    "mm_per_pixel": 0.06 or null,
                    "pixel_spacing_mm": [dy, dx], "spacing_source": "dicom regions"}]}

  (``pixel_spacing_mm`` and ``spacing_source`` are optional; ``mm_per_pixel`` is null
  for anisotropic pixels);
* the CUBS dataset's layout of text files (:mod:`core.io.tracings_cubs`).

:func:`check_tracing` says what is wrong with a tracing before anything is stored: too
few or non-finite points, a tracing that turns back (each tracing runs left to right,
one row per column; one drawn wholly right to left is reversed, with a note), points
outside the image, LI and MA that cross or touch (LI lies above MA at every shared
column: the lumen is above the far wall), ROIs outside the image. Messages name the
file and line (CUBS) or the JSON entry and point (``studies[2].LI[7]``).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from core.io.base import quote
from core.io.problems import ImportProblem

__all__ = ["PROBLEM_CODES", "Tracing", "TracingProblem", "check_tracing",
           "read_tracings_json", "tracings_equal", "write_tracings_json"]

JSON_VERSION = 1
PROBLEM_CODES = {
    "malformed": "a malformed entry or file",
    "backwards": "a tracing that turns back (not left to right)",
    "reversed": "a tracing drawn right to left, reversed",
    "crossing": "LI and MA cross or touch",
    "outside": "points or an ROI outside the image",
    "study": "no study of that name",
    "frame": "a frame outside the study",
    "task": "a study whose task uses no tracings",
    "duplicate": "a second entry for one frame",
    "spacing": "a spacing that differs from the study's",
    "missing": "LI without MA or MA without LI",
}
"""Every problem code a report may hold, with what it means."""


TracingProblem = ImportProblem  # the shared record (core.io.problems)


@dataclass(frozen=True, eq=False)
class Tracing:
    """The tracings of one frame of one study.

    Attributes
    ----------
    name : str
        The study's name (matched against the project's study names on import).
    frame : int
        The frame, from 0.
    li, ma : ndarray or None
        (N, 2) float64 (row, col) in pixels, ordered by column; None when absent.
    rois : tuple of (row0, col0, row1, col1)
        The frame's ROIs in pixels (inclusive-exclusive, as
        :class:`core.store.geometry.Box`).
    mm_per_pixel : float or None
        Isotropic pixel size in mm, when known.
    pixel_spacing_mm : (dy, dx) or None
        The spacing when known (JSON only).
    spacing_source : str or None
        Where the spacing came from (JSON only).
    where : dict
        For messages: ``"LI"``/``"MA"`` -> one location per point (``"a-LI.txt line
        3"``), ``"entry"`` -> the entry's name, ``"rois"`` -> one per ROI.
    """

    name: str
    frame: int
    li: np.ndarray | None = None
    ma: np.ndarray | None = None
    rois: tuple[tuple[float, float, float, float], ...] = ()
    mm_per_pixel: float | None = None
    pixel_spacing_mm: tuple[float, float] | None = None
    spacing_source: str | None = None
    where: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for key in ("li", "ma"):
            v = getattr(self, key)
            if v is not None:
                object.__setattr__(self, key, np.asarray(v, dtype=np.float64).reshape(-1, 2)
                                   if np.size(v) else np.zeros((0, 2)))
        object.__setattr__(self, "rois", tuple(tuple(float(x) for x in r) for r in self.rois))

    @property
    def entry(self) -> str:
        """The entry's name for messages."""
        return str(self.where.get("entry") or f"{self.name} frame {self.frame}")

    def locate(self, which: str, i: int) -> str:
        """Where point ``i`` of ``which`` ("LI" or "MA") stands in its file."""
        places = self.where.get(which)
        if places and 0 <= i < len(places):
            return str(places[i])
        return f"{self.entry}, {which} point {i + 1}"


def tracings_equal(a: Tracing, b: Tracing) -> bool:
    """True when two tracings hold exactly the same study, frame, points, ROIs and mm
    per pixel (their ``where`` is ignored)."""
    def same(x: np.ndarray | None, y: np.ndarray | None) -> bool:
        return (x is None) == (y is None) and (x is None or np.array_equal(x, y))

    return (a.name == b.name and a.frame == b.frame and same(a.li, b.li) and same(a.ma, b.ma)
            and a.rois == b.rois and a.mm_per_pixel == b.mm_per_pixel)


def _check_line(t: Tracing, which: str, pts: np.ndarray, height: int | None,
                width: int | None) -> tuple[np.ndarray | None, list[TracingProblem]]:
    """One polyline checked: (the points, reversed if drawn right to left; problems)."""
    entry = t.entry
    if len(pts) < 2:
        return None, [TracingProblem(entry, "malformed", f"{entry}: the {which} tracing has "
                                     f"{len(pts)} point(s); a tracing needs at least 2.")]
    bad = np.flatnonzero(~np.isfinite(pts).all(axis=1))
    if bad.size:
        return None, [TracingProblem(entry, "malformed", f"{t.locate(which, int(bad[0]))}: "
                                     f"the {which} point is not a finite number.")]
    cols = pts[:, 1]
    step = np.diff(cols)
    problems: list[TracingProblem] = []
    if (step < 0).all():
        pts = pts[::-1].copy()
        problems.append(TracingProblem(entry, "reversed", f"{entry}: the {which} tracing is "
                                       "drawn right to left; it was reversed.", True))
        step = np.diff(pts[:, 1])
        order = list(range(len(pts)))[::-1]
    else:
        order = list(range(len(pts)))
    back = np.flatnonzero(step <= 0)
    if back.size:
        j = int(back[0]) + 1
        here, before = t.locate(which, order[j]), t.locate(which, order[j - 1])
        return None, [TracingProblem(entry, "backwards", (
            f"{here}: the {which} tracing turns back: x = {pts[j, 1]:g} is not right of the "
            f"point before ({before}, x = {pts[j - 1, 1]:g}). A tracing runs left to right "
            "with one point per column position."))]
    if height is not None and width is not None:
        out = np.flatnonzero((pts[:, 0] < -0.5) | (pts[:, 0] > height - 0.5)
                             | (pts[:, 1] < -0.5) | (pts[:, 1] > width - 0.5))
        if out.size:
            k = int(out[0])
            return None, [TracingProblem(entry, "outside", (
                f"{t.locate(which, order[k])}: the {which} point (x = {pts[k, 1]:g}, "
                f"y = {pts[k, 0]:g}) is outside the {width}x{height} image."))]
    return pts, problems


def check_tracing(t: Tracing, *, height: int | None = None, width: int | None = None
                  ) -> tuple[Tracing | None, list[TracingProblem]]:
    """Check a tracing before it is stored.

    Parameters
    ----------
    t : Tracing
    height, width : int, optional
        The frame's size in pixels: points and ROIs must lie inside it.

    Returns
    -------
    (Tracing or None, list of TracingProblem)
        The tracing to store (a right-to-left polyline reversed) or None when refused,
        and the problems met (refusals, and notes with ``imported`` True).
    """
    problems: list[TracingProblem] = []
    lines: dict[str, np.ndarray | None] = {}
    where = dict(t.where)
    for which, pts in (("LI", t.li), ("MA", t.ma)):
        if pts is None:
            lines[which] = None
            continue
        fixed, found = _check_line(t, which, pts, height, width)
        problems += found
        if fixed is None:
            return None, problems
        if any(p.code == "reversed" for p in found) and where.get(which):
            where[which] = list(where[which])[::-1]  # locations follow their points
        lines[which] = fixed
    li, ma = lines["LI"], lines["MA"]
    t = replace(t, li=li, ma=ma, where=where)
    if li is not None and ma is not None:
        crossing = _crossing(t, li, ma)
        if crossing is not None:
            return None, [*problems, crossing]
    for k, r in enumerate(t.rois):
        r0, c0, r1, c1 = r
        place = (t.where.get("rois") or [f"{t.entry}, ROI {k + 1}"] * (k + 1))[k]
        if not all(math.isfinite(v) for v in r) or not (r1 > r0 and c1 > c0):
            return None, [*problems, TracingProblem(t.entry, "malformed", (
                f"{place}: the ROI {list(r)} needs row1 > row0 and col1 > col0."))]
        if height is not None and width is not None and (
                r0 < 0 or c0 < 0 or r1 > height or c1 > width):
            return None, [*problems, TracingProblem(t.entry, "outside", (
                f"{place}: the ROI {list(r)} (row0, col0, row1, col1) is outside the "
                f"{width}x{height} image."))]
    if li is None and ma is None and not t.rois:
        return None, [*problems, TracingProblem(t.entry, "malformed",
                                                f"{t.entry}: no LI, MA nor ROI.")]
    return t, problems


def _crossing(t: Tracing, li: np.ndarray, ma: np.ndarray) -> TracingProblem | None:
    """A problem when MA is not strictly below LI at some column both cover."""
    lo, hi = max(li[0, 1], ma[0, 1]), min(li[-1, 1], ma[-1, 1])
    if lo > hi:
        return None  # no shared column: nothing to compare (IMT will say so)
    cols = np.union1d(li[:, 1], ma[:, 1])
    cols = cols[(cols >= lo) & (cols <= hi)]
    gap = np.interp(cols, ma[:, 1], ma[:, 0]) - np.interp(cols, li[:, 1], li[:, 0])
    bad = np.flatnonzero(gap <= 0)
    if not bad.size:
        return None
    c = float(cols[bad[0]])
    i = min(int(np.searchsorted(li[:, 1], c)), len(li) - 1)
    j = min(int(np.searchsorted(ma[:, 1], c)), len(ma) - 1)
    everywhere = " (MA is above LI at every shared column: are the two swapped?)" \
        if bad.size == cols.size else ""
    return TracingProblem(t.entry, "crossing", (
        f"{t.entry}: LI and MA cross at x = {c:g}: MA ({t.locate('MA', j)}) is not below "
        f"LI ({t.locate('LI', i)}){everywhere}. LI (lumen-intima) lies above MA "
        "(media-adventitia) at every column both cover."))


# ---------------------------------------------------------------------------- JSON


def _points(value: Any, place: str) -> np.ndarray | None:
    if value is None:
        return None
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"{place} must be a list of [row, col] pairs")
    return arr


def _entry(d: Any, k: int) -> Tracing:
    place = f"studies[{k}]"
    if not isinstance(d, dict):
        raise ValueError(f"{place} must be an object")
    name, frame = d.get("name"), d.get("frame", 0)
    if not isinstance(name, str) or not name:
        raise ValueError(f"{place} has no \"name\"")
    if isinstance(frame, bool) or not isinstance(frame, int) or frame < 0:
        raise ValueError(f"{place}.frame must be an integer >= 0, got {frame!r}")
    rois = d.get("rois") or []
    if not isinstance(rois, list) or any(not isinstance(r, list) or len(r) != 4 for r in rois):
        raise ValueError(f"{place}.rois must be a list of [row0, col0, row1, col1]")
    mmpp = d.get("mm_per_pixel")
    if mmpp is not None and (isinstance(mmpp, bool) or not isinstance(mmpp, (int, float))):
        raise ValueError(f"{place}.mm_per_pixel must be a number or null")
    ps = d.get("pixel_spacing_mm")
    li, ma = _points(d.get("LI"), f"{place}.LI"), _points(d.get("MA"), f"{place}.MA")
    where = {"entry": f"{place} ({name} frame {frame})",
             "LI": [f"{place}.LI[{i}]" for i in range(0 if li is None else len(li))],
             "MA": [f"{place}.MA[{i}]" for i in range(0 if ma is None else len(ma))],
             "rois": [f"{place}.rois[{i}]" for i in range(len(rois))]}
    return Tracing(name, frame, li, ma, tuple(tuple(r) for r in rois),
                   None if mmpp is None else float(mmpp),
                   None if not ps else (float(ps[0]), float(ps[1])),
                   d.get("spacing_source"), where)


def read_tracings_json(path: str | os.PathLike[str]
                       ) -> tuple[list[Tracing], list[TracingProblem]]:
    """The tracings of a JSON file (see the module docstring); malformed entries are
    problems, not exceptions.

    Raises
    ------
    ValueError
        The file is not JSON (the message gives the line and column), not an object
        with ``version`` 1 and a ``studies`` list.
    OSError
        The file cannot be read.
    """
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"The tracings file {quote(p)} was not found (or is not a file). "
                         f"Path: {p}")
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"The tracings file {quote(p)} is not valid JSON: {exc.msg} at line "
                         f"{exc.lineno}, column {exc.colno}. File: {p}") from exc
    except UnicodeDecodeError as exc:
        raise ValueError(f"The tracings file {quote(p)} is not UTF-8 text. File: {p}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("studies"), list):
        raise ValueError(f"The tracings file {quote(p)} is not a LayerTune tracings JSON: it "
                         f"needs {{\"version\": 1, \"studies\": [...]}}. File: {p}")
    if doc.get("version") != JSON_VERSION:
        raise ValueError(f"The tracings file {quote(p)} is version {doc.get('version')!r}; "
                         f"this LayerTune reads version {JSON_VERSION}. File: {p}")
    out, problems = [], []
    for k, d in enumerate(doc["studies"]):
        try:
            out.append(_entry(d, k))
        except (ValueError, TypeError) as exc:
            problems.append(TracingProblem(f"studies[{k}]", "malformed",
                                           f"{p.name}: {exc}."))
    return out, problems


def _pairs(pts: np.ndarray | None) -> list[list[float]] | None:
    return None if pts is None else [[float(r), float(c)] for r, c in pts]


def write_tracings_json(path: str | os.PathLike[str], tracings: Sequence[Tracing]) -> int:
    """Write ``tracings`` as the JSON of polylines (atomically); returns how many.

    Floats are written as Python's shortest exact ``repr``: reading the file back gives
    the same numbers bit for bit.
    """
    p = Path(path)
    studies = []
    for t in tracings:
        d: dict[str, Any] = {"name": t.name, "frame": int(t.frame), "LI": _pairs(t.li),
                             "MA": _pairs(t.ma), "rois": [list(r) for r in t.rois],
                             "mm_per_pixel": t.mm_per_pixel}
        if t.pixel_spacing_mm is not None:
            d["pixel_spacing_mm"] = [float(v) for v in t.pixel_spacing_mm]
        if t.spacing_source:
            d["spacing_source"] = t.spacing_source
        studies.append(d)
    text = json.dumps({"version": JSON_VERSION, "studies": studies}, indent=1)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".part")
    tmp.write_text(text + "\n", encoding="utf-8")
    os.replace(tmp, p)
    return len(studies)
