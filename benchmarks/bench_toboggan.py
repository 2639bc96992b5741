"""Benchmark: tobogganing, vectorised (numpy) vs a straightforward per-voxel Python loop.

Builds a 256^3 float32 volume (Gaussian-smoothed noise plus dark blobs; 128^3 with
--quick) and clusters it with :func:`core.tasks.emboli.toboggan.toboggan` and with
:func:`toboggan_reference`, the same rule written voxel by voxel in plain Python (each
voxel scans its 26 neighbours; flat zones by breadth-first search; each voxel follows its
pointers to a minimum, with the walked path remembered). The reference would take many
minutes on 256^3 (about 10 us per voxel), so the two are compared on sub-volumes (cubes
of 64^3 cut from the big volume, half of them inside a mask of the darker voxels):
ours and the reference on the same cube, interleaved, ratio = summed reference time /
summed ours. Ours on the whole 256^3 volume is timed on its own (no extrapolation of the
reference is reported as a measurement).

A plateau case (the volume quantised to a few grey levels, so flat zones with and
without exits abound) is checked for identity too.

Correctness gate (exit status 1): identical labels and minima on every cube.
Target: ratio >= 20x.

Usage: python benchmarks/bench_toboggan.py [--quick] [--size N] [--cube N] [--seed S]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import deque
from pathlib import Path

import numpy as np
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.tasks.emboli.toboggan import neighbour_offsets, toboggan  # noqa: E402

TARGET = 20.0


def toboggan_reference(volume: np.ndarray, mask: np.ndarray | None = None,
                       connectivity: int = 26) -> tuple[np.ndarray, np.ndarray]:
    """The tobogganing rule of :mod:`core.tasks.emboli.toboggan`, one voxel at a time.

    Returns the same (labels, minima) as :func:`~core.tasks.emboli.toboggan.toboggan`.
    """
    zs, ys, xs = volume.shape
    n = volume.size
    vals = np.asarray(volume, np.float64).ravel().tolist()
    inm = (np.ones(n, bool) if mask is None else np.asarray(mask, bool).ravel()).tolist()
    offs = [tuple(int(v) for v in o) for o in neighbour_offsets(connectivity)]

    def neighbours(i: int) -> list[int]:
        z, r = divmod(i, ys * xs)
        y, x = divmod(r, xs)
        out = []
        for dz, dy, dx in offs:  # in increasing flat-index order
            zz, yy, xx = z + dz, y + dy, x + dx
            if 0 <= zz < zs and 0 <= yy < ys and 0 <= xx < xs:
                j = (zz * ys + yy) * xs + xx
                if inm[j]:
                    out.append(j)
        return out

    ptr = [-1] * n
    flat = set()
    for i in range(n):
        if not inm[i]:
            continue
        best, arg = vals[i], -1
        for j in neighbours(i):
            if vals[j] < best:  # strict: the first of equally dark neighbours wins
                best, arg = vals[j], j
        if arg < 0:
            flat.add(i)
            ptr[i] = i
        else:
            ptr[i] = arg
    seen = set()
    for s in sorted(flat):
        if s in seen:
            continue
        zone, queue = [s], deque([s])
        seen.add(s)
        while queue:
            i = queue.popleft()
            for j in neighbours(i):
                if j in flat and j not in seen:
                    seen.add(j)
                    zone.append(j)
                    queue.append(j)
        exits = [j for i in zone for j in neighbours(i) if j not in flat and vals[j] == vals[i]]
        dest = min(exits) if exits else min(zone)
        for i in zone:
            ptr[i] = dest
    root = [-1] * n
    for i in range(n):
        if not inm[i] or root[i] >= 0:
            continue
        path, j = [], i
        while root[j] < 0 and ptr[j] != j:
            path.append(j)
            j = ptr[j]
        r = root[j] if root[j] >= 0 else j
        root[j] = r
        for k in path:
            root[k] = r
    roots = sorted({r for r in root if r >= 0})
    ids = {r: k + 1 for k, r in enumerate(roots)}
    labels = np.array([ids[r] if r >= 0 else 0 for r in root], np.int32).reshape(volume.shape)
    minima = np.array([np.unravel_index(r, volume.shape) for r in roots],
                      np.int64).reshape(-1, 3)
    return labels, minima


def test_volume(size: int, rng: np.random.Generator) -> np.ndarray:
    """Smoothed noise (HU-like, about 300 +- 30) with dark blobs (about 40 HU)."""
    vol = ndimage.gaussian_filter(rng.standard_normal((size,) * 3, dtype=np.float32), 1.5)
    vol = 300 + vol * (30 / vol.std())
    n_blobs = max(4, size // 8)
    zz, yy, xx = np.ogrid[:size, :size, :size]
    for c, r in zip(rng.uniform(0, size, (n_blobs, 3)), rng.uniform(2, 6, n_blobs)):
        d2 = (zz - c[0]) ** 2 + (yy - c[1]) ** 2 + (xx - c[2]) ** 2
        vol = np.where(d2 < r * r, np.float32(40) + 0.1 * vol, vol)
    return vol.astype(np.float32)


def same(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> bool:
    return np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="128^3 volume, 2 cubes of 48^3")
    ap.add_argument("--size", type=int, default=None, help="side of the big volume")
    ap.add_argument("--cube", type=int, default=None, help="side of the compared cubes")
    ap.add_argument("--cubes", type=int, default=None, help="number of compared cubes")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    size = args.size or (128 if args.quick else 256)
    cube = min(args.cube or (48 if args.quick else 64), size)
    n_cubes = args.cubes or (2 if args.quick else 4)
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    vol = test_volume(size, rng)
    print(f"volume {size}^3 float32 (smoothed noise + dark blobs) built in "
          f"{time.perf_counter() - t0:.1f} s; compared cubes: {n_cubes} x {cube}^3")
    toboggan(vol[:16, :16, :16])  # warm-up

    t0 = time.perf_counter()
    labels, minima = toboggan(vol)
    t_big = time.perf_counter() - t0
    print(f"ours on {size}^3: {t_big:.2f} s ({vol.size / t_big / 1e6:.1f} Mvoxel/s), "
          f"{len(minima)} clusters")

    t_ours = t_ref = 0.0
    ok_all = True
    for i in range(n_cubes):
        z, y, x = rng.integers(0, size - cube + 1, 3)
        sub = vol[z:z + cube, y:y + cube, x:x + cube]
        mask = sub < np.quantile(sub, 0.5) if i % 2 else None
        t0 = time.perf_counter()
        ours = toboggan(sub, mask)
        t1 = time.perf_counter()
        ref = toboggan_reference(sub, mask)
        t2 = time.perf_counter()
        t_ours += t1 - t0
        t_ref += t2 - t1
        ok = same(ours, ref)
        ok_all &= ok
        print(f"  cube {i} at ({z},{y},{x}){' masked' if mask is not None else '       '}: "
              f"{len(ours[1])} clusters, ours {1e3 * (t1 - t0):7.1f} ms, "
              f"reference {t2 - t1:6.2f} s, identical: {ok}")
    # plateaus: a few grey levels, flat zones with and without exits
    sub = np.round(vol[:cube // 2, :cube, :cube] / 40).astype(np.int16)
    ok = same(toboggan(sub), toboggan_reference(sub))
    ok_all &= ok
    print(f"  plateau case {sub.shape} int16, {len(np.unique(sub))} levels: identical: {ok}")
    ratio = t_ref / t_ours
    met = "met" if ratio >= TARGET else "NOT met"
    print(f"per-voxel reference {n_cubes * cube ** 3 / t_ref / 1e3:8.1f} kvoxel/s   ours "
          f"{n_cubes * cube ** 3 / t_ours / 1e3:9.1f} kvoxel/s   ratio {ratio:6.1f}x  "
          f"(target >= {TARGET:g}x: {met})")
    print("correctness gate:", "PASS (identical clusters)" if ok_all else "FAIL")
    return 0 if ok_all else 1


if __name__ == "__main__":
    sys.exit(main())
