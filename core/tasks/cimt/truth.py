"""The expert's truth of the CIMT task: ROIs and the LI / MA tracings of their frames.

Annotations (see :mod:`core.store.geometry`):

- ``roi``: a :class:`~core.store.geometry.Box` (row0, col0, row1, col1; rows ``row0 <= r <
  row1``) on a frame; up to 3 per frame in the paper, any number here.
- ``polyline`` with value ``"LI"`` or ``"MA"``: an open polyline (N, 2) (row, col) on a
  frame, ordered by column. Tracings live on frames; an ROI uses its frame's LI and MA
  clipped to its columns. A frame may hold several pieces of one interface; where they
  overlap the newest (highest id: an expert's correction) wins.

An ROI is *traced* when both interfaces cover some of its columns. The pixel truth of a
traced ROI is the interface rows at every integer column both cover (linear
interpolation along the polyline): the rasterised interface is one pixel per column, at
the rounded row (:mod:`core.tasks.cimt.sampling`).

Bad input is refused with messages naming the study, frame and annotation: an ROI not
inside its frame, a tracing that runs backwards (columns not increasing), LI below MA
(the tracings cross or are swapped).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

INTERFACES = ("LI", "MA")
MIN_ROI_COLS = 2
"""Fewest columns both tracings must cover in an ROI for it to count as traced."""


@dataclass(frozen=True, eq=False)
class RoiTruth:
    """One ROI of a frame and its expert interfaces.

    Attributes
    ----------
    study_id, frame : int
    roi_id : int
        The ROI annotation's id (``-1`` for an ROI made in code).
    box : (row0, col0, row1, col1) int
        Pixel rows ``row0 <= r < row1``, cols ``col0 <= c < col1``, inside the frame.
    cols : (K,) int64
        Columns of the ROI covered by both tracings (empty: not traced).
    li_rows, ma_rows : (K,) float64
        Interface rows at ``cols`` (full-frame pixel coordinates).
    li, ma : (N, 2) float64 or None
        The frame's expert polylines (merged pieces), full length.
    """

    study_id: int
    frame: int
    roi_id: int
    box: tuple[int, int, int, int]
    cols: np.ndarray
    li_rows: np.ndarray
    ma_rows: np.ndarray
    li: np.ndarray | None = None
    ma: np.ndarray | None = None

    @property
    def traced(self) -> bool:
        return len(self.cols) >= MIN_ROI_COLS

    @property
    def shape(self) -> tuple[int, int]:
        r0, c0, r1, c1 = self.box
        return r1 - r0, c1 - c0

    def clipped(self, which: str) -> np.ndarray:
        """(K, 2) (row, col) of interface ``which`` ("LI" / "MA") at the ROI's traced
        columns (full-frame coordinates)."""
        rows = {"LI": self.li_rows, "MA": self.ma_rows}[which]
        return np.column_stack([rows, self.cols.astype(np.float64)])


def pixel_box(box, shape: tuple[int, int] | None = None, *, where: str = "the ROI"
              ) -> tuple[int, int, int, int]:
    """Integer pixel bounds of a :class:`~core.store.geometry.Box` (or a 4-sequence).

    Pixel ``r`` is inside when ``row0 <= r < row1`` (likewise columns), so the bounds
    are ``ceil`` of each edge. With ``shape`` (H, W) the box must lie inside the image.

    Raises
    ------
    ValueError
        The box is empty or (with ``shape``) not inside the image; the message says
        where and what the image size is.
    """
    vals = [getattr(box, k) for k in ("row0", "col0", "row1", "col1")] \
        if hasattr(box, "row0") else list(box)
    if len(vals) != 4 or not all(np.isfinite(v) for v in vals):
        raise ValueError(f"{where} must be 4 finite numbers (row0, col0, row1, col1), got "
                         f"{vals}")
    r0, c0, r1, c1 = (int(np.ceil(float(v) - 1e-9)) for v in vals)
    if r1 <= r0 or c1 <= c0:
        raise ValueError(f"{where} holds no pixel (rows {vals[0]:g}-{vals[2]:g}, cols "
                         f"{vals[1]:g}-{vals[3]:g})")
    if shape is not None:
        h, w = int(shape[0]), int(shape[1])
        if r0 < 0 or c0 < 0 or r1 > h or c1 > w:
            raise ValueError(f"{where} (rows {r0}-{r1 - 1}, cols {c0}-{c1 - 1}) is not inside "
                             f"the {h} x {w} image; draw it inside the image")
    return r0, c0, r1, c1


def check_polyline(points, *, where: str = "the tracing") -> np.ndarray:
    """(N, 2) float64 (row, col) points, checked: finite, N >= 2, columns increasing.

    Raises
    ------
    ValueError
        Naming the first point (1-based) where the tracing runs backwards or repeats a
        column (an open interface is a function of the column).
    """
    p = np.asarray(points, np.float64)
    if p.ndim != 2 or p.shape[1] != 2 or len(p) < 2:
        raise ValueError(f"{where} needs at least 2 (row, col) points, got shape {p.shape}")
    if not np.all(np.isfinite(p)):
        raise ValueError(f"{where} has a point that is not a finite number")
    d = np.diff(p[:, 1])
    if np.any(d <= 0):
        k = int(np.argmax(d <= 0)) + 1
        raise ValueError(f"{where} runs backwards at point {k + 1} (column {p[k, 1]:g} after "
                         f"{p[k - 1, 1]:g}): trace from left to right, one point per column "
                         "at most")
    return p


def rows_at(polylines, cols: np.ndarray) -> np.ndarray:
    """Rows of an interface at integer ``cols`` (NaN where no piece covers a column).

    ``polylines``: pieces (N_i, 2) (row, col), oldest first; a later piece wins where
    pieces overlap.
    """
    cols = np.asarray(cols, np.float64)
    out = np.full(len(cols), np.nan)
    for p in polylines:
        inside = (cols >= p[0, 1]) & (cols <= p[-1, 1])
        out[inside] = np.interp(cols[inside], p[:, 1], p[:, 0])
    return out


def merged(polylines) -> np.ndarray | None:
    """One polyline from the pieces (newest wins on overlaps), sampled at their own
    vertices; None without pieces."""
    if not polylines:
        return None
    if len(polylines) == 1:
        return polylines[0]
    cols = np.unique(np.concatenate([p[:, 1] for p in polylines]))
    rows = rows_at(polylines, cols)
    keep = np.isfinite(rows)
    return np.column_stack([rows[keep], cols[keep]])


def frame_tracings(project, study_id: int, frame: int | None = None
                   ) -> dict[int, dict[str, list[np.ndarray]]]:
    """``{frame: {"LI": [pieces], "MA": [pieces]}}`` of the expert's tracings, each piece
    checked (:func:`check_polyline`), oldest first."""
    out: dict[int, dict[str, list[np.ndarray]]] = {}
    for a in project.annotations(study_id, kind="polyline", frame=frame):
        if a.frame is None or a.value not in INTERFACES:
            continue
        where = f"the {a.value} tracing (annotation {a.id}) on frame {a.frame} of study {study_id}"
        p = check_polyline(a.geometry.points, where=where)
        out.setdefault(int(a.frame), {"LI": [], "MA": []})[a.value].append(p)
    return out


def roi_truth(study_id: int, frame: int, roi_id: int, box: tuple[int, int, int, int],
              li_pieces, ma_pieces) -> RoiTruth:
    """The truth of one ROI from its frame's tracing pieces.

    Raises
    ------
    ValueError
        MA lies above (or on) LI at a shared column: the tracings cross or are swapped.
    """
    r0, c0, r1, c1 = box
    cols = np.arange(c0, c1, dtype=np.int64)
    li = rows_at(li_pieces, cols)
    ma = rows_at(ma_pieces, cols)
    both = np.isfinite(li) & np.isfinite(ma)
    cols, li, ma = cols[both], li[both], ma[both]
    bad = ma <= li
    if bad.any():
        k = int(np.argmax(bad))
        raise ValueError(f"the LI and MA tracings cross on frame {frame} of study {study_id} "
                         f"at column {cols[k]} (LI row {li[k]:.1f}, MA row {ma[k]:.1f}): LI "
                         "(lumen-intima) must lie above MA (media-adventitia); fix or "
                         "swap them")
    return RoiTruth(study_id, int(frame), int(roi_id), (r0, c0, r1, c1), cols, li, ma,
                    merged(li_pieces), merged(ma_pieces))


def study_rois(project, study, frame: int | None = None) -> list[RoiTruth]:
    """Every ROI of ``study`` (of ``frame`` when given) with its truth, by frame then id.

    Raises
    ------
    ValueError
        An ROI outside its frame, a tracing that runs backwards, tracings that cross.
    """
    shape = (int(study.height), int(study.width))
    tracings = frame_tracings(project, study.id, frame)
    out = []
    for a in project.annotations(study.id, kind="roi", frame=frame):
        if a.frame is None:
            continue
        where = f"ROI {a.id} on frame {a.frame} of {study.name}"
        box = pixel_box(a.geometry, shape, where=where)
        t = tracings.get(int(a.frame), {"LI": [], "MA": []})
        out.append(roi_truth(study.id, int(a.frame), a.id, box, t["LI"], t["MA"]))
    return out
