"""Solid shapes of the synthetic CTPA rasterised with partial-volume edges.

Shapes live in *grid millimetres*: ``(z, y, x) = (plane * dz, row * dy, col * dx)``, the
voxel grid scaled by its spacing (an internal rendering frame, not patient coordinates;
:class:`core.io.geometry3d.VolumeGeometry` maps indices to the patient). A shape gives a
signed distance ``s`` in mm (positive inside) on a box of the grid, and its coverage of a
voxel is the linear ramp ``clip(s / h + 1/2, 0, 1)`` with ``h`` about one voxel: a voxel
half inside the surface is half covered, as the scanner's partial-volume averaging makes
it. Painting a value ``v`` with coverage ``c`` mixes ``hu <- hu * (1 - c) + v * c``.

Vessels are :class:`Tube` s: a quadratic Bezier centreline with a radius tapering linearly
along it, rasterised as the union of tapered capsules around a polyline of the curve (the
distance to each chord, the radius interpolated at the nearest point).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

Box = tuple[slice, slice, slice]


@dataclass(frozen=True)
class Grid:
    """A voxel grid ``shape`` (Z, Y, X) with ``spacing`` (dz, dy, dx) in mm."""

    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]

    @property
    def extent(self) -> np.ndarray:
        """(3,) size in grid mm, (D, H, W)."""
        return np.asarray(self.shape, float) * np.asarray(self.spacing, float)

    @property
    def h(self) -> float:
        """Width in mm of the partial-volume ramp (the finest voxel side)."""
        return float(min(self.spacing))

    def box(self, lo_mm: np.ndarray, hi_mm: np.ndarray) -> Box | None:
        """Index slices of the voxels whose centres lie in ``[lo_mm, hi_mm]`` (None if none)."""
        sp = np.asarray(self.spacing, float)
        lo = np.maximum(np.floor(np.asarray(lo_mm) / sp).astype(int), 0)
        hi = np.minimum(np.ceil(np.asarray(hi_mm) / sp).astype(int) + 1, self.shape)
        if np.any(hi <= lo):
            return None
        return tuple(slice(int(a), int(b)) for a, b in zip(lo, hi))  # type: ignore[return-value]

    def coords(self, box: Box) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Open-grid float32 coordinates (z (n,1,1), y (1,n,1), x (1,1,n)) in mm of a box."""
        out = []
        for axis, (sl, s) in enumerate(zip(box, self.spacing)):
            v = (np.arange(sl.start, sl.stop, dtype=np.float32) * np.float32(s))
            shape = [1, 1, 1]
            shape[axis] = v.size
            out.append(v.reshape(shape))
        return out[0], out[1], out[2]

    def full(self) -> Box:
        """The box of the whole grid."""
        return tuple(slice(0, n) for n in self.shape)  # type: ignore[return-value]

    def coverage(self, s: np.ndarray) -> np.ndarray:
        """Partial-volume coverage (0..1, float32) from a signed distance in mm."""
        return np.clip(s * np.float32(1.0 / self.h) + np.float32(0.5), 0.0, 1.0)


def unit(v: np.ndarray) -> np.ndarray:
    """``v`` scaled to length 1."""
    v = np.asarray(v, float)
    return v / max(float(np.linalg.norm(v)), 1e-12)


def perpendicular(rng: np.random.Generator, d: np.ndarray) -> np.ndarray:
    """A random unit vector perpendicular to the unit vector ``d``."""
    while True:
        v = rng.normal(size=3)
        v -= (v @ d) * d
        if np.linalg.norm(v) > 1e-3:
            return unit(v)


def rotate(v: np.ndarray, axis: np.ndarray, angle: float) -> np.ndarray:
    """``v`` rotated by ``angle`` radians about the unit ``axis`` (Rodrigues)."""
    c, s = math.cos(angle), math.sin(angle)
    return v * c + np.cross(axis, v) * s + axis * (axis @ v) * (1 - c)


@dataclass(frozen=True)
class Tube:
    """One vessel segment in grid mm (z, y, x).

    Attributes
    ----------
    p0, p1, p2 : (3,) float arrays
        Control points of the quadratic Bezier centreline (start, pull, end).
    r0, r1 : float
        Radius in mm at the start and the end (linear in the curve parameter).
    hu : float
        Hounsfield units of its (contrast-filled) lumen.
    kind : str
        ``"artery"`` (pulmonary), ``"vein"`` (pulmonary, less contrast) or ``"aorta"``.
    generation : int
        Branching generation (0 for a trunk).
    parent : int
        Index of the parent tube in its list, -1 for a root.
    """

    p0: np.ndarray
    p1: np.ndarray
    p2: np.ndarray
    r0: float
    r1: float
    hu: float
    kind: str
    generation: int
    parent: int = -1

    def point(self, t: float | np.ndarray) -> np.ndarray:
        """Centreline point(s) at parameter ``t`` in [0, 1]: (3,) or (N, 3)."""
        t = np.asarray(t, float)[..., None]
        return (1 - t) ** 2 * self.p0 + 2 * (1 - t) * t * self.p1 + t ** 2 * self.p2

    def tangent(self, t: float) -> np.ndarray:
        """Unit tangent at ``t``."""
        return unit(2 * (1 - t) * (self.p1 - self.p0) + 2 * t * (self.p2 - self.p1))

    def radius(self, t: float) -> float:
        """Radius in mm at ``t``."""
        return float(self.r0 + (self.r1 - self.r0) * t)

    @property
    def length(self) -> float:
        """Arc length in mm (polyline of 32 chords)."""
        p = self.point(np.linspace(0, 1, 33))
        return float(np.linalg.norm(np.diff(p, axis=0), axis=1).sum())

    def signed_distance(self, grid: Grid, box: Box) -> np.ndarray:
        """Signed distance (mm, float32, positive inside) to the tube's surface on ``box``."""
        n = int(np.clip(math.ceil(self.length / 1.5), 3, 48))
        ts = np.linspace(0, 1, n + 1)
        pts = self.point(ts).astype(np.float32)
        rad = (self.r0 + (self.r1 - self.r0) * ts).astype(np.float32)
        z, y, x = grid.coords(box)
        best = None
        for i in range(n):
            a, v = pts[i], pts[i + 1] - pts[i]
            vv = max(float(v @ v), 1e-12)
            az, ay, ax = z - a[0], y - a[1], x - a[2]
            t = np.clip((az * v[0] + ay * v[1] + ax * v[2]) * np.float32(1 / vv), 0, 1)
            d = np.sqrt((az - t * v[0]) ** 2 + (ay - t * v[1]) ** 2 + (ax - t * v[2]) ** 2)
            s = rad[i] + t * (rad[i + 1] - rad[i]) - d
            best = s if best is None else np.maximum(best, s, out=best)
        assert best is not None
        return best

    def box(self, grid: Grid, margin: float = 2.0) -> Box | None:
        """The grid box that holds the tube plus ``margin`` mm (None when outside the grid)."""
        p = self.point(np.linspace(0, 1, 9))
        r = max(self.r0, self.r1) + margin
        return grid.box(p.min(axis=0) - r, p.max(axis=0) + r)


@dataclass(frozen=True)
class Ellipsoid:
    """A solid ellipsoid in grid mm: ``centre`` (3,), orthonormal ``axes`` (3, 3) rows, ``semi`` (3,)."""

    centre: np.ndarray
    axes: np.ndarray
    semi: np.ndarray

    def signed_distance(self, grid: Grid, box: Box) -> np.ndarray:
        """Approximate signed distance in mm (exact on a sphere), positive inside."""
        z, y, x = grid.coords(box)
        c = self.centre.astype(np.float32)
        q = None
        for u, a in zip(self.axes.astype(np.float32), self.semi):
            p = ((z - c[0]) * u[0] + (y - c[1]) * u[1] + (x - c[2]) * u[2]) * np.float32(1 / a)
            q = p * p if q is None else q + p * p
        assert q is not None
        return (np.float32(1) - np.sqrt(q)) * np.float32(min(self.semi))

    def box(self, grid: Grid, margin: float = 2.0) -> Box | None:
        """The grid box that holds the ellipsoid plus ``margin`` mm."""
        r = float(max(self.semi)) + margin
        return grid.box(self.centre - r, self.centre + r)

    def contains(self, p: np.ndarray) -> bool:
        """Whether the grid-mm point ``p`` lies inside."""
        return float(np.sum(((self.axes @ (np.asarray(p) - self.centre)) / self.semi) ** 2)) < 1.0

    def sample(self, rng: np.random.Generator, scale: float = 1.0) -> np.ndarray:
        """A uniformly random point inside the ellipsoid shrunk by ``scale``."""
        while True:
            u = rng.uniform(-1, 1, 3)
            if u @ u <= 1:
                return self.centre + self.axes.T @ (u * self.semi * scale)


def aligned(centre: np.ndarray | list[float], semi: np.ndarray | list[float]) -> Ellipsoid:
    """An axis-aligned :class:`Ellipsoid` (semi-axes along z, y, x)."""
    return Ellipsoid(np.asarray(centre, float), np.eye(3), np.asarray(semi, float))


def paint(vol: np.ndarray, box: Box, cov: np.ndarray, value: float | np.ndarray) -> None:
    """Mix ``value`` (a number, or an array broadcasting to the box) into ``vol[box]``.

    ``vol[box] <- vol[box] * (1 - cov) + value * cov``, in place.
    """
    v = vol[box]
    v += (np.asarray(value, np.float32) - v) * cov
