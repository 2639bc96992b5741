"""Read the three tables of ``layertune stats froc``: candidates, lesions, images.

``--candidates``: ``image_id,score,lesion_id`` and optionally ``ignore`` — one row per
detector mark; ``lesion_id`` empty for a false positive, else the lesion of that image the
mark hits; ``ignore`` 1 for a mark that is neither a true nor a false positive (empty or 0
otherwise). ``--lesions``: ``image_id,lesion_id`` — every lesion, detected or not.
``--images`` (optional): ``image_id`` — every image counted in the FP rate, those with no
mark and no lesion too (otherwise the images of the other two files). ``--group-column C``:
a column of any of the three files giving each image's group (video, patient), which the
bootstrap resamples whole; an image must not be in two groups.

The statistics live in :mod:`core.stats.froc`; this module turns the files into its
arguments and says which line of which file is wrong when it cannot. Column names match
case-insensitively, in any order; other columns are ignored; blank lines are skipped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.io.csv_rows import csv_rows

__all__ = ["FrocTables", "parse_fp_rates", "read_froc_csv"]

Row = tuple[int, dict[str, str]]


@dataclass(frozen=True, eq=False)
class FrocTables:
    """The content of the three files, in the form :func:`core.stats.froc_analysis` takes.

    Attributes
    ----------
    scores : ndarray, shape (n,), float64
    lesion_ids : ndarray, shape (n,), str ('' for a false positive)
    image_ids : ndarray, shape (n,), str
    ignore : ndarray, shape (n,), bool
    lesions : list of (image_id, lesion_id)
    images : list of str or None
        The images file's ids, None when there was none.
    groups : dict image_id -> group, or None
        From the group column, None without one.
    """

    scores: np.ndarray
    lesion_ids: np.ndarray
    image_ids: np.ndarray
    ignore: np.ndarray
    lesions: list[tuple[str, str]]
    images: list[str] | None
    groups: dict[str, str] | None

    def analysis_args(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """``(args, kwargs)`` for :func:`core.stats.froc_analysis`."""
        return ((self.scores, self.lesion_ids, self.image_ids),
                {"lesions": self.lesions, "images": self.images, "ignore": self.ignore,
                 "groups": self.groups})


def parse_fp_rates(text: str) -> tuple[float, ...]:
    """FP rates from a comma-separated list such as ``"0.125,0.25,1"`` (``--fps``)."""
    try:
        rates = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise ValueError(f"--fps: {text!r} is not a comma-separated list of numbers such "
                         "as 0.125,0.25,0.5,1,2,4,8") from None
    if not rates or not all(math.isfinite(r) and r >= 0 for r in rates):
        raise ValueError(f"--fps: {text!r} must list one or more FP rates >= 0")
    return rates


def _table(path: Path, required: tuple[str, ...], extra: tuple[str, ...]) -> tuple[
        dict[str, int], list[tuple[int, list[str]]]]:
    """Header columns (lower-case name -> index) and the non-blank data rows."""
    with path.open(newline="", encoding="utf-8-sig") as fh:  # -sig: Excel writes a BOM
        rows = list(csv_rows(fh, path))
    head = [c.strip().lower() for c in rows[0][1]] if rows else []
    missing = [c for c in required if c not in head]
    if missing:
        raise ValueError(f"{path}:1: header must name columns {', '.join(map(repr, required))}"
                         f"; missing {', '.join(map(repr, missing))} (got {head})")
    cols: dict[str, int] = {}
    for i, c in enumerate(head):
        if c in cols and c in (*required, *extra):
            raise ValueError(f"{path}:1: column {c!r} appears twice in the header")
        cols.setdefault(c, i)
    return cols, [(line, r) for line, r in rows[1:] if any(c.strip() for c in r)]


def _cells(path: Path, cols: dict[str, int], rows, names: tuple[str, ...]) -> list[Row]:
    """Each row as ``(line, {name: stripped cell})`` for the named columns present."""
    idx = {n: cols[n] for n in names if n in cols}
    need = max(idx.values()) + 1 if idx else 0
    out = []
    for line, r in rows:
        if len(r) < need:
            raise ValueError(f"{path}:{line}: expected {len(cols)} columns, got {len(r)}")
        out.append((line, {n: r[i].strip() for n, i in idx.items()}))
    return out


def _need(path: Path, line: int, row: dict[str, str], col: str) -> str:
    v = row[col]
    if not v:
        raise ValueError(f"{path}:{line}: {col} is empty")
    return v


class _Groups:
    """Image -> group from the group column of whichever files have it, checked."""

    def __init__(self, column: str | None) -> None:
        self.column = None if column is None else column.strip().lower()
        self.seen: dict[str, tuple[str, Path, int]] = {}
        self.found_in: list[Path] = []

    def names(self) -> tuple[str, ...]:
        return () if self.column is None else (self.column,)

    def add(self, path: Path, line: int, image: str, row: dict[str, str]) -> None:
        if self.column is None or self.column not in row:
            return
        g = row[self.column]
        if not g:
            raise ValueError(f"{path}:{line}: group column {self.column!r} is empty")
        old = self.seen.setdefault(image, (g, path, line))
        if old[0] != g:
            raise ValueError(f"{path}:{line}: image {image!r} is in group {g!r} here but in "
                             f"group {old[0]!r} at {old[1]}:{old[2]}; an image belongs to "
                             "one group")


def read_froc_csv(
    candidates: str | Path,
    lesions: str | Path,
    images: str | Path | None = None,
    group_column: str | None = None,
) -> FrocTables:
    """Read and cross-check the candidates, lesions and (optional) images files.

    Parameters
    ----------
    candidates, lesions, images : str or Path
        UTF-8 CSV files with a header row (see the module docstring).
    group_column : str, optional
        Name of the column giving each image's group; it must be in at least one file,
        and every image must get a group from some file.

    Returns
    -------
    FrocTables

    Raises
    ------
    ValueError
        Naming the file and line of the first problem: a missing column, a score that is
        not a finite number, an ``ignore`` other than 0/1/empty, a lesion or image listed
        twice, a candidate on a lesion the lesions file lacks, an image missing from the
        images file, an image in two groups, an image without a group, no lesions.
    """
    grp = _Groups(group_column)
    image_list: list[str] | None = None
    image_line: dict[str, tuple[Path, int]] = {}
    if images is not None:
        p = Path(images)
        cols, rows = _table(p, ("image_id",), grp.names())
        grp.found_in += [p] if grp.column in cols else []
        image_list = []
        for line, row in _cells(p, cols, rows, ("image_id", *grp.names())):
            img = _need(p, line, row, "image_id")
            if img in image_line:
                raise ValueError(f"{p}:{line}: image {img!r} is listed twice (also line "
                                 f"{image_line[img][1]})")
            image_line[img] = (p, line)
            image_list.append(img)
            grp.add(p, line, img, row)
    listed = set(image_line)

    def known_image(path: Path, line: int, img: str) -> None:
        if image_list is not None and img not in listed:
            raise ValueError(f"{path}:{line}: image {img!r} is not in the images file "
                             f"{images}")
        image_line.setdefault(img, (path, line))

    p = Path(lesions)
    cols, rows = _table(p, ("image_id", "lesion_id"), grp.names())
    grp.found_in += [p] if grp.column in cols else []
    lesion_line: dict[tuple[str, str], int] = {}
    for line, row in _cells(p, cols, rows, ("image_id", "lesion_id", *grp.names())):
        key = (_need(p, line, row, "image_id"), _need(p, line, row, "lesion_id"))
        if key in lesion_line:
            raise ValueError(f"{p}:{line}: lesion {key[1]!r} of image {key[0]!r} is listed "
                             f"twice (also line {lesion_line[key]})")
        lesion_line[key] = line
        known_image(p, line, key[0])
        grp.add(p, line, key[0], row)
    if not lesion_line:
        raise ValueError(f"{p}: no lesions (no data rows after the header); sensitivity "
                         "needs at least one lesion")

    p = Path(candidates)
    cols, rows = _table(p, ("image_id", "score", "lesion_id"), ("ignore", *grp.names()))
    grp.found_in += [p] if grp.column in cols else []
    scores, les, imgs, ign = [], [], [], []
    for line, row in _cells(p, cols, rows,
                            ("image_id", "score", "lesion_id", "ignore", *grp.names())):
        img = _need(p, line, row, "image_id")
        raw = row["score"]
        try:
            v = float(raw)
        except ValueError:
            raise ValueError(f"{p}:{line}: score {raw!r} is not a number") from None
        if not math.isfinite(v):
            raise ValueError(f"{p}:{line}: score {raw!r} is not finite")
        flag = row.get("ignore", "")
        if flag not in ("", "0", "1"):
            raise ValueError(f"{p}:{line}: ignore {flag!r} must be 1, 0 or empty")
        lesion = row["lesion_id"]
        if lesion and (img, lesion) not in lesion_line:
            raise ValueError(f"{p}:{line}: lesion {lesion!r} of image {img!r} is not in the "
                             f"lesions file {lesions}")
        known_image(p, line, img)
        grp.add(p, line, img, row)
        scores.append(v)
        les.append(lesion)
        imgs.append(img)
        ign.append(flag == "1")
    groups = None
    if grp.column is not None:
        if not grp.found_in:
            files = ", ".join(str(f) for f in (candidates, lesions, images) if f is not None)
            raise ValueError(f"group column {grp.column!r} is in none of {files}")
        for img, (path, line) in image_line.items():
            if img not in grp.seen:
                raise ValueError(f"{path}:{line}: image {img!r} has no group: no row for it "
                                 f"has a {grp.column!r} column (add it to "
                                 f"{' or '.join(str(f) for f in grp.found_in)})")
        groups = {img: grp.seen[img][0] for img in image_line}
    return FrocTables(np.asarray(scores, dtype=np.float64), np.asarray(les, dtype=str),
                      np.asarray(imgs, dtype=str), np.asarray(ign, dtype=bool),
                      list(lesion_line), image_list, groups)
