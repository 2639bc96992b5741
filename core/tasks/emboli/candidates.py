"""Pulmonary embolus candidates by tobogganing inside contrast-enhanced vessels.

After Liang & Bi (IPMI 2007; SPEC §1.5): emboli are dark clusters inside bright,
contrast-filled pulmonary arteries. The generator

1. smooths the volume with a Gaussian of ``smooth_sigma_mm`` (image noise of 15-25 HU
   would otherwise split every clot into many tiny basins);
2. marks enhanced blood: smoothed HU in ``vessel_hu``;
3. takes the voxels within ``search_margin_mm`` of enhanced blood (Euclidean distance in
   mm, computed slab by slab) whose smoothed HU is in the clot range ``clot_hu``: a
   filling defect is not enhanced itself but lies next to the contrast column;
4. drops *partial-volume edges* (``drop_edges``): voxels with one 26-neighbour darker
   than ``clot_hu`` and another in ``vessel_hu``. Where a bright vessel meets lung or fat,
   the blurred edge passes through the clot range in a shell about one voxel thick, which
   would otherwise give most of the clusters;
5. toboggans what is left (:func:`core.tasks.emboli.toboggan.toboggan`): each voxel slides
   to its darkest neighbour; voxels that reach the same minimum form one cluster;
6. measures every cluster: voxels, volume in mm^3, centroid, bounding box, mean HU (of
   the unsmoothed volume), and what surrounds it: from its medoid (its voxel nearest its
   centroid) a ray in each of the 26 neighbour directions runs up to ``ray_length_mm``
   through soft tissue (smoothed HU in [clot_hu[0], vessel_hu[0])) and ends at the first
   sample outside it: *contrast* (in ``vessel_hu``), *lung* (darker than ``clot_hu``, with
   aerated lung, below ``lung_hu``, within ``lung_reach_mm`` further on: the wall of a
   vessel in the lung) or *other* (fat, bone, nothing within reach). The contrast fraction
   is the share of rays ending in contrast, the enclosure the share ending in contrast or
   lung;
7. keeps clusters of ``min_volume_mm3``..``max_volume_mm3`` whose contrast fraction is at
   least ``min_contrast_fraction`` and enclosure at least ``min_enclosure``.

Step 7 is the "surrounded by brighter contrast" rule made to hold for the three kinds of
acute emboli: a central clot (contrast on every side), an eccentric one (contrast on one
side, the vessel wall and lung on the other) and an occluding one in a lung vessel (the
contrast column on one end, lung all around). Soft tissue beside a vessel (lymph nodes,
the shell of the aorta, muscle by the spine) sits in fat or muscle instead and fails it.
Several candidates may hit one embolus (a large clot holds several basins). Candidates are
listed in the order of their clusters' minima (plane, row, col).

Default Hounsfield ranges, from the CT literature:

- acute emboli measure 33 +- 15 HU (range 6-63 HU; chronic ones 87 +- 30 HU): Wittram et
  al., "Attenuation of acute and chronic pulmonary emboli", Radiology 235(3), 2005. The
  clot range [-50, 120] HU holds both with room for the noise left after smoothing.
- a CTPA is deemed diagnostic when the pulmonary arteries reach about 250 HU and they
  commonly measure 300-500 HU; the vessel range [200, 800] HU keeps a margin for partial
  volume and weaker boluses and stops below cortical bone and undiluted contrast.
- aerated lung measures -700 to -900 HU; -400 HU is the usual threshold that separates it
  from soft tissue in lung segmentation.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage

from core.events import Progress
from core.tasks.emboli.toboggan import CONNECTIVITIES, toboggan_steps

GENERATOR = "toboggan"
VERSION = "1"
_SLAB_PLANES = 32
_RAY_BATCH = 1024  # clusters per batch of ray marching
# Valid ranges: name -> (low, high, low open, high open).
_RANGES = {
    "smooth_sigma_mm": (0, 10, False, False), "search_margin_mm": (0, 30, False, False),
    "lung_hu": (-1024, 0, False, False), "lung_reach_mm": (0, 20, False, False),
    "ray_length_mm": (0, 100, True, False),
    "min_volume_mm3": (0, math.inf, False, True), "max_volume_mm3": (0, math.inf, True, False),
    "min_contrast_fraction": (0, 1, False, False), "min_enclosure": (0, 1, False, False),
}


@dataclass(frozen=True)
class EmboliCandidateParams:
    """Every parameter of the tobogganing candidate generator (lengths in mm, HU).

    Attributes
    ----------
    smooth_sigma_mm : float
        Gaussian sigma of the smoothing before everything else (0: none). 0.5 mm, about
        half a CTPA voxel, damps the noise without erasing 2-3 mm subsegmental clots.
    vessel_hu : (float, float)
        Enhanced blood (smoothed HU), [200, 800] (see the module docstring).
    clot_hu : (float, float)
        Clot candidates (smoothed HU), [-50, 120]; must lie below ``vessel_hu``.
    search_margin_mm : float
        Clot-range voxels farther than this from enhanced blood are not considered. 3 mm
        reaches the middle of a segmental artery's lumen (radius about 3 mm) and the first
        millimetres of an occluding clot beyond the contrast column.
    drop_edges : bool
        Drop partial-volume edges (step 4 of the module docstring).
    lung_hu : float
        Aerated lung is darker than this (-400 HU).
    lung_reach_mm : float
        A ray that leaves soft tissue for darker voxels counts as ending in lung when it
        meets aerated lung within this distance more (2 mm: a vessel wall in partial
        volume with the lung around it).
    ray_length_mm : float
        Longest ray (15 mm: the length of a long segmental clot).
    min_volume_mm3, max_volume_mm3 : float
        Clusters outside [min, max] are dropped: 3 mm^3 (a 1.8 mm sphere, the smallest
        subsegmental clot a reader would call) to 5000 mm^3 (a 21 mm sphere; a large clot
        splits into several basins anyway).
    min_contrast_fraction : float
        Least share of rays that end in contrast: 0.03, i.e. at least one of 26 (a
        filling defect touches the contrast column).
    min_enclosure : float
        Least share of rays that end in contrast or lung: 0.7. Inside a vessel nearly
        every ray does; a cluster in the mediastinum or the chest wall has fat or muscle
        around it.
    connectivity : int
        Neighbourhood of the tobogganing (6, 18 or 26).
    """

    smooth_sigma_mm: float = 0.5
    vessel_hu: tuple[float, float] = (200.0, 800.0)
    clot_hu: tuple[float, float] = (-50.0, 120.0)
    search_margin_mm: float = 3.0
    drop_edges: bool = True
    lung_hu: float = -400.0
    lung_reach_mm: float = 2.0
    ray_length_mm: float = 15.0
    min_volume_mm3: float = 3.0
    max_volume_mm3: float = 5000.0
    min_contrast_fraction: float = 0.03
    min_enclosure: float = 0.7
    connectivity: int = 26

    def __post_init__(self) -> None:
        def need(ok: bool, what: str) -> None:
            if not ok:
                raise ValueError(f"EmboliCandidateParams: {what}")

        def number(v: object) -> bool:
            return (isinstance(v, (int, float, np.integer, np.floating))
                    and not isinstance(v, bool) and math.isfinite(v))

        for name, (lo, hi, lo_open, hi_open) in _RANGES.items():
            v = getattr(self, name)
            ok = number(v) and (v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi)
            need(ok, f"{name} must be in {'(' if lo_open else '['}{lo:g}, {hi:g}"
                     f"{')' if hi_open else ']'}, got {v!r}")
        for name in ("vessel_hu", "clot_hu"):
            v = getattr(self, name)
            need(isinstance(v, tuple) and len(v) == 2 and all(number(x) for x in v)
                 and v[0] < v[1],
                 f"{name} must be a tuple (low, high) of finite HU with low < high, got {v!r}")
        need(self.clot_hu[1] <= self.vessel_hu[0],
             f"clot_hu must lie below vessel_hu (clot_hu[1] <= vessel_hu[0]), got "
             f"{self.clot_hu} and {self.vessel_hu}")
        need(self.lung_hu < self.clot_hu[0],
             f"lung_hu must be below clot_hu[0], got {self.lung_hu} and {self.clot_hu}")
        need(self.min_volume_mm3 < self.max_volume_mm3,
             f"need min_volume_mm3 < max_volume_mm3, got {self.min_volume_mm3}, "
             f"{self.max_volume_mm3}")
        need(isinstance(self.drop_edges, bool), f"drop_edges must be a bool, got "
                                                f"{self.drop_edges!r}")
        need(self.connectivity in CONNECTIVITIES,
             f"connectivity must be one of {CONNECTIVITIES}, got {self.connectivity!r}")

    def to_dict(self) -> dict:
        """Plain JSON-able dict (stored with the candidates, with GENERATOR and VERSION)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> EmboliCandidateParams:
        """Inverse of :meth:`to_dict`; unknown keys are an error (a typo is not ignored)."""
        names = set(cls.__dataclass_fields__)
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown EmboliCandidateParams fields {sorted(unknown)}; "
                             f"valid: {sorted(names)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


@dataclass(frozen=True)
class EmbolusCandidate:
    """One tobogganing cluster kept as an embolus candidate (voxel coordinates).

    Attributes
    ----------
    center_vox : (float, float, float)
        Centroid (plane, row, col) of the cluster's voxels.
    extent : (int, int, int, int, int, int)
        Bounding box (z0, y0, x0, z1, y1, x1), inclusive-exclusive.
    n_voxels : int
    volume_mm3 : float
    mean_hu : float
        Mean of the (unsmoothed) input HU over the cluster.
    contrast_fraction : float
        Share of the 26 rays from the cluster's medoid that end in enhanced blood.
    enclosure : float
        Share of those rays that end in enhanced blood or aerated lung.
    """

    center_vox: tuple[float, float, float]
    extent: tuple[int, int, int, int, int, int]
    n_voxels: int
    volume_mm3: float
    mean_hu: float
    contrast_fraction: float
    enclosure: float


def _check_input(hu: np.ndarray, spacing_mm) -> tuple[np.ndarray, tuple[float, float, float]]:
    hu = np.asarray(hu)
    if hu.ndim != 3 or min(hu.shape) < 1:
        raise ValueError(f"hu must be a non-empty (Z, Y, X) volume, got shape {hu.shape}")
    if hu.dtype.kind not in "iuf":
        raise ValueError(f"hu must be numeric, got dtype {hu.dtype}")
    sp = tuple(float(s) for s in spacing_mm)
    if len(sp) != 3 or not all(math.isfinite(s) and s > 0 for s in sp):
        raise ValueError(f"spacing_mm must be 3 positive (dz, dy, dx), got {spacing_mm!r}")
    return hu, sp  # type: ignore[return-value]


def ball_rows(radius_mm: float, spacing_mm: tuple[float, float, float]
              ) -> list[tuple[int, int, int]]:
    """The voxel ball of ``radius_mm`` as rows along x: (dz, dy, half-width in voxels).

    Offset (dz, dy, dx) is in the ball when (dz sz)^2 + (dy sy)^2 + (dx sx)^2 <= r^2.
    """
    sz, sy, sx = spacing_mm
    r2 = radius_mm * radius_mm
    rows = []
    for dz in range(-int(radius_mm // sz), int(radius_mm // sz) + 1):
        for dy in range(-int(radius_mm // sy), int(radius_mm // sy) + 1):
            rest = r2 - (dz * sz) ** 2 - (dy * sy) ** 2
            if rest < 0:
                continue
            w = int(math.sqrt(rest) // sx)
            while ((w + 1) * sx) ** 2 <= rest:  # guard the square root's rounding
                w += 1
            while w > 0 and (w * sx) ** 2 > rest:
                w -= 1
            rows.append((dz, dy, w))
    return rows


def within_mm(mask: np.ndarray, radius_mm: float, spacing_mm: tuple[float, float, float],
              slab_planes: int = _SLAB_PLANES) -> Generator[int, None, np.ndarray]:
    """Voxels within ``radius_mm`` (Euclidean, in mm, centre to centre) of ``mask``.

    A dilation by the exact voxel ball, decomposed into rows along x (:func:`ball_rows`):
    each distinct half-width is one running maximum along x
    (``scipy.ndimage.maximum_filter1d``), and the ball is the union of those, shifted by
    the rows' (dz, dy). About 10x faster than a Euclidean distance transform at the
    radii used here, and the same result. Works on slabs of ``slab_planes`` planes (plus
    the planes within reach); yields the end plane of each slab, returns (Z, Y, X) bool.
    """
    rows = ball_rows(radius_mm, spacing_mm)
    rz = max(abs(dz) for dz, _, _ in rows)
    nz, ny, _ = mask.shape
    out = np.zeros(mask.shape, bool)
    for z0 in range(0, nz, slab_planes):
        z1 = min(z0 + slab_planes, nz)
        za, zb = max(z0 - rz, 0), min(z1 + rz, nz)
        sub = mask[za:zb].view(np.uint8) if mask.dtype == bool else mask[za:zb].astype(np.uint8)
        if sub.any():
            rowmax: dict[int, np.ndarray] = {}
            acc = out[z0:z1]
            for dz, dy, w in rows:
                if w not in rowmax:
                    rowmax[w] = ndimage.maximum_filter1d(sub, 2 * w + 1, axis=2, mode="constant")
                # out[z, y] |= rowmax[z - dz, y - dy] where both lie in the volume
                t0, t1 = max(z0, za + dz), min(z1, zb + dz)
                y0, y1 = max(0, dy), min(ny, ny + dy)
                if t0 < t1 and y0 < y1:
                    acc[t0 - z0:t1 - z0, y0:y1] |= rowmax[w][t0 - dz - za:t1 - dz - za,
                                                             y0 - dy:y1 - dy].view(bool)
        yield z1
    return out


def partial_volume_edges(work: np.ndarray, candidates: np.ndarray, dark_below: float,
                         bright: tuple[float, float]) -> np.ndarray:
    """``candidates`` voxels with a 26-neighbour below ``dark_below`` and one in ``bright``."""
    out = np.zeros(work.shape, bool)
    if not candidates.any():
        return out
    # bounding box of the candidates with one voxel of halo
    box = tuple(slice(max(int(ix.min()) - 1, 0), int(ix.max()) + 2)
                for ix in (np.flatnonzero(candidates.any(axis=a)) for a in ((1, 2), (0, 2), (0, 1))))
    sub = work[box]
    lit = np.where((sub >= bright[0]) & (sub <= bright[1]), sub, -np.inf)
    out[box] = (candidates[box] & (ndimage.minimum_filter(sub, 3, mode="nearest") < dark_below)
                & (ndimage.maximum_filter(lit, 3, mode="nearest") > -np.inf))
    return out


def _directions() -> np.ndarray:
    d = np.array([(z, y, x) for z in (-1, 0, 1) for y in (-1, 0, 1) for x in (-1, 0, 1)
                  if (z, y, x) != (0, 0, 0)], float)
    return d / np.linalg.norm(d, axis=1, keepdims=True)


def ray_outcomes(work: np.ndarray, origins: np.ndarray, spacing_mm: tuple[float, float, float],
                 p: EmboliCandidateParams) -> tuple[np.ndarray, np.ndarray]:
    """(contrast fraction, enclosure) of rays from ``origins`` (N, 3) voxels (step 6)."""
    sp = np.asarray(spacing_mm)
    step = 0.5 * float(sp.min())
    n_ray = max(1, math.ceil(p.ray_length_mm / step))
    n_all = n_ray + math.ceil(p.lung_reach_mm / step)
    t = (np.arange(1, n_all + 1) * step).astype(np.float32)
    dirs = (_directions() / sp).astype(np.float32)  # voxels per mm along each direction
    hi = np.asarray(work.shape) - 1
    c_frac = np.zeros(len(origins))
    enclosed = np.zeros(len(origins))
    for b0 in range(0, len(origins), _RAY_BATCH):
        o = origins[b0:b0 + _RAY_BATCH].astype(np.float32)
        pos = np.rint(o[:, None, None, :] + dirs[None, :, None, :] * t[None, None, :, None])
        pos = pos.astype(np.int64)
        inside = np.all((pos >= 0) & (pos <= hi), axis=-1)
        np.clip(pos, 0, hi, out=pos)
        val = work[pos[..., 0], pos[..., 1], pos[..., 2]]
        dark = inside & (val < p.clot_hu[0])
        lit = inside & (val >= p.vessel_hu[0])
        stop = dark | lit | ~inside
        stop[..., n_ray:] = True  # the ray ends after ray_length_mm
        first = np.argmax(stop, axis=-1)[..., None]
        is_contrast = (np.take_along_axis(lit, first, -1)[..., 0]
                       & (np.take_along_axis(val, first, -1)[..., 0] <= p.vessel_hu[1])
                       & (first[..., 0] < n_ray))
        # lung: the stop is dark, and aerated lung follows within lung_reach_mm
        reach = np.arange(n_all)[None, None, :]
        window = (reach >= first) & (reach * step <= first * step + p.lung_reach_mm)
        is_lung = (np.take_along_axis(dark, first, -1)[..., 0] & (first[..., 0] < n_ray)
                   & np.any(window & inside & (val < p.lung_hu), axis=-1))
        c_frac[b0:b0 + len(o)] = is_contrast.mean(axis=1)
        enclosed[b0:b0 + len(o)] = (is_contrast | is_lung).mean(axis=1)
    return c_frac, enclosed


def _cluster_table(labels: np.ndarray, tmask: np.ndarray, hu: np.ndarray, n: int,
                   spacing_mm: tuple[float, float, float]) -> dict[str, np.ndarray]:
    """Per cluster 1..n (row k-1): voxels, centroid, medoid, box and HU sum."""
    coords = np.nonzero(tmask)
    lab = labels[coords].astype(np.int64) - 1
    count = np.bincount(lab, minlength=n)
    centre = np.stack([np.bincount(lab, weights=c.astype(np.float64), minlength=n)
                       for c in coords], 1)
    centre /= np.maximum(count, 1)[:, None]
    pts = np.stack(coords, 1)
    d2 = (((pts - centre[lab]) * np.asarray(spacing_mm)) ** 2).sum(axis=1)
    order = np.lexsort((d2, lab))  # by cluster, nearest to the centroid first
    starts = np.concatenate([[0], np.cumsum(count)[:-1]]).astype(np.int64)
    srt = pts[order]
    return {"count": count, "centre": centre, "medoid": srt[starts],
            "lo": np.minimum.reduceat(srt, starts, axis=0) if n else srt[:0],
            "hi": (np.maximum.reduceat(srt, starts, axis=0) + 1) if n else srt[:0],
            "hu_sum": np.bincount(lab, weights=hu[coords].astype(np.float64), minlength=n)}


def generate_candidates(hu: np.ndarray, spacing_mm, params: EmboliCandidateParams | None = None
                        ) -> Generator[Progress, None, list[EmbolusCandidate]]:
    """Embolus candidates of one CTPA volume (steps in the module docstring).

    Parameters
    ----------
    hu : numpy.ndarray
        (Z, Y, X) volume in Hounsfield units (any numeric dtype; int16 or float32).
    spacing_mm : (float, float, float)
        (dz, dy, dx) voxel spacing in mm.
    params : EmboliCandidateParams, optional
        Defaults to ``EmboliCandidateParams()``.

    Yields
    ------
    Progress
        Stages ``"smooth"``, ``"vessels"`` (per slab of planes), ``"toboggan"`` (per slab,
        from :func:`~core.tasks.emboli.toboggan.toboggan_steps`) and ``"clusters"``;
        a caller may stop between any two.

    Returns
    -------
    list of EmbolusCandidate
        In the order of their clusters' minima (plane, row, col).
    """
    p = EmboliCandidateParams() if params is None else params
    hu, sp = _check_input(hu, spacing_mm)
    yield Progress("smooth", 0, 1, f"{GENERATOR} v{VERSION}: smoothing {hu.shape}")
    work = hu.astype(np.float32)
    if p.smooth_sigma_mm > 0:
        work = ndimage.gaussian_filter(work, [p.smooth_sigma_mm / s for s in sp],
                                       mode="nearest", truncate=3.0)
    yield Progress("smooth", 1, 1, "smoothed")
    contrast = (work >= p.vessel_hu[0]) & (work <= p.vessel_hu[1])
    n_slabs = -(-hu.shape[0] // _SLAB_PLANES)
    yield Progress("vessels", 0, n_slabs, f"{int(contrast.sum())} enhanced voxels")
    slabs = within_mm(contrast, p.search_margin_mm, sp)
    while True:
        try:
            z1 = next(slabs)
        except StopIteration as stop:
            near = stop.value
            break
        yield Progress("vessels", -(-z1 // _SLAB_PLANES), n_slabs, f"planes < {z1}")
    tmask = near & (work >= p.clot_hu[0]) & (work <= p.clot_hu[1])
    del near, contrast
    if p.drop_edges:
        tmask &= ~partial_volume_edges(work, tmask, p.clot_hu[0], p.vessel_hu)
    labels, minima = yield from toboggan_steps(work, tmask, connectivity=p.connectivity)
    n = len(minima)
    yield Progress("clusters", 0, 1, f"measuring {n} clusters")
    if n == 0:
        yield Progress("clusters", 1, 1, "no clusters")
        return []
    t = _cluster_table(labels, tmask, hu, n, sp)
    volume = t["count"] * (sp[0] * sp[1] * sp[2])
    sized = np.flatnonzero((volume >= p.min_volume_mm3) & (volume <= p.max_volume_mm3))
    c_frac, enclosed = ray_outcomes(work, t["medoid"][sized], sp, p)
    keep = (c_frac >= p.min_contrast_fraction) & (enclosed >= p.min_enclosure)
    out = [EmbolusCandidate(
        center_vox=tuple(float(v) for v in t["centre"][k]),  # type: ignore[arg-type]
        extent=tuple(int(v) for v in (*t["lo"][k], *t["hi"][k])),  # type: ignore[arg-type]
        n_voxels=int(t["count"][k]), volume_mm3=float(volume[k]),
        mean_hu=float(t["hu_sum"][k] / t["count"][k]), contrast_fraction=float(c),
        enclosure=float(e))
        for k, c, e in zip(sized[keep], c_frac[keep], enclosed[keep])]
    yield Progress("clusters", 1, 1, f"{len(out)} candidates of {n} clusters")
    return out
