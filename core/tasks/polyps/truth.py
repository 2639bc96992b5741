"""The expert's truth of the polyp task, and the labels it gives the candidates.

Truth per frame comes from three kinds of annotation:

- ``mask``: a binary mask; each 8-connected component is one polyp. An empty mask says
  "no polyp on this frame" (every candidate on it is a false positive).
- ``box``: a polyp given as a box only (datasets that ship boxes); one polyp per box.
- ``point`` with value ``"polyp"`` or ``"not polyp"``: the expert's decision on one
  candidate (key A / R in the workspace), stored at the candidate's centre so that it
  survives the generator being run again. A decision overrides the mask for that
  candidate's label; an accepted candidate on a frame without a mask or box is a polyp
  of its own.

A frame has truth when it has any of these; frames without truth are not counted by the
FROC and their candidates stay unlabelled (``-1``).

The hit rule (SPEC §1.4): a candidate is positive when its centre falls inside a polyp
(mask component or box). Several candidates on one polyp all hit that polyp; the FROC
counts the polyp once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from core.tasks.polyps.hits import candidate_lesions, lesion_labels

ACCEPT = "polyp"
REJECT = "not polyp"
DECISIONS = (ACCEPT, REJECT)
TRUTH_KINDS = ("mask", "box", "point")
MIN_POLYP_AREA = 50
"""Mask components smaller than this (pixels) are not polyps: the specks a thresholded
JPEG mask keeps (one of Kvasir-SEG's five sample masks has a 1-pixel one)."""


@dataclass
class FrameTruth:
    """What the expert said about one frame.

    ``lesions`` lists the frame's polyp keys (``"m1"``, ``"m2"`` mask components,
    ``"b<id>"`` boxes, ``"p<id>"`` accepted candidates standing alone).
    """

    mask: np.ndarray | None = None
    boxes: list[tuple[int, tuple[float, float, float, float]]] = field(default_factory=list)
    decisions: list[tuple[int, float, float, str]] = field(default_factory=list)
    _components: tuple[np.ndarray, int] | None = None

    @property
    def components(self) -> tuple[np.ndarray | None, int]:
        """(labels (H, W) int32 with 1..n, n) of the mask; (None, 0) without a mask."""
        if self.mask is None:
            return None, 0
        if self._components is None:
            self._components = lesion_labels(self.mask, min_area=MIN_POLYP_AREA)
        return self._components

    @property
    def lesions(self) -> list[str]:
        keys = [f"m{k}" for k in range(1, self.components[1] + 1)]
        keys += [f"b{i}" for i, _ in self.boxes]
        keys += [f"p{i}" for i, r, c, v in self.decisions
                 if v == ACCEPT and self.lesion_at(r, c) is None]
        return keys

    def lesion_at(self, row: float, col: float) -> str | None:
        """The mask component or box the pixel (row, col) lies in, or None."""
        comp, _ = self.components
        if comp is not None:
            k = int(candidate_lesions(np.array([[row, col]], np.float64), self.mask,
                                      min_area=MIN_POLYP_AREA)[0])
            if k > 0:
                return f"m{k}"
        for box_id, (r0, c0, r1, c1) in self.boxes:
            if r0 <= row < r1 and c0 <= col < c1:
                return f"b{box_id}"
        return None


def study_truth(project, study_id: int, frame: int | None = None) -> dict[int, FrameTruth]:
    """``{frame: FrameTruth}`` of every frame of the study with some truth (of
    ``frame`` only, when given)."""
    out: dict[int, FrameTruth] = {}
    for a in project.annotations(study_id, kind="mask", frame=frame):
        out.setdefault(int(a.frame), FrameTruth()).mask = a.geometry.array
    for a in project.annotations(study_id, kind="box", frame=frame):
        if a.frame is None:
            continue
        g = a.geometry
        out.setdefault(int(a.frame), FrameTruth()).boxes.append(
            (a.id, (g.row0, g.col0, g.row1, g.col1)))
    for a in project.annotations(study_id, kind="point", frame=frame):
        if a.frame is None or a.value not in DECISIONS:
            continue
        out.setdefault(int(a.frame), FrameTruth()).decisions.append(
            (a.id, a.geometry.row, a.geometry.col, a.value))
    return out


def decision_for(truth: FrameTruth | None, center: Sequence[float],
                 extent: Sequence[float]) -> tuple[int, str] | None:
    """The expert's (annotation id, decision) on the candidate at ``center`` with box
    ``extent``: the decision point nearest its centre, within a quarter of the box's
    shorter side (at least 2 pixels). None when there is none."""
    if truth is None or not truth.decisions:
        return None
    r0, c0, r1, c1 = extent
    reach = max(2.0, 0.25 * min(r1 - r0, c1 - c0))
    best, best_d = None, reach
    for ann_id, r, c, v in truth.decisions:
        d = float(np.hypot(r - center[0], c - center[1]))
        if d <= best_d:
            best, best_d = (ann_id, v), d
    return best


def candidate_truth(truth: FrameTruth | None, centers: np.ndarray, extents: np.ndarray
                    ) -> tuple[np.ndarray, list[str | None]]:
    """Labels and polyp keys of one frame's candidates.

    Parameters
    ----------
    truth : the frame's truth, or None (no truth: every label is -1)
    centers : (N, 2) float (row, col)
    extents : (N, 4) float (row0, col0, row1, col1)

    Returns
    -------
    labels : (N,) int64
        1 on a polyp, 0 not, -1 unknown.
    lesions : list of N str or None
        The polyp each candidate hits (None: a false positive, or unknown).
    """
    n = len(centers)
    labels = np.full(n, -1, np.int64)
    lesions: list[str | None] = [None] * n
    if truth is None or n == 0:
        return labels, lesions
    centers = np.asarray(centers, np.float64).reshape(n, 2)
    has_truth = truth.mask is not None or bool(truth.boxes)
    if has_truth:
        labels[:] = 0
    comp, _ = truth.components
    if comp is not None:
        hit = candidate_lesions(centers, truth.mask, min_area=MIN_POLYP_AREA)
        for k in np.flatnonzero(hit > 0):
            labels[k], lesions[k] = 1, f"m{int(hit[k])}"
    for box_id, (r0, c0, r1, c1) in truth.boxes:
        inside = ((centers[:, 0] >= r0) & (centers[:, 0] < r1)
                  & (centers[:, 1] >= c0) & (centers[:, 1] < c1))
        for k in np.flatnonzero(inside & (labels != 1)):
            labels[k], lesions[k] = 1, f"b{box_id}"
    for k in range(n):
        dec = decision_for(truth, centers[k], extents[k])
        if dec is None:
            continue
        ann_id, value = dec
        if value == REJECT:
            labels[k], lesions[k] = 0, None
        elif lesions[k] is None:  # accepted where the mask/box has no polyp here
            labels[k] = 1
            r, c = next((r, c) for i, r, c, _ in truth.decisions if i == ann_id)
            lesions[k] = truth.lesion_at(r, c) or f"p{ann_id}"
    return labels, lesions


def lesion_list(truth_by_frame: dict[int, FrameTruth], image_key) -> list[tuple[object, str]]:
    """(image id, polyp key) of every polyp of ``truth_by_frame``; ``image_key(frame)``
    gives the image id."""
    return [(image_key(f), key) for f, t in sorted(truth_by_frame.items()) for key in t.lesions]
