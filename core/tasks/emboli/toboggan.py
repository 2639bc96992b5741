"""Tobogganing: every voxel slides to its darkest neighbour until it reaches a minimum.

Tobogganing (Fairfield, "Toboggan contrast enhancement for contrast segmentation", ICPR
1990) clusters an image by its descent paths; Liang & Bi ("Computer aided detection of
pulmonary embolism with tobogganing and multiple instance classification in CT pulmonary
angiography", IPMI 2007) use it in CTPA, where emboli are dark clusters inside bright,
contrast-filled pulmonary arteries. Voxels whose descent ends at the same minimum form one
cluster.

The rule, exactly (``toboggan`` and the per-voxel reference of
``benchmarks/bench_toboggan.py`` both implement it; their clusters are identical):

1. Only voxels inside ``mask`` take part; neighbours outside it (or outside the volume)
   do not exist. Neighbours are the 6, 18 or 26 voxels around a voxel (``connectivity``).
2. **Slide.** A voxel with a strictly darker neighbour points to its darkest neighbour;
   among equally dark ones, to the one with the lowest flat (C-order) index, i.e. the
   first in (plane, row, col) order.
3. **Flat zones.** The other voxels (no strictly darker neighbour) group into connected
   components (same connectivity). Adjacent such voxels are necessarily of equal value
   (each is <= the other), so each component is flat.

   - A component with an *exit* (a neighbour of one of its voxels, outside the component,
     of the same value: such a voxel has a strictly darker neighbour, so the flat zone
     drains through it) is the top of a slope: all of its voxels point to its exit with
     the lowest flat index. The whole flat zone thus joins one cluster.
   - A component without an exit is a (plateau) minimum: all of its voxels point to its
     voxel with the lowest flat index, its *representative*, which points to itself. A
     flat minimum region thus forms exactly one cluster.

4. **Descend.** Pointers are followed until a voxel that points to itself (pointer jumping,
   ``p = p[p]`` on the voxels not yet settled, O(log path length) passes). Every path
   ends: along a path the pair (value, is-not-in-a-flat-zone-without-exit) strictly
   decreases, except for the single step into a component's exit or representative.

Labels number the minima 1..K in increasing flat index of their representative voxels;
voxels outside ``mask`` get 0.

The neighbour search runs on slabs of whole planes (``chunk_voxels`` voxels at a time); for
26-connectivity it is separable (minimum along x, then y, then z, 6 comparisons per voxel
instead of 26, same tie-breaking). Only the voxels inside the mask's bounding box are
visited. Pointers are int32 (int64 only past 2**31 masked voxels) indexed by the masked
voxels alone (their rank in C order, computed per slab from per-plane counts). Memory:
about 9 bytes per masked voxel (two pointer buffers during the descent) and 5 bytes per
voxel of the mask's bounding box (flat-zone flags and their component labels), plus the
int32 labels returned.
"""

from __future__ import annotations

from collections.abc import Generator

import numpy as np
from scipy import ndimage

from core.events import Progress, drain

CONNECTIVITIES = (6, 18, 26)
_CHUNK_VOXELS = 1 << 20
# (dz, dy, dx) of the 27 codes of _darkest26: code = 9 (dz + 1) + 3 (dy + 1) + (dx + 1)
_CUBE = np.array([(z, y, x) for z in (-1, 0, 1) for y in (-1, 0, 1) for x in (-1, 0, 1)])


def neighbour_offsets(connectivity: int = 26) -> np.ndarray:
    """Neighbour offsets (n, 3) as (dz, dy, dx), in (plane, row, col) order.

    Listed in increasing flat-index order, so the first of equally dark neighbours is the
    one with the lowest flat index.
    """
    if connectivity not in CONNECTIVITIES:
        raise ValueError(f"connectivity must be one of {CONNECTIVITIES}, got {connectivity!r}")
    d = np.array([(z, y, x) for z in (-1, 0, 1) for y in (-1, 0, 1) for x in (-1, 0, 1)])
    n1 = np.abs(d).sum(axis=1)
    keep = (n1 > 0) & (n1 <= {6: 1, 18: 2, 26: 3}[connectivity])
    return d[keep]


def _work_dtype(volume: np.ndarray) -> np.dtype:
    """float32 when it holds every value exactly (float32, small integers), else float64."""
    dt = volume.dtype
    if dt == np.bool_ or (dt.kind in "iu" and dt.itemsize <= 2) or dt == np.float32:
        return np.dtype(np.float32)
    if dt.kind in "iuf":
        return np.dtype(np.float64)
    raise ValueError(f"volume must be numeric, got dtype {dt}")


class _Slabs:
    """Padded slabs (one plane of halo on each side, +inf / -1 / False outside)."""

    def __init__(self, volume: np.ndarray, mask: np.ndarray, dtype: np.dtype) -> None:
        self.volume, self.mask, self.dtype = volume, mask, dtype
        self.shape = volume.shape
        counts = mask.sum(axis=(1, 2), dtype=np.int64)
        self.before = np.concatenate([[0], np.cumsum(counts)])  # masked voxels before plane z
        self.n = int(self.before[-1])
        self.full = self.n == mask.size
        z, y, x = self.shape
        # flat-index step of each offset in a padded slab
        self.step = np.array([(y + 2) * (x + 2), x + 2, 1], np.int64)

    def values(self, z0: int, z1: int) -> tuple[np.ndarray, np.ndarray]:
        """(padded values with +inf outside the mask, padded mask) of planes z0-1..z1."""
        zs, (y, x) = self.shape[0], self.shape[1:]
        za, zb = max(z0 - 1, 0), min(z1 + 1, zs)
        val = np.full((z1 - z0 + 2, y + 2, x + 2), np.inf, self.dtype)
        msk = np.zeros(val.shape, bool)
        lo = za - (z0 - 1)
        inner = (slice(lo, lo + zb - za), slice(1, y + 1), slice(1, x + 1))
        msk[inner] = self.mask[za:zb]
        np.copyto(val[inner], self.volume[za:zb], casting="unsafe", where=msk[inner])
        return val, msk

    def ranks(self, z0: int, z1: int, msk: np.ndarray) -> np.ndarray:
        """Padded rank (index among masked voxels in C order) of planes z0-1..z1, -1 off."""
        za = max(z0 - 1, 0)
        rank = np.cumsum(msk, dtype=np.int64).reshape(msk.shape) - 1 + self.before[za]
        rank[~msk] = -1  # the pad columns hold no masked voxel, so the cumsum is exact
        return rank


def _chunks(n_planes: int, plane_voxels: int, chunk_voxels: int) -> list[tuple[int, int]]:
    per = max(1, chunk_voxels // max(plane_voxels, 1))
    return [(z, min(z + per, n_planes)) for z in range(0, n_planes, per)]


def _darkest(val: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Darkest neighbour of every centre voxel of a padded slab.

    Returns (value, index into ``offsets``), the first of equals in ``offsets`` order.
    """
    p, y, x = (n - 2 for n in val.shape)
    best = np.full((p, y, x), np.inf, val.dtype)
    arg = np.zeros(best.shape, np.int8)
    better = np.empty(best.shape, bool)
    for k, (dz, dy, dx) in enumerate(offsets):
        sh = val[1 + dz:1 + dz + p, 1 + dy:1 + dy + y, 1 + dx:1 + dx + x]
        np.less(sh, best, out=better)  # strict: the first of equals (lowest index) wins
        np.copyto(best, sh, where=better)
        np.copyto(arg, k, where=better)
    return best, arg


def _darkest26(val: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Darkest voxel of every 3x3x3 block (centre included) of a padded slab, separably.

    Minimum along x, then y, then z, each time keeping the first of equals: this gives
    the lexicographically first (dz, dy, dx) among the darkest, the same choice as
    :func:`_darkest`. Returns (value, code 9 (dz+1) + 3 (dy+1) + (dx+1)). Where the value
    is below the centre's, the code names a true neighbour (never the centre).
    """
    p, y, x = (n - 2 for n in val.shape)
    b, a = val[:, :, :x].copy(), np.zeros((p + 2, y + 2, x), np.int8)
    for k in (1, 2):  # along x
        sh = val[:, :, k:k + x]
        better = sh < b
        np.copyto(b, sh, where=better)
        np.copyto(a, k, where=better)
    for weight, axis, n in ((3, 1, y), (9, 0, p)):  # then along y, then along z
        def part(arr: np.ndarray, k: int, axis: int = axis, n: int = n) -> np.ndarray:
            return arr[(slice(None),) * axis + (slice(k, k + n),)]

        nb, na = part(b, 0).copy(), part(a, 0).copy()
        for k in (1, 2):
            sh = part(b, k)
            better = sh < nb
            np.copyto(nb, sh, where=better)
            np.copyto(na, part(a, k) + np.int8(weight * k), where=better)
        b, a = nb, na
    return b, a


def _slide(sl: _Slabs, z0: int, z1: int, offsets: np.ndarray, ptr: np.ndarray,
           flat_zone: np.ndarray) -> None:
    """Pass 1 on planes [z0, z1): pointers of sliding voxels, flags of flat-zone voxels."""
    val, msk = sl.values(z0, z1)
    centre = val[1:-1, 1:-1, 1:-1]
    cmask = msk[1:-1, 1:-1, 1:-1]
    if not np.isfinite(centre[cmask]).all():
        raise ValueError("volume has non-finite values inside the mask")
    if len(offsets) == 26:
        best, arg = _darkest26(val)
        table = _CUBE
    else:
        best, arg = _darkest(val, offsets)
        table = offsets
    lower = best < centre
    flat_zone[z0:z1] = cmask & ~lower
    if sl.full:  # every voxel is masked: rank = flat index, no gathers needed
        plane = centre.shape[1] * centre.shape[2]
        step = (table * [plane, centre.shape[2], 1]).sum(axis=1)
        own = np.arange(z0 * plane, z1 * plane, dtype=ptr.dtype).reshape(centre.shape)
        delta = np.where(lower, step[arg], 0).astype(ptr.dtype)
        ptr[z0 * plane:z1 * plane] = (own + delta).ravel()
        return
    rank = sl.ranks(z0, z1, msk)
    own = rank[1:-1, 1:-1, 1:-1][cmask]
    if not own.size:
        return
    # padded flat index of every centre voxel, then of its chosen neighbour
    pidx = np.flatnonzero(np.pad(cmask, 1))
    step = table @ sl.step
    low = lower[cmask]
    target = own.copy()  # flat-zone voxels: themselves until pass 2
    target[low] = rank.ravel()[pidx[low] + step[arg[cmask][low]]]
    ptr[own[0]:own[0] + len(own)] = target


def _flat_zones(sl: _Slabs, chunks: list[tuple[int, int]], offsets: np.ndarray,
                ptr: np.ndarray, flat_zone: np.ndarray, connectivity: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """Pass 2: point flat-zone voxels to their zone's exit or representative.

    Returns the ranks of the representatives (the minima), increasing, and their flat
    indices in the (bounding-box) volume.
    """
    structure = ndimage.generate_binary_structure(3, {6: 1, 18: 2, 26: 3}[connectivity])
    zone, n_zones = ndimage.label(flat_zone, structure=structure)
    big = np.iinfo(np.int64).max
    exit_rank = np.full(n_zones + 1, big, np.int64)
    rep_rank = np.full(n_zones + 1, big, np.int64)
    step = offsets @ sl.step
    zone_ranks, zone_ids, zone_flat = [], [], []
    plane = sl.shape[1] * sl.shape[2]
    for z0, z1 in chunks:
        fz = flat_zone[z0:z1]
        if not fz.any():
            continue
        val, msk = sl.values(z0, z1)
        rank = sl.ranks(z0, z1, msk).ravel()
        fpad = np.zeros(msk.shape, bool)
        lo, hi = max(z0 - 1, 0), min(z1 + 1, sl.shape[0])
        fpad[lo - (z0 - 1):lo - (z0 - 1) + hi - lo, 1:-1, 1:-1] = flat_zone[lo:hi]
        pidx = np.flatnonzero(np.pad(fz, 1))  # flat-zone voxels of the chunk, padded index
        ids = zone[z0:z1][fz].astype(np.int64)
        own = rank[pidx]
        vflat, mflat, fflat = val.ravel(), msk.ravel(), fpad.ravel()
        v = vflat[pidx]
        for s in step:
            nb = pidx + s
            is_exit = mflat[nb] & ~fflat[nb] & (vflat[nb] == v)
            np.minimum.at(exit_rank, ids[is_exit], rank[nb[is_exit]])
        np.minimum.at(rep_rank, ids, own)
        zone_ranks.append(own)
        zone_ids.append(ids)
        zone_flat.append(np.flatnonzero(fz) + z0 * plane)
    if not zone_ranks:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    own = np.concatenate(zone_ranks)
    ids = np.concatenate(zone_ids)
    dest = np.where(exit_rank < big, exit_rank, rep_rank)
    ptr[own] = dest[ids]
    roots = np.sort(rep_rank[1:][exit_rank[1:] == big])
    # zone voxels come in C order, so their ranks increase: find the roots among them
    return roots, np.concatenate(zone_flat)[np.searchsorted(own, roots)]


def _descend(ptr: np.ndarray) -> np.ndarray:
    """Pointer jumping until every pointer is a root (points to itself); ``ptr`` is reused.

    Whole-array passes (``p = p[p]``, cache-friendly) while many pointers still move, then
    passes over the unsettled voxels only.
    """
    nxt = np.empty_like(ptr)
    while True:
        np.take(ptr, ptr, out=nxt, mode="clip")  # indices valid: clip skips a buffer
        moved = nxt != ptr
        n_moved = int(np.count_nonzero(moved))
        ptr, nxt = nxt, ptr  # swap buffers: ptr now holds the jumped pointers
        if n_moved * 8 < len(ptr):
            break
    active = np.flatnonzero(moved)
    while active.size:
        p = ptr[active]
        pp = ptr[p]
        ptr[active] = pp
        active = active[pp != p]  # p was a root when ptr[p] == p: x is settled
    return ptr


def toboggan_steps(volume: np.ndarray, mask: np.ndarray | None = None, *,
                   connectivity: int = 26, chunk_voxels: int = _CHUNK_VOXELS
                   ) -> Generator[Progress, None, tuple[np.ndarray, np.ndarray]]:
    """:func:`toboggan` as a generator of :class:`Progress` (stage ``"toboggan"``).

    One event per slab of planes for the neighbour search, one for the flat zones and one
    for the descent, so a caller can cancel between slabs.
    """
    vol = np.asarray(volume)
    if vol.ndim != 3:
        raise ValueError(f"volume must be 3-D (planes, rows, cols), got shape {vol.shape}")
    dtype = _work_dtype(vol)
    offsets = neighbour_offsets(connectivity)
    if chunk_voxels < 1:
        raise ValueError(f"chunk_voxels must be >= 1, got {chunk_voxels}")
    full = np.ones(vol.shape, bool) if mask is None else np.asarray(mask)
    if full.shape != vol.shape:
        raise ValueError(f"mask shape {full.shape} differs from volume shape {vol.shape}")
    full = full.astype(bool, copy=False)
    labels = np.zeros(vol.shape, np.int32)
    if not full.any():
        yield Progress("toboggan", 1, 1, "empty mask")
        return labels, np.zeros((0, 3), np.int64)
    # work inside the bounding box of the mask
    box = tuple(slice(int(ix.min()), int(ix.max()) + 1)
                for ix in (np.flatnonzero(full.any(axis=a)) for a in ((1, 2), (0, 2), (0, 1))))
    sub_v, sub_m = vol[box], full[box]
    sl = _Slabs(sub_v, sub_m, dtype)
    idx_t = np.int32 if sl.n < 2**31 - 1 else np.int64
    ptr = np.empty(sl.n, idx_t)
    flat_zone = np.zeros(sub_m.shape, bool)
    chunks = _chunks(sub_m.shape[0], sub_m.shape[1] * sub_m.shape[2], chunk_voxels)
    total = len(chunks) + 2
    for i, (z0, z1) in enumerate(chunks):
        _slide(sl, z0, z1, offsets, ptr, flat_zone)
        yield Progress("toboggan", i + 1, total, f"neighbours of planes {z0}-{z1 - 1}")
    roots, root_flat = _flat_zones(sl, chunks, offsets, ptr, flat_zone, connectivity)
    yield Progress("toboggan", len(chunks) + 1, total, f"{len(roots)} minima")
    ptr = _descend(ptr)
    lut = np.zeros(sl.n, np.int32)
    lut[roots] = np.arange(1, len(roots) + 1, dtype=np.int32)
    labels[box][sub_m] = lut[ptr]  # labels[box] is a view
    minima = np.stack(np.unravel_index(root_flat, sub_m.shape), axis=1).astype(np.int64)
    minima += [b.start for b in box]
    yield Progress("toboggan", total, total, f"{len(roots)} clusters")
    return labels, minima


def toboggan(volume: np.ndarray, mask: np.ndarray | None = None, *, connectivity: int = 26,
             chunk_voxels: int = _CHUNK_VOXELS) -> tuple[np.ndarray, np.ndarray]:
    """Cluster a volume by tobogganing (rule in the module docstring).

    Parameters
    ----------
    volume : numpy.ndarray
        (Z, Y, X) numeric volume (e.g. Hounsfield units); finite inside ``mask``.
    mask : numpy.ndarray, optional
        (Z, Y, X) bool; only these voxels are clustered (default: all).
    connectivity : {6, 18, 26}
        Neighbourhood of a voxel.
    chunk_voxels : int
        About this many voxels per slab of the neighbour search (memory vs overhead).

    Returns
    -------
    labels : numpy.ndarray
        (Z, Y, X) int32, the cluster (1..K) of every voxel in ``mask``, 0 elsewhere.
    minima : numpy.ndarray
        (K, 3) int64 (plane, row, col) of each cluster's minimum (for a flat minimum
        region, its voxel with the lowest flat index); row k is cluster k + 1.
    """
    return drain(toboggan_steps(volume, mask, connectivity=connectivity,
                                chunk_voxels=chunk_voxels))
