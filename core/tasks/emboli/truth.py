"""The expert's emboli, and the labels they give the tobogganing candidates.

Truth of a CT volume comes from

- ``sphere`` annotations: an embolus as a centre in patient millimetres and a radius
  (LUNA16 convention, :mod:`core.io.marks`), one embolus each;
- ``mask`` annotations, one per plane (a DICOM SEG import, painted voxels): each
  26-connected component of the stacked planes is one embolus;
- ``point`` annotations with value ``"embolus"`` / ``"not embolus"`` at a candidate's
  centre (voxel (plane, row, col) in ``Point(row, col)`` and the plane as the frame):
  the expert's decision on that candidate, which overrides the marks.

Hit rule (SPEC §1.5, issue 8): a candidate hits an embolus when its centre lies inside
the marked sphere or mask component, or within ``tolerance_mm`` of it. Several
candidates may hit one embolus; the FROC counts it once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

ACCEPT = "embolus"
REJECT = "not embolus"


@dataclass
class VolumeTruth:
    """Spheres (annotation id, centre (z, y, x) in voxels, radius in mm), a labelled mask
    volume (26-connected components) and decisions (id, (z, y, x), value)."""

    spheres: list[tuple[int, np.ndarray, float]] = field(default_factory=list)
    components: np.ndarray | None = None
    n_components: int = 0
    decisions: list[tuple[int, np.ndarray, str]] = field(default_factory=list)

    @property
    def has_marks(self) -> bool:
        return bool(self.spheres) or self.n_components > 0

    @property
    def lesions(self) -> list[str]:
        return ([f"s{i}" for i, _, _ in self.spheres]
                + [f"m{k}" for k in range(1, self.n_components + 1)])


def volume_truth(project, study, geometry) -> VolumeTruth:
    """The truth of one CT study; ``geometry`` a :class:`core.io.geometry3d.VolumeGeometry`."""
    t = VolumeTruth()
    for a in project.annotations(study.id, kind="sphere"):
        ijk = geometry.world_to_voxel(np.asarray(a.geometry.centre_mm, float))
        t.spheres.append((a.id, np.asarray(ijk, float).reshape(3), float(a.geometry.radius_mm)))
    masks = project.annotations(study.id, kind="mask")
    if masks:
        vol = np.zeros(tuple(int(v) for v in geometry.shape), bool)
        for a in masks:
            if a.frame is not None and 0 <= a.frame < vol.shape[0] \
                    and a.geometry.array.shape == vol.shape[1:]:
                vol[a.frame] = a.geometry.array
        t.components, t.n_components = ndimage.label(vol, structure=np.ones((3, 3, 3)))
    t.decisions = decision_points(project, study.id)
    return t


def decision_points(project, study_id: int) -> list[tuple[int, np.ndarray, str]]:
    """The expert's accept / reject decisions on a CT study, in the order stored:
    (annotation id, (plane, row, col), value)."""
    return [(a.id, np.array([a.frame, a.geometry.row, a.geometry.col], float), a.value)
            for a in project.annotations(study_id, kind="point")
            if a.value in (ACCEPT, REJECT) and a.frame is not None]


def decision_reach_mm(spacing_mm) -> float:
    """How far (mm) a decision may lie from its candidate's centre: it is stored on the
    candidate's plane rounded, so up to half a plane off (at least 1 mm)."""
    return max(1.0, 0.5 * float(spacing_mm[0]) + 0.1)


def decisions_by_candidate(decisions, centres_zyx: np.ndarray, spacing_mm
                           ) -> dict[int, tuple[int, str]]:
    """{candidate position: (annotation id, value)}: each of ``decisions`` (as
    :func:`decision_points` gives them) on the candidate nearest it, when within
    :func:`decision_reach_mm`; a later one wins (the rule of :func:`candidate_truth`)."""
    out: dict[int, tuple[int, str]] = {}
    centres = np.asarray(centres_zyx, float).reshape(-1, 3)
    if not len(centres):
        return out
    sp = np.asarray(spacing_mm, float)
    reach = decision_reach_mm(sp)
    for ann_id, c, value in decisions:
        d = np.sqrt((((centres - c) * sp) ** 2).sum(axis=1))
        k = int(np.argmin(d))
        if d[k] <= reach:
            out[k] = (ann_id, value)
    return out


def decision_place(center_zyx, spacing_mm) -> tuple[int, float, float]:
    """(plane, row, col) where a decision on a candidate centred at ``center_zyx`` is
    stored: its plane rounded.

    Raises
    ------
    ValueError
        The centre lies too far between two planes for a decision there to reach it.
    """
    z, y, x = (float(v) for v in center_zyx)
    plane = int(round(z))
    off = abs(z - plane) * float(spacing_mm[0])
    if off > decision_reach_mm(spacing_mm):
        raise ValueError(f"it lies {off:.1f} mm between two planes: its decision cannot "
                         "be stored on a plane near enough to it")
    return plane, y, x


def candidate_truth(truth: VolumeTruth, centers_vox: np.ndarray, spacing_mm,
                    tolerance_mm: float = 0.0) -> tuple[np.ndarray, list[str | None]]:
    """Labels (1, 0; -1 when the volume has no truth) and embolus keys of candidates.

    Parameters
    ----------
    centers_vox : (N, 3) float (plane, row, col)
    spacing_mm : (dz, dy, dx)
    tolerance_mm : float
        A centre this close to a sphere's surface or a mask voxel still hits it.
    """
    centers = np.asarray(centers_vox, float).reshape(-1, 3)
    n = len(centers)
    sp = np.asarray(spacing_mm, float)
    labels = np.full(n, -1 if not (truth.has_marks or truth.decisions) else 0, np.int64)
    if not truth.has_marks and not truth.decisions:
        return labels, [None] * n
    labels[:] = 0
    lesions: list[str | None] = [None] * n
    for ann_id, c, r in truth.spheres:
        d = np.sqrt((((centers - c) * sp) ** 2).sum(axis=1))
        for k in np.flatnonzero(d <= r + tolerance_mm):
            if lesions[k] is None:
                labels[k], lesions[k] = 1, f"s{ann_id}"
    if truth.components is not None and truth.n_components:
        comp = truth.components
        if tolerance_mm > 0:  # grow each component by the tolerance (nearest label)
            dist, (iz, iy, ix) = ndimage.distance_transform_edt(
                comp == 0, sampling=sp, return_indices=True)
            comp = np.where(dist <= tolerance_mm, comp[iz, iy, ix], 0)
        idx = np.clip(np.floor(centers + 0.5).astype(int), 0, np.array(comp.shape) - 1)
        hit = comp[idx[:, 0], idx[:, 1], idx[:, 2]]
        for k in np.flatnonzero(hit > 0):
            if lesions[k] is None:
                labels[k], lesions[k] = 1, f"m{int(hit[k])}"
    reach = decision_reach_mm(sp)
    for ann_id, c, value in truth.decisions:
        d = np.sqrt((((centers - c) * sp) ** 2).sum(axis=1))
        k = int(np.argmin(d)) if n else -1
        if k < 0 or d[k] > reach:
            continue
        if value == REJECT:
            labels[k], lesions[k] = 0, None
        elif lesions[k] is None:
            labels[k], lesions[k] = 1, f"p{ann_id}"
    return labels, lesions


def accepted_lesions(truth: VolumeTruth, lesions: list[str | None]) -> list[str]:
    """Every embolus of the volume for the FROC: the marks, plus emboli known only from
    an accepted candidate."""
    extra = sorted({k for k in lesions if k is not None and k.startswith("p")})
    return truth.lesions + extra
