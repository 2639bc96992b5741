"""Tracings in the layout of the CUBS dataset (Carotid Ultrasound Boundary Study).

CUBS (Meiburger et al., Ultrasound Med Biol 2021 / Comput Biol Med 2022) ships, per
image ``<id>``::

    <folder>/<id>-LI.txt      the lumen-intima profile
    <folder>/<id>-MA.txt      the media-adventitia profile
    CF/<id>_CF.txt            one number: the image's pixel size in mm per pixel

A profile file holds the points as two columns ``x y`` (one point per line), or as two
rows (all x on the first line, all y on the second); both are detected (a file of two
lines of two numbers is read as two columns). Numbers may be separated by spaces, tabs
or commas; lines starting with ``#`` are skipped. x is the column and y the row in
pixels, pixel centres at integers from 0 (``index_base=1`` reads and writes
MATLAB-style coordinates counted from 1). The ``CF/`` folder is looked for beside the
profiles and up to two folders above them (CUBS keeps it at the dataset's root).

Study and frame: ``<id>`` is the study's name for frame 0 of a one-frame study, else
``<name>_frame<NNNN>``; a plain name read back means frame 0. The layout has no ROIs:
they are kept by the JSON format only (:mod:`core.io.tracings`).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.io.base import quote
from core.io.tracings import Tracing, TracingProblem

__all__ = ["cubs_id", "parse_cubs_id", "read_cubs", "write_cubs"]

_PROFILE = re.compile(r"^(?P<id>.+)-(?P<which>LI|MA)\.txt$", re.IGNORECASE)
_FRAME = re.compile(r"^(?P<name>.+)_frame(?P<frame>\d+)$")
_UNSAFE = re.compile(r"[\\/\x00-\x1f:*?\"<>|]")


def cubs_id(name: str, frame: int, n_frames: int) -> str:
    """The CUBS ``<id>`` of a study's frame (see the module docstring).

    Raises
    ------
    ValueError
        The name cannot be a file name (a path separator or control character).
    """
    if not name or _UNSAFE.search(name) or name in (".", ".."):
        raise ValueError(f"the study name {name!r} cannot be a file name; rename the study")
    return name if frame == 0 and n_frames <= 1 else f"{name}_frame{int(frame):04d}"


def parse_cubs_id(image_id: str, names: Sequence[str]) -> tuple[str, int] | None:
    """(study name, frame) an ``<id>`` means among the project's study ``names``."""
    if image_id in names:
        return image_id, 0
    m = _FRAME.match(image_id)
    if m and m.group("name") in names:
        return m.group("name"), int(m.group("frame"))
    return None


def _read_profile(path: Path, index_base: int
                  ) -> tuple[np.ndarray | None, list[str], str | None]:
    """(points (N, 2) row/col, one location per point, error) of one profile file."""
    try:
        text = path.read_text(encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        return None, [], f"{path.name}: not a text file of numbers"
    rows: list[tuple[int, list[float]]] = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        values = []
        for tok in re.split(r"[\s,;]+", line):
            try:
                v = float(tok)
            except ValueError:
                return None, [], f"{path.name} line {n}: {tok[:20]!r} is not a number"
            if not math.isfinite(v):
                return None, [], f"{path.name} line {n}: {tok[:20]!r} is not a finite number"
            values.append(v)
        rows.append((n, values))
    if not rows:
        return None, [], f"{path.name}: the file holds no points"
    if all(len(v) == 2 for _, v in rows):  # two columns: x y per line
        xy = np.array([v for _, v in rows], dtype=np.float64)
        where = [f"{path.name} line {n}" for n, _ in rows]
    elif len(rows) == 2 and len(rows[0][1]) == len(rows[1][1]):  # two rows: x..., y...
        xy = np.array([rows[0][1], rows[1][1]], dtype=np.float64).T
        where = [f"{path.name} value {i + 1} of lines {rows[0][0]}-{rows[1][0]}"
                 for i in range(len(xy))]
    else:
        bad = next((n for n, v in rows if len(v) != 2), rows[0][0])
        return None, [], (f"{path.name} line {bad}: expected two columns (x y on each line) "
                          "or two rows (the x values, then the y values)")
    pts = xy[:, ::-1] - float(index_base)  # (x, y) -> (row, col)
    return pts, where, None


def _find_cf(folder: Path, image_id: str) -> Path | None:
    for base in (folder, folder.parent, folder.parent.parent):
        f = base / "CF" / f"{image_id}_CF.txt"
        if f.is_file():
            return f
    return None


def _read_cf(path: Path) -> tuple[float | None, str | None]:
    try:
        tokens = path.read_text(encoding="utf-8").split()
        v = float(tokens[0]) if len(tokens) == 1 else math.nan
    except (OSError, UnicodeDecodeError, ValueError, IndexError):
        v = math.nan
    if not math.isfinite(v) or v <= 0:
        return None, (f"{path.name}: expected one positive number (mm per pixel); the "
                      "spacing was not taken from it")
    return v, None


def read_cubs(folder: str | os.PathLike[str], *, index_base: int = 0
              ) -> tuple[list[Tracing], list[TracingProblem]]:
    """The tracings of a folder in the CUBS layout (the profiles directly in it).

    Parameters
    ----------
    folder : str or PathLike
    index_base : int, keyword-only
        0 (default) or 1: the coordinate of the first pixel in the files.

    Returns
    -------
    (list of Tracing, list of TracingProblem)
        One tracing per ``<id>`` (``name`` is the ``<id>``, ``frame`` 0: the import
        resolves ``_frameNNNN`` ids against the project); unreadable files are problems.

    Raises
    ------
    ValueError
        ``folder`` is not a folder, or holds no ``<id>-LI.txt`` / ``<id>-MA.txt``.
    """
    root = Path(folder)
    if index_base not in (0, 1):
        raise ValueError(f"index_base must be 0 or 1, got {index_base!r}")
    if not root.is_dir():
        raise ValueError(f"The CUBS tracings folder {quote(root)} is not a folder. "
                         f"Path: {root}")
    found: dict[str, dict[str, Path]] = {}
    for e in sorted(os.scandir(root), key=lambda e: e.name):
        m = _PROFILE.match(e.name)
        if m and e.is_file():
            found.setdefault(m.group("id"), {})[m.group("which").upper()] = Path(e.path)
    if not found:
        raise ValueError(f"{quote(root)} holds no CUBS tracings (files named <id>-LI.txt and "
                         f"<id>-MA.txt). Folder: {root}")
    out, problems = [], []
    for image_id, files in found.items():
        pts: dict[str, np.ndarray | None] = {"LI": None, "MA": None}
        where: dict[str, object] = {"entry": image_id}
        failed = False
        for which, f in files.items():
            arr, places, error = _read_profile(f, index_base)
            if error:
                problems.append(TracingProblem(image_id, "malformed", error))
                failed = True
                continue
            pts[which], where[which] = arr, places
        if failed:
            continue
        if len(files) == 1:
            have = next(iter(files))
            other = "MA" if have == "LI" else "LI"
            problems.append(TracingProblem(image_id, "missing", (
                f"{image_id}: {image_id}-{have}.txt has no {image_id}-{other}.txt beside it; "
                f"the {have} tracing is imported alone."), True))
        mmpp = None
        cf = _find_cf(root, image_id)
        if cf is not None:
            mmpp, error = _read_cf(cf)
            if error:
                problems.append(TracingProblem(image_id, "malformed", error, True))
        out.append(Tracing(image_id, 0, pts["LI"], pts["MA"], (), mmpp, where=where))
    return out, problems


def _fmt(v: float) -> str:
    return repr(float(v))  # the shortest text that reads back as the same float


def write_cubs(folder: str | os.PathLike[str], tracings: Sequence[tuple[str, Tracing]], *,
               index_base: int = 0) -> list[Path]:
    """Write ``(id, tracing)`` pairs in the CUBS layout under ``folder``.

    Each present profile becomes ``<id>-LI.txt`` / ``<id>-MA.txt`` (two columns x y,
    exact floats); a known ``mm_per_pixel`` becomes ``CF/<id>_CF.txt``. ROIs are not
    written (the layout has none).

    Returns
    -------
    list of Path
        The files written.
    """
    if index_base not in (0, 1):
        raise ValueError(f"index_base must be 0 or 1, got {index_base!r}")
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    written = []
    for image_id, t in tracings:
        for which, pts in (("LI", t.li), ("MA", t.ma)):
            if pts is None:
                continue
            lines = [f"{_fmt(c + index_base)} {_fmt(r + index_base)}" for r, c in pts]
            f = root / f"{image_id}-{which}.txt"
            f.write_text("\n".join(lines) + "\n", encoding="utf-8")
            written.append(f)
        if t.mm_per_pixel is not None:
            (root / "CF").mkdir(exist_ok=True)
            f = root / "CF" / f"{image_id}_CF.txt"
            f.write_text(_fmt(t.mm_per_pixel) + "\n", encoding="utf-8")
            written.append(f)
    return written
