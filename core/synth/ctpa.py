"""Synthetic CT pulmonary angiogram with emboli, written as a real DICOM series (SPEC §1.5).

:func:`render_ctpa` draws a chest slab in Hounsfield units: air, subcutaneous fat,
chest-wall muscle, mediastinal fat, lungs (about -850 HU with texture), a vertebral body,
the aorta (170-250 HU), a branching contrast-filled pulmonary artery tree (340-420 HU,
radii from 7 mm at the trunk down to 0.65 mm, smooth 3-D curves; see
:mod:`core.synth.ctpa_anatomy`), pulmonary veins with less contrast (120-200 HU), emboli
as dark filling defects (30-70 HU) in some artery branches and lymph-node-like blobs
(30-60 HU) against the outside of arteries (:mod:`core.synth.ctpa_lesions`). Edges are
partial-volume ramps, the whole is blurred by a 0.6 mm Gaussian point-spread function and
gets lightly correlated Gaussian noise (18 HU by default).

Look-alikes, so that a tobogganing candidate generator finds false candidates too:
bifurcations (the dark crotch between two bright daughters), thin arteries whose
partial-volume average falls into the clot range, low-contrast veins, the aorta, and
the lymph-node-like blobs; each is listed in :attr:`SynthCtpaVolume.lookalikes`.

Geometry (:class:`core.io.geometry3d.VolumeGeometry`): ImageOrientationPatient
``[1, 0, 0, 0, 1, 0]``, so columns grow to the patient's left and rows to the posterior;
plane ``k`` lies at ``z = z0 + k * dz``, **z increasing** with the plane index (plane 0 is
the lowest slice, the slice normal ``r x c`` = +z), and InstanceNumber is ``k + 1``. File
names do not follow the planes (see :mod:`core.synth.ctpa_dicom`).

The volume is deterministic per seed. Anatomy, vessel trees, emboli, nodes and noise draw
from separate streams, so the same seed with ``n_emboli=0`` renders the same voxels except
near the emboli. A default 96 x 160 x 160 volume renders and writes (5 MB) in 1-2 s on
one core; most of it is rasterising the ~2,000 vessel segments.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from core.events import Progress
from core.io.geometry3d import VolumeGeometry
from core.synth.ctpa_anatomy import (
    Layout,
    aorta,
    make_layout,
    paint_background,
    pulmonary_arteries,
    pulmonary_veins,
)
from core.synth.ctpa_dicom import SeriesUids, existing_dicom, write_slices
from core.synth.ctpa_lesions import EmbolusPlan, place_nodes, plan_emboli
from core.synth.ctpa_shapes import Ellipsoid, Grid, Tube, paint

__all__ = ["CTPA_SHAPE", "CTPA_SPACING_MM", "Lookalike", "SynthCtpa", "SynthCtpaVolume",
           "SynthEmbolus", "render_ctpa", "write_ctpa_series"]

CTPA_SHAPE = (96, 160, 160)
CTPA_SPACING_MM = (1.25, 0.9, 0.9)
_PSF_MM = 0.6
_ORIENTATION = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


@dataclass(frozen=True)
class SynthEmbolus:
    """One embolus: where it is (voxels and patient mm) and what it is.

    Attributes
    ----------
    centre_vox : (plane, row, col)
        Fractional voxel index of the clot's centre (inside the artery lumen).
    centre_mm : (x, y, z)
        The same point in patient coordinates (LPS, mm).
    radius_mm : float
        Radius of the sphere about the centre that encloses the clot (usually its
        half-length along the vessel): the LUNA16-style mark (diameter = 2 * radius_mm).
    radius_vox : (plane, row, col)
        ``radius_mm`` in voxels along each axis.
    half_length_mm, half_width_mm : float
        Semi-axes of the clot's ellipsoid along and across the vessel.
    axis_xyz : (x, y, z)
        Unit vessel direction at the clot, patient coordinates.
    kind : str
        ``"occluding"`` (fills the lumen) or ``"partial"`` (contrast flows beside it).
    hu : float
        Clot HU before blur and noise.
    vessel_radius_mm : float
        Lumen radius of the branch at the clot.
    branch, generation : int
        Index of the artery branch and its generation (1 = main pulmonary artery).
    """

    centre_vox: tuple[float, float, float]
    centre_mm: tuple[float, float, float]
    radius_mm: float
    radius_vox: tuple[float, float, float]
    half_length_mm: float
    half_width_mm: float
    axis_xyz: tuple[float, float, float]
    kind: str
    hu: float
    vessel_radius_mm: float
    branch: int
    generation: int


@dataclass(frozen=True)
class Lookalike:
    """A structure made to fool a candidate generator.

    ``kind``: ``"bifurcation"`` (branch point of arteries >= 1.2 mm), ``"partial_volume"``
    (middle of an artery <= 1 mm in radius), ``"vein"`` (middle of a vein branch),
    ``"aorta"`` (middle of an aortic segment) or ``"lymph_node"`` (a blob's centre);
    ``centre_vox`` (plane, row, col), ``centre_mm`` (x, y, z), ``radius_mm`` its size.
    """

    kind: str
    centre_vox: tuple[float, float, float]
    centre_mm: tuple[float, float, float]
    radius_mm: float


@dataclass(frozen=True)
class SynthCtpaVolume:
    """A rendered synthetic CTPA.

    Attributes
    ----------
    hu : numpy.ndarray
        (Z, Y, X) int16 Hounsfield units in [-1024, 3071].
    geometry : VolumeGeometry
        Voxel <-> patient mapping (the DICOM series' geometry once written).
    emboli : tuple of SynthEmbolus
    lookalikes : tuple of Lookalike
    vessel_mask : numpy.ndarray
        (Z, Y, X) bool, pulmonary artery lumen (coverage >= 0.5, clots included).
    emboli_labels : numpy.ndarray
        (Z, Y, X) uint8, ``k + 1`` on the voxels of ``emboli[k]`` (clot fraction >= 0.5).
    lung_mask : numpy.ndarray
        (Z, Y, X) bool, lung parenchyma: lung voxels at least one voxel (26-neighbourhood)
        inside the lung and two away from vessels and nodes.
    seed : int
    """

    hu: np.ndarray
    geometry: VolumeGeometry
    emboli: tuple[SynthEmbolus, ...]
    lookalikes: tuple[Lookalike, ...]
    vessel_mask: np.ndarray
    emboli_labels: np.ndarray
    lung_mask: np.ndarray
    seed: int

    @property
    def spacing_mm(self) -> tuple[float, float, float]:
        """(dz, dy, dx) in mm."""
        return self.geometry.spacing_mm


@dataclass(frozen=True)
class SynthCtpa:
    """A synthetic CTPA written as a DICOM series.

    ``files`` are in plane order (``files[k]`` holds plane ``k`` of ``volume.hu``);
    ``emboli`` and ``lookalikes`` are the volume's; ``meta`` gives the geometry as the
    ``Study.meta`` keys of :meth:`VolumeGeometry.to_meta` plus ``series_uid``.
    """

    folder: str
    study_uid: str
    series_uid: str
    frame_of_reference_uid: str
    geometry: VolumeGeometry
    emboli: tuple[SynthEmbolus, ...]
    lookalikes: tuple[Lookalike, ...]
    files: tuple[str, ...]
    volume: SynthCtpaVolume

    @property
    def meta(self) -> dict:
        """Geometry and series UID as JSON-ready ``Study.meta`` entries."""
        return {**self.geometry.to_meta(), "series_uid": self.series_uid}


def _check(shape: tuple[int, int, int], spacing_mm: tuple[float, float, float], n_emboli: int,
           noise_hu: float) -> tuple[tuple[int, int, int], tuple[float, float, float]]:
    if len(shape) != 3 or shape[0] < 24 or min(shape[1:]) < 64:
        raise ValueError(f"shape must be (Z, Y, X) with Z >= 24 and Y, X >= 64, got {shape!r}")
    if len(spacing_mm) != 3 or not all(0.3 <= s <= 5.0 for s in spacing_mm):
        raise ValueError(f"spacing_mm must be 3 values in [0.3, 5] mm, got {spacing_mm!r}")
    if n_emboli < 0:
        raise ValueError(f"n_emboli must be >= 0, got {n_emboli}")
    if noise_hu < 0:
        raise ValueError(f"noise_hu must be >= 0, got {noise_hu}")
    return (int(shape[0]), int(shape[1]), int(shape[2])), _triple(spacing_mm)


def _triple(a: np.ndarray | tuple[float, ...] | list[float]) -> tuple[float, float, float]:
    return float(a[0]), float(a[1]), float(a[2])


def _geometry(shape: tuple[int, int, int], spacing: tuple[float, float, float]
              ) -> VolumeGeometry:
    """Centred in x, the table 15 mm below the centre in y, plane 0 at z = -120 - extent."""
    (nz, ny, nx), (dz, dy, dx) = shape, spacing
    origin = (round(-(nx - 1) * dx / 2, 3), round(-(ny - 1) * dy / 2 + 15.0, 3),
              round(-(nz - 1) * dz - 120.0, 3))
    return VolumeGeometry(origin, spacing, _ORIENTATION, shape)


class _Frame:
    """Grid-mm (z, y, x) points -> voxel indices and patient mm."""

    def __init__(self, grid: Grid, geometry: VolumeGeometry) -> None:
        self.sp = np.asarray(grid.spacing, float)
        self.geometry = geometry

    def vox(self, p: np.ndarray) -> tuple[float, float, float]:
        return _triple(np.asarray(p) / self.sp)

    def mm(self, p: np.ndarray) -> tuple[float, float, float]:
        return _triple(self.geometry.voxel_to_world(np.asarray(p) / self.sp))

    def direction(self, p: np.ndarray, d: np.ndarray) -> tuple[float, float, float]:
        w = self.geometry.voxel_to_world(np.stack([p, p + d]) / self.sp)
        v = w[1] - w[0]
        return _triple(v / np.linalg.norm(v))


def _lookalikes(arteries: list[Tube], veins: list[Tube], aortic: list[Tube],
                nodes: list[tuple[Ellipsoid, float]], frame: _Frame, labels: np.ndarray
                ) -> list[Lookalike]:
    has_child = {tb.parent for tb in arteries}
    items: list[tuple[str, np.ndarray, float]] = []
    for i, tb in enumerate(arteries):
        if i in has_child and tb.r1 >= 1.2:
            items.append(("bifurcation", tb.p2, tb.r1))
        if tb.radius(0.5) <= 1.0:
            items.append(("partial_volume", tb.point(0.5), tb.radius(0.5)))
    items += [("vein", tb.point(0.5), tb.radius(0.5)) for tb in veins]
    items += [("aorta", tb.point(0.5), tb.radius(0.5)) for tb in aortic]
    items += [("lymph_node", e.centre, float(e.semi.max())) for e, _ in nodes]
    vox = np.stack([p for _, p, _ in items]) / frame.sp
    mm = frame.geometry.voxel_to_world(vox)
    near = np.rint(vox).astype(int)
    inside = np.all((near >= 0) & (near < labels.shape), axis=1)
    out = []
    for (kind, _, r), v, w, n, ok in zip(items, vox, mm, near, inside):
        if ok and not labels[tuple(n)]:  # outside the volume or on an embolus: skip
            out.append(Lookalike(kind, _triple(v), _triple(w), float(r)))
    return out


def _parenchyma(lung_cov: np.ndarray, solid: np.ndarray) -> np.ndarray:
    """Lung voxels one voxel inside the lung and two voxels away from anything solid."""
    cube = np.ones((3, 3, 3), bool)
    lung = ndimage.binary_erosion(lung_cov >= 0.5, cube)
    return lung & ~ndimage.binary_dilation(solid > 0, cube, iterations=2)


def _embolus(e: EmbolusPlan, tube: Tube, frame: _Frame) -> SynthEmbolus:
    half, width = float(e.shape.semi[0]), float(e.shape.semi[1])
    # The farthest point of the clot: on the ellipsoid (half, width, width), at most the
    # lumen radius off the axis.
    w = min(width, e.vessel_radius_mm)
    radius = half if half >= width else float(np.sqrt(half ** 2 * (1 - (w / width) ** 2) + w ** 2))
    return SynthEmbolus(
        centre_vox=frame.vox(e.shape.centre), centre_mm=frame.mm(e.shape.centre),
        radius_mm=radius, radius_vox=_triple(radius / frame.sp),
        half_length_mm=half, half_width_mm=min(width, e.vessel_radius_mm),
        axis_xyz=frame.direction(e.shape.centre, e.shape.axes[0]), kind=e.kind, hu=e.hu,
        vessel_radius_mm=e.vessel_radius_mm, branch=e.tube, generation=tube.generation)


def render_ctpa(shape: tuple[int, int, int] = CTPA_SHAPE,
                spacing_mm: tuple[float, float, float] = CTPA_SPACING_MM, seed: int = 0,
                n_emboli: int = 4, *, n_nodes: int = 6, noise_hu: float = 18.0
                ) -> SynthCtpaVolume:
    """Render a synthetic CTPA volume in Hounsfield units.

    Parameters
    ----------
    shape : (Z, Y, X)
        Planes, rows, columns (Z >= 24, Y and X >= 64).
    spacing_mm : (dz, dy, dx)
        Voxel spacing in mm; the anatomy scales with the extent ``shape * spacing_mm``.
    seed : int
        Everything is determined by it (and the other arguments).
    n_emboli : int
        Emboli to place (distinct artery branches). 4-8 fit the default volume.
    n_nodes : int, keyword-only
        Lymph-node-like blobs (fewer when they do not fit).
    noise_hu : float, keyword-only
        Standard deviation of the image noise.

    Returns
    -------
    SynthCtpaVolume

    Raises
    ------
    ValueError
        Bad arguments, or fewer than ``n_emboli`` emboli fit.
    """
    shape, spacing = _check(shape, spacing_mm, n_emboli, noise_hu)
    grid = Grid(shape, spacing)
    geometry = _geometry(shape, spacing)
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(5)]
    rng_anat, rng_tree, rng_emb, rng_node, rng_noise = streams
    lay: Layout = make_layout(grid)
    vol, lung_cov = paint_background(rng_anat, lay)
    arteries = pulmonary_arteries(rng_tree, lay, float(rng_tree.uniform(340, 420)))
    veins = pulmonary_veins(rng_tree, lay, float(rng_tree.uniform(120, 200)))
    aortic = aorta(lay, float(rng_tree.uniform(170, 250)))

    art_cov = np.zeros(shape, np.float32)
    solid = np.zeros(shape, np.float32)  # anything but lung parenchyma painted in the lungs
    art_boxes = []
    for tb in arteries:
        box = tb.box(grid)
        cov = None if box is None else grid.coverage(tb.signed_distance(grid, box))
        if box is not None:
            np.maximum(art_cov[box], cov, out=art_cov[box])
        art_boxes.append((box, cov))
    nodes = place_nodes(rng_node, arteries, art_cov, grid, n_nodes, lay.scale)
    for shape_, hu in [(e, h) for e, h in nodes] + [(tb, tb.hu) for tb in veins + aortic]:
        box = shape_.box(grid)
        if box is None:
            continue
        cov = grid.coverage(shape_.signed_distance(grid, box))
        paint(vol, box, cov, hu)
        np.maximum(solid[box], cov, out=solid[box])
    for tb, (box, cov) in zip(arteries, art_boxes):
        if box is not None:
            paint(vol, box, cov, tb.hu)
    np.maximum(solid, art_cov, out=solid)

    plans = plan_emboli(rng_emb, arteries, grid, n_emboli)
    labels = np.zeros(shape, np.uint8)
    for k, e in enumerate(plans):
        tb = arteries[e.tube]
        box = e.shape.box(grid)
        assert box is not None  # plan_emboli keeps emboli inside the grid
        clot = grid.coverage(e.shape.signed_distance(grid, box))
        clot *= grid.coverage(tb.signed_distance(grid, box))  # only inside its own lumen
        vol[box] += clot * np.float32(e.hu - tb.hu)  # clot replaces the contrast
        labels[box][clot >= 0.5] = k + 1

    vol = ndimage.gaussian_filter(vol, [_PSF_MM / s for s in spacing])
    if noise_hu > 0:
        noise = ndimage.gaussian_filter(rng_noise.standard_normal(shape, np.float32), 0.6)
        vol += noise * np.float32(noise_hu / max(float(noise.std()), 1e-6))
    hu = np.rint(np.clip(vol, -1024, 3071)).astype(np.int16)

    frame = _Frame(grid, geometry)
    emboli = tuple(_embolus(e, arteries[e.tube], frame) for e in plans)
    looks = _lookalikes(arteries, veins, aortic, nodes, frame, labels)
    return SynthCtpaVolume(
        hu=hu, geometry=geometry, emboli=emboli, lookalikes=tuple(looks),
        vessel_mask=art_cov >= 0.5, emboli_labels=labels,
        lung_mask=_parenchyma(lung_cov, solid), seed=int(seed))


def write_ctpa_series(folder: str | Path, shape: tuple[int, int, int] = CTPA_SHAPE,
                      spacing_mm: tuple[float, float, float] = CTPA_SPACING_MM, seed: int = 0,
                      n_emboli: int = 4, *, n_nodes: int = 6, noise_hu: float = 18.0
                      ) -> Generator[Progress, None, SynthCtpa]:
    """Render :func:`render_ctpa` and write it as a DICOM series, one file per plane.

    ``folder`` is created; it must not hold ``.dcm`` files already (a second series would
    mix with this one). Files: see :mod:`core.synth.ctpa_dicom`; a partial series is
    removed on error or early close.

    Yields
    ------
    Progress
        Stage ``"synth"``: 0 of Z while rendering, then planes written out of Z.

    Returns
    -------
    SynthCtpa

    Raises
    ------
    FileExistsError
        ``folder`` already holds ``.dcm`` files.
    ValueError
        As :func:`render_ctpa`.
    """
    folder = Path(folder)
    if existing_dicom(folder):
        raise FileExistsError(f"{folder} already holds DICOM files; use an empty folder")
    shape, spacing = _check(shape, spacing_mm, n_emboli, noise_hu)
    yield Progress("synth", 0, shape[0], "rendering synthetic CTPA")
    vol = render_ctpa(shape, spacing, seed, n_emboli, n_nodes=n_nodes, noise_hu=noise_hu)
    key = (f"layertune-synth-ctpa|seed={seed}|shape={shape}|spacing={spacing}|"
           f"emboli={n_emboli}|nodes={n_nodes}|noise={noise_hu}")
    uids = SeriesUids.derive(key)
    folder.mkdir(parents=True, exist_ok=True)
    files = yield from write_slices(folder, vol.hu, vol.geometry, uids, seed,
                                    f"Synthetic CTPA, seed {seed}")
    return SynthCtpa(folder=str(folder), study_uid=uids.study, series_uid=uids.series,
                     frame_of_reference_uid=uids.frame_of_reference, geometry=vol.geometry,
                     emboli=vol.emboli, lookalikes=vol.lookalikes, files=tuple(files),
                     volume=vol)
