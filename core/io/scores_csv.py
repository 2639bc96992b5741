"""Read a ``score,label`` table, the input of ``layertune stats``.

The statistics themselves live in :mod:`core.stats`; this module only turns a CSV file
into the two arrays they take, and says which line of which file is wrong when it cannot.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from core.io.csv_rows import csv_rows

__all__ = ["read_scores_csv"]


def read_scores_csv(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a ``score,label`` CSV file (header row required, other columns ignored).

    Parameters
    ----------
    path : str or Path
        UTF-8 CSV; ``label`` is 0 or 1, ``score`` a finite real number. Column names are
        matched case-insensitively, in any order. Blank lines are skipped.

    Returns
    -------
    scores : ndarray, shape (n,), float64
    labels : ndarray, shape (n,), int64 (0 or 1)

    Raises
    ------
    ValueError
        Naming the file and line of the first bad header or row (a
        :class:`~core.io.csv_rows.CsvFileError` for a row that breaks the CSV format,
        e.g. a stray quote: the line it opens on).
    """
    p = Path(path)
    scores: list[float] = []
    labels: list[int] = []
    with p.open(newline="", encoding="utf-8-sig") as fh:  # -sig: Excel writes a BOM
        rows = csv_rows(fh, p)
        first = next(rows, None)
        cols = [c.strip().lower() for c in first[1]] if first else []
        if "score" not in cols or "label" not in cols:
            raise ValueError(f"{p}:1: header must name columns 'score' and 'label', got {cols}")
        i_s, i_l = cols.index("score"), cols.index("label")
        for line, row in rows:
            if not any(c.strip() for c in row):
                continue
            if len(row) <= max(i_s, i_l):
                raise ValueError(f"{p}:{line}: expected {len(cols)} columns, got {len(row)}")
            raw_s, raw_l = row[i_s].strip(), row[i_l].strip()
            try:
                v = float(raw_s)
            except ValueError:
                raise ValueError(f"{p}:{line}: score {raw_s!r} is not a number") from None
            if not math.isfinite(v):
                raise ValueError(f"{p}:{line}: score {raw_s!r} is not finite")
            if raw_l not in ("0", "1"):
                raise ValueError(f"{p}:{line}: label {raw_l!r} must be 0 or 1")
            scores.append(v)
            labels.append(int(raw_l))
    if not scores:
        raise ValueError(f"{p}: no data rows after the header")
    return np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=np.int64)
