"""Resampling the vessel-aligned planes of :mod:`core.tasks.emboli.patches`.

Each patch is two planes of ``N x N`` points (the geometry is in the docstring of
:mod:`core.tasks.emboli.patches`), sampled from the volume by trilinear interpolation in
voxel coordinates (``point_mm / spacing_mm``); beyond the volume the edge voxels repeat
(``scipy.ndimage.map_coordinates(order=1, mode="nearest")``).

Two renderers compute the same values:

- :func:`render_planes_reference`: one ``map_coordinates`` call per patch, its two
  planes' points together. Plain, and the yardstick of the tests and of
  ``benchmarks/bench_vessel_patches.py``.
- :func:`render_planes` (batched): patches of one candidate are rendered together.
  First, planes that several patches share are made once: a rotation by a half turn
  (``u, v -> -u, -v``) gives the cross-section turned by 180° and the longitudinal
  section mirrored, both exact pixel permutations (the pixel offsets are symmetric:
  ``o[N-1-i] = -o[i]`` exactly); and translations along the axis by whole pixels only
  slide the longitudinal section, so the translations of one width and rotation are row
  windows of one taller section. With the defaults a candidate's 54 patches need 9
  cross-sections and 3 taller longitudinal sections (317 rows) per width instead of 108
  planes: 2.7x fewer points. Then all the points of the candidate are sampled in **one**
  call of ``torch.nn.functional.grid_sample`` (trilinear, ``align_corners=True``,
  border padding) on a crop of the volume that holds them (edge voxels repeated where
  the crop leaves the volume, which reproduces ``mode="nearest"``): on a CPU in float64
  (about 2x faster per point than ``map_coordinates``, equal to it within 1e-9 HU, and
  split over torch's threads, as its CPU loop is parallel over the batch only), on
  another device in float32 (crop-local coordinates keep the error near 1e-5 of the
  window width; that path is not exercised by the CPU test-suite).

Agreement: the renderers' planes differ by at most ``PLANE_TOLERANCE`` in window units
(``(hu - low) / width``, i.e. 0.07 HU for the PE window) -- checked by the tests and
gated by the benchmark on the float planes before quantisation.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from scipy.ndimage import map_coordinates

if TYPE_CHECKING:
    from core.tasks.emboli.patches import EmboliPatchSpecs

PE_WINDOW = (100.0, 700.0)
"""(level, width) in HU of the PE window (Wittram et al., RadioGraphics 2004)."""
SPLIT_POINTS = 1 << 17
"""Points per thread below which :func:`sample_planes` does not split its work."""
PLANE_TOLERANCE = 1e-4
"""Largest difference between the renderers' planes, in window units."""


# --------------------------------------------------------------------------- grey levels


def window_unit(hu, window=PE_WINDOW) -> np.ndarray:
    """``(hu - low) / width`` with ``low = level - width / 2``: the window's [0, 1] scale,
    not clipped (float64; the renderers' agreement is measured on it)."""
    level, width = window
    return (np.asarray(hu, np.float64) - (level - width / 2)) / width


def to_uint8(planes, window=PE_WINDOW) -> np.ndarray:
    """(B, 2, N, N) HU planes (cross, long) -> (B, N, N, 3) uint8 (cross, long, long).

    ``round(clip(window_unit(hu), 0, 1) * 255)``, half to even.
    """
    p = np.asarray(planes)
    if p.ndim != 4 or p.shape[1] != 2:
        raise ValueError(f"planes must be (B, 2, N, N), got {p.shape}")
    g = _grey(p, window)
    return np.ascontiguousarray(g[:, [0, 1, 1]].transpose(0, 2, 3, 1))


def _grey(hu, window) -> np.ndarray:
    return np.rint(np.clip(window_unit(hu, window), 0.0, 1.0) * 255).astype(np.uint8)


# --------------------------------------------------------------------------- geometry


def plane_offsets(size: int, width_mm: float) -> np.ndarray:
    """(size,) float64 pixel-centre offsets from the plane centre, mm:
    ``(i - (size - 1) / 2) * width_mm / size``."""
    return (np.arange(size) - (size - 1) / 2) * (float(width_mm) / size)


def _grid(c, oi, e1, oj, e2) -> np.ndarray:
    """(len(oi), len(oj), 3) points ``c + oi e1 + oj e2``, mm."""
    return c + oi[:, None, None] * e1 + oj[None, :, None] * e2


def plane_points(specs: EmboliPatchSpecs, idx=None) -> np.ndarray:
    """(B, 2, N, N, 3) float64 sample points (cross, long) of patches ``idx``, physical
    (z, y, x) mm."""
    idx = _indices(specs, idx)
    n = specs.size
    out = np.empty((len(idx), 2, n, n, 3))
    for b, p in enumerate(idx):
        o = plane_offsets(n, specs.width_mm[p])
        centre = specs.origin_mm[p] + specs.shift_mm[p] * specs.axis[p]
        out[b, 0] = _grid(centre, o, specs.v[p], o, specs.u[p])
        out[b, 1] = _grid(centre, o, specs.axis[p], o, specs.u[p])
    return out


def _indices(specs: EmboliPatchSpecs, idx) -> np.ndarray:
    idx = np.arange(len(specs)) if idx is None else np.asarray(idx, np.int64).reshape(-1)
    if len(idx) and (idx.min() < -len(specs) or idx.max() >= len(specs)):
        raise IndexError(f"patch index out of range for {len(specs)} patches")
    return idx


def check_volumes(volumes: Sequence[np.ndarray], specs: EmboliPatchSpecs) -> None:
    """Every volume (Z, Y, X) real-valued, and every patch's source among them."""
    for k, vol in enumerate(volumes):
        if getattr(vol, "ndim", 0) != 3 or not np.issubdtype(vol.dtype, np.number) \
                or np.issubdtype(vol.dtype, np.complexfloating):
            raise ValueError(f"volume {k} must be a real (Z, Y, X) array, got "
                             f"{getattr(vol, 'shape', None)} {getattr(vol, 'dtype', None)}")
    if len(specs) and specs.source.max() >= len(volumes):
        raise ValueError(f"a patch's source volume is beyond the {len(volumes)} given")


# --------------------------------------------------------------------------- reference


def plane_voxels(centre_mm, e1, oi, e2, oj, spacing_mm) -> np.ndarray:
    """(3, R, C) voxel (z, y, x) coordinates of plane points ``centre + oi[r] e1 +
    oj[c] e2`` (mm), the layout ``map_coordinates`` takes."""
    s = np.asarray(spacing_mm, np.float64)[:, None, None]
    return ((np.asarray(centre_mm)[:, None, None] + np.asarray(e1)[:, None, None]
             * oi[None, :, None]) + np.asarray(e2)[:, None, None] * oj[None, None, :]) / s


def _out(out, shape, dtype) -> np.ndarray:
    if out is None:
        return np.empty(shape, dtype)
    if out.shape != shape or not np.issubdtype(out.dtype, np.floating):
        raise ValueError(f"out must be a float array of shape {shape}, got {out.shape} "
                         f"{out.dtype}")
    return out


def render_planes_reference(volumes: Sequence[np.ndarray], specs: EmboliPatchSpecs,
                            idx=None, *, out: np.ndarray | None = None) -> np.ndarray:
    """(B, 2, N, N) float64 HU planes (cross, long): one ``map_coordinates`` call per
    patch (both planes' points), written straight into the output (``out`` when given:
    a reused array spares the page faults of a fresh one)."""
    check_volumes(volumes, specs)
    idx = _indices(specs, idx)
    n = specs.size
    out = _out(out, (len(idx), 2, n, n), np.float64)
    coords = np.empty((3, 2, n, n))
    for b, p in enumerate(idx):
        o = plane_offsets(n, specs.width_mm[p])
        centre = specs.origin_mm[p] + specs.shift_mm[p] * specs.axis[p]
        sp = specs.spacing_mm[p]
        coords[:, 0] = plane_voxels(centre, specs.v[p], o, specs.u[p], o, sp)
        coords[:, 1] = plane_voxels(centre, specs.axis[p], o, specs.u[p], o, sp)
        map_coordinates(volumes[specs.source[p]], coords.reshape(3, -1), order=1,
                        mode="nearest", output=out[b].reshape(-1))
    return out


# --------------------------------------------------------------------------- batched


def sample_planes(volume: np.ndarray, spacing_mm, planes, device=None) -> list[np.ndarray]:
    """Trilinear samples of several planes of one volume, in one ``grid_sample`` call.

    Parameters
    ----------
    volume : (Z, Y, X) array
    spacing_mm : (3,) float
    planes : sequence of (centre (3,), e1 (3,), oi (R,), e2 (3,), oj (C,))
        Plane point ``(r, c)`` is ``centre + oi[r] e1 + oj[c] e2``, physical (z, y, x) mm.
    device : torch device or None
        None or a CPU: float64; otherwise float32 on that device.

    Returns
    -------
    list of (R, C) arrays, one per plane, HU.

    The crop of the volume that holds every point (plus the upper interpolation
    neighbour; planes are affine, so their corners bound them) is taken with indices
    clipped to the volume, which repeats edge voxels as ``mode="nearest"`` does; the
    points are written straight into ``grid_sample``'s normalised (x, y, z) crop
    coordinates (a per-thread scratch buffer), one pass per plane, and on a CPU split
    into one batch entry per torch thread.
    """
    dev = torch.device("cpu" if device is None else device)
    dtype = np.float64 if dev.type == "cpu" else np.float32
    sp = np.asarray(spacing_mm, np.float64)
    corners = np.concatenate([
        c + np.array([oi[0], oi[-1]])[:, None, None] * e1
        + np.array([oj[0], oj[-1]])[None, :, None] * e2 for c, e1, oi, e2, oj in planes
    ]).reshape(-1, 3) / sp
    lo = np.floor(corners.min(axis=0)).astype(np.int64)
    hi = np.floor(corners.max(axis=0)).astype(np.int64) + 2  # upper neighbour included
    idx = [np.clip(np.arange(a, b), 0, n - 1) for a, b, n in zip(lo, hi, volume.shape)]
    crop = np.asarray(volume[np.ix_(*idx)], dtype)
    scale = 2.0 / (np.asarray(crop.shape, np.float64) - 1)
    sizes = [len(oi) * len(oj) for _, _, oi, _, oj in planes]
    total = sum(sizes)
    # grid_sample's CPU loop is parallel over the batch only: split the points into one
    # batch entry per thread (the crop is shared, not copied), the tail padded
    parts = max(1, min(torch.get_num_threads(), total // SPLIT_POINTS)) \
        if dev.type == "cpu" else 1
    # crop-normalised coordinates in grid_sample's (x, y, z) order, stored planar (one
    # contiguous row per coordinate: strided writes of interleaved triples are ~10x
    # slower) and handed over as a transposed view (grid_sample takes any strides)
    grid = _scratch((3, -(-total // parts) * parts), dtype)
    grid[:, total:] = 0.0  # padding: any point inside the crop
    start = 0
    for (c, e1, oi, e2, oj), size in zip(planes, sizes):
        cn = ((c / sp - lo) * scale - 1.0)[::-1]
        e1n, e2n = (e1 / sp * scale)[::-1], (e2 / sp * scale)[::-1]
        for k in range(3):
            np.add((cn[k] + oi * e1n[k])[:, None], oj * e2n[k],
                   out=grid[k, start:start + size].reshape(len(oi), len(oj)))
        start += size
    t_in = torch.from_numpy(crop).to(dev)[None, None].expand(parts, -1, -1, -1, -1)
    t_grid = torch.from_numpy(grid).to(dev).T.reshape(parts, 1, 1, -1, 3)
    vals = torch.nn.functional.grid_sample(t_in, t_grid, mode="bilinear",
                                           padding_mode="border", align_corners=True)
    vals = vals.reshape(-1).cpu().numpy()
    ends = np.cumsum(sizes)
    return [vals[e - s:e].reshape(len(p[2]), len(p[4]))
            for p, s, e in zip(planes, sizes, ends)]


_SCRATCH = threading.local()


def _scratch(shape, dtype) -> np.ndarray:
    """A reused buffer (one per thread and dtype; grown, never shrunk): writing a fresh
    array of tens of MB costs several times more in page faults than the writes."""
    n = int(np.prod(shape))
    name = "buf_" + np.dtype(dtype).str
    buf = getattr(_SCRATCH, name, None)
    if buf is None or buf.size < n:
        buf = np.empty(n, dtype)
        setattr(_SCRATCH, name, buf)
    return buf[:n].reshape(shape)


def _sign(u: np.ndarray) -> np.ndarray:
    """+1/-1 per row: the sign that makes the first non-zero component positive."""
    first = np.argmax(u != 0, axis=1)
    s = np.sign(u[np.arange(len(u)), first])
    return np.where(s == 0, 1.0, s)


def _groups(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact-equality groups of the rows of a float key: (first row of each, inverse)."""
    _, first, inv = np.unique(key + 0.0, axis=0, return_index=True, return_inverse=True)
    return first, inv.reshape(-1)


@dataclass
class CandidatePlanes:
    """The distinct planes of some patches of one candidate and how each patch uses them.

    Patch ``b``: cross-section ``planes[cross[b]]``, longitudinal section rows
    ``row[b] : row[b] + N`` of ``planes[long[b]]``, both turned (cross: 180°, long:
    mirrored left-right) when ``flip[b]``.
    """

    planes: list[np.ndarray]
    cross: np.ndarray
    long: np.ndarray
    row: np.ndarray
    flip: np.ndarray

    def patch(self, b: int, planes: list[np.ndarray] | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
        """(cross, long) (N, N) views of patch ``b`` (of ``planes`` when given: the same
        planes converted, e.g. to grey levels)."""
        p = self.planes if planes is None else planes
        c = p[self.cross[b]]
        n = c.shape[0]
        lg = p[self.long[b]][self.row[b]:self.row[b] + n]
        return (c[::-1, ::-1], lg[:, ::-1]) if self.flip[b] else (c, lg)


def candidate_planes(volume: np.ndarray, specs: EmboliPatchSpecs, members, device=None
                     ) -> CandidatePlanes:
    """The planes of patches ``members``, which share one source volume and origin:
    each shared plane made once (module docstring), all in one :func:`sample_planes`."""
    n = specs.size
    m = np.asarray(members, np.int64)
    axis, shift, width = specs.axis[m], specs.shift_mm[m], specs.width_mm[m]
    sgn = _sign(specs.u[m])
    uc, vc = specs.u[m] * sgn[:, None], specs.v[m] * sgn[:, None]
    pitch = width / n
    c_first, c_inv = _groups(np.column_stack([axis, shift, uc, vc, width]))
    kpx = shift / pitch
    whole = np.abs(kpx - np.rint(kpx)) < 1e-6
    k = np.where(whole, np.rint(kpx), 0).astype(np.int64)  # shift in whole pixels
    base = np.where(whole, 0.0, shift)  # where the taller section is centred
    l_first, l_inv = _groups(np.column_stack([axis, base, uc, width]))
    k_lo = np.full(len(l_first), np.iinfo(np.int64).max)
    k_hi = np.full(len(l_first), np.iinfo(np.int64).min)
    np.minimum.at(k_lo, l_inv, k)
    np.maximum.at(k_hi, l_inv, k)
    origin = specs.origin_mm[m[0]]
    todo = []
    for j in c_first:
        o = plane_offsets(n, width[j])
        todo.append((origin + shift[j] * axis[j], vc[j], o, uc[j], o))
    for g, j in enumerate(l_first):
        rows = (np.arange(k_lo[g], k_hi[g] + n) - (n - 1) / 2) * pitch[j]
        todo.append((origin + base[j] * axis[j], axis[j], rows, uc[j],
                     plane_offsets(n, width[j])))
    planes = sample_planes(volume, specs.spacing_mm[m[0]], todo, device)
    return CandidatePlanes(planes, c_inv, l_inv + len(c_first), k - k_lo[l_inv], sgn < 0)


def iter_candidates(volumes: Sequence[np.ndarray], specs: EmboliPatchSpecs, idx=None, *,
                    device=None) -> Iterator[tuple[np.ndarray, CandidatePlanes]]:
    """Batched rendering, one candidate at a time: yields ``(positions, planes)``,
    ``positions`` (b,) into ``idx`` of the patches that :class:`CandidatePlanes` makes."""
    check_volumes(volumes, specs)
    idx = _indices(specs, idx)
    if not len(idx):
        return
    key = np.column_stack([specs.source[idx], specs.origin_mm[idx], specs.spacing_mm[idx]])
    _, inv = _groups(key)
    order = np.argsort(inv, kind="stable")
    for pos in np.split(order, np.flatnonzero(np.diff(inv[order])) + 1):
        members = idx[pos]
        vol = volumes[specs.source[members[0]]]
        yield pos, candidate_planes(vol, specs, members, device)


def render_planes(volumes: Sequence[np.ndarray], specs: EmboliPatchSpecs, idx=None, *,
                  device=None, out: np.ndarray | None = None) -> np.ndarray:
    """(B, 2, N, N) HU planes (cross, long) of patches ``idx`` (all when None), batched.

    float64 on the CPU (``device`` None or a CPU), float32 on another torch device;
    written into ``out`` when given.
    """
    idx = _indices(specs, idx)
    n = specs.size
    cpu = device is None or torch.device(device).type == "cpu"
    out = _out(out, (len(idx), 2, n, n), np.float64 if cpu else np.float32)
    for pos, cp in iter_candidates(volumes, specs, idx, device=device):
        for b, p in enumerate(pos):
            out[p, 0], out[p, 1] = cp.patch(b)
    return out


def render_patches(volumes: Sequence[np.ndarray], specs: EmboliPatchSpecs, idx=None, *,
                   window=PE_WINDOW, device=None) -> np.ndarray:
    """(B, N, N, 3) uint8 patches ``idx`` (all when None), channels (cross, long, long);
    the same grey levels as ``to_uint8(render_planes(...), window)`` (each distinct
    plane is windowed once)."""
    idx = _indices(specs, idx)
    n = specs.size
    out = np.empty((len(idx), n, n, 3), np.uint8)
    for pos, cp in iter_candidates(volumes, specs, idx, device=device):
        grey = [_grey(p, window) for p in cp.planes]
        for b, p in enumerate(pos):
            c, lg = cp.patch(b, grey)
            out[p, :, :, 0] = c
            out[p, :, :, 1] = lg
            out[p, :, :, 2] = lg
    return out
