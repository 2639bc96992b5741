"""Anatomy of the synthetic CTPA: chest wall, lungs, spine, aorta and pulmonary vessel trees.

Everything is placed in grid millimetres (see :mod:`core.synth.ctpa_shapes`) as fractions
of the volume's extent ``(D, H, W)``, so any grid gets the same chest; vessel radii scale
with ``S = min(H, W) / 144 mm`` (1 at the default 160 x 160 columns of 0.9 mm). Patient
coordinates are LPS with the identity orientation: columns grow to the patient's left
(``x``), rows to the posterior (``y``), planes to the head (``z``), so the right lung lies at
small column indices, the spine at large row indices and plane 0 is the lowest slice.

The pulmonary artery tree: a trunk rising from below the slab, anterior and left of the
ascending aorta, splitting into the right and left pulmonary arteries that run to the hila;
from there each branch splits into a major and a minor child (radii 0.74-0.88 and
0.55-0.74 of the parent's end radius, branching angles 15-35 and 35-65 degrees, steered
toward random points of their lung) until the radius falls below 0.65 mm or seven
generations. Pulmonary veins grow the same way from the left atrium, with less contrast
(120-200 HU against 340-420 HU) and fewer generations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from core.synth.ctpa_shapes import Ellipsoid, Grid, Tube, aligned, paint, perpendicular, unit

AIR_HU = -1000.0
FAT_HU = -100.0
MUSCLE_HU = 45.0
LUNG_HU = -860.0
CANCELLOUS_HU = 230.0
CORTEX_HU = 650.0
ARTERY_MIN_R_MM = 0.6
VEIN_MIN_R_MM = 0.9
TERRITORY_POINTS = 1500
MURRAY_EXPONENT = 0.25


@dataclass(frozen=True)
class Layout:
    """Where the organs of one grid lie (grid mm)."""

    grid: Grid
    scale: float
    body: Ellipsoid
    wall: Ellipsoid  # inside the chest wall (muscle)
    mediastinum: Ellipsoid
    lungs: tuple[Ellipsoid, Ellipsoid]  # (right, left)
    spine: Ellipsoid
    atrium: Ellipsoid

    def at(self, fz: float, fy: float, fx: float) -> np.ndarray:
        """The grid-mm point at fractions (fz, fy, fx) of the extent."""
        return np.array([fz, fy, fx]) * self.grid.extent


def make_layout(grid: Grid) -> Layout:
    """The organs of a chest filling ``grid``."""
    d, h, w = grid.extent
    s = min(h, w) / 144.0
    long = 50.0 * d  # cylinders along z
    r_spine = 0.065 * min(h, w)
    return Layout(
        grid=grid, scale=s,
        body=aligned([0.5 * d, 0.5 * h, 0.5 * w], [long, 0.40 * h, 0.47 * w]),
        wall=aligned([0.5 * d, 0.5 * h, 0.5 * w], [long, 0.40 * h - 6 * s, 0.47 * w - 6 * s]),
        mediastinum=aligned([0.5 * d, 0.46 * h, 0.5 * w], [long, 0.32 * h, 0.12 * w]),
        lungs=(aligned([0.5 * d, 0.50 * h, 0.28 * w], [0.75 * d, 0.30 * h, 0.165 * w]),
               aligned([0.5 * d, 0.52 * h, 0.72 * w], [0.75 * d, 0.28 * h, 0.15 * w])),
        spine=aligned([0.5 * d, 0.80 * h, 0.5 * w], [long, r_spine, r_spine]),
        atrium=aligned([0.30 * d, 0.57 * h, 0.5 * w], [14 * s, 0.07 * h, 0.10 * w]),
    )


def paint_background(rng: np.random.Generator, lay: Layout) -> tuple[np.ndarray, np.ndarray]:
    """The chest without vessels: (HU float32 (Z, Y, X), lung coverage float32 0..1).

    Air, subcutaneous fat, chest-wall muscle, mediastinal fat, lungs (-860 HU, denser toward
    the back as dependent lung is, with a smooth parenchymal texture of about 15 HU) and a
    vertebral body (cancellous bone in a cortical shell).
    """
    g = lay.grid
    full = g.full()
    vol = np.full(g.shape, AIR_HU, np.float32)

    def cov(shape: Ellipsoid) -> np.ndarray:
        return g.coverage(shape.signed_distance(g, full))

    paint(vol, full, cov(lay.body), FAT_HU)
    paint(vol, full, cov(lay.wall), MUSCLE_HU)
    paint(vol, full, cov(lay.mediastinum), FAT_HU + 10)
    texture = ndimage.gaussian_filter(rng.standard_normal(g.shape, np.float32), 2.0)
    texture *= np.float32(15.0 / max(float(texture.std()), 1e-6))
    _, y, _ = g.coords(full)
    lung_hu = np.float32(LUNG_HU) + np.float32(60.0) * (y / np.float32(g.extent[1]) - 0.5)
    wall = cov(lay.wall)
    lung = np.maximum(cov(lay.lungs[0]), cov(lay.lungs[1])) * wall
    paint(vol, full, lung, lung_hu + texture)
    r = float(lay.spine.semi[1])
    paint(vol, full, cov(lay.spine), CORTEX_HU)
    core = aligned(lay.spine.centre, [lay.spine.semi[0], r - 2.0 * lay.scale, r - 2.0 * lay.scale])
    paint(vol, full, cov(core), CANCELLOUS_HU)
    return vol, lung


def territory(rng: np.random.Generator, lay: Layout, side: int, n: int) -> np.ndarray:
    """``n`` uniformly random grid-mm points (n, 3) of one lung (0 right, 1 left) in the slab."""
    lung, hi = lay.lungs[side], lay.grid.extent
    lo_box, hi_box = lung.centre - lung.semi, lung.centre + lung.semi
    pts = np.empty((0, 3))
    while len(pts) < n:
        p = rng.uniform(lo_box, hi_box, (2 * n, 3))
        q = np.sum(((p - lung.centre) / (0.92 * lung.semi)) ** 2, axis=1)
        inside = (q < 1) & (p[:, 0] > 2.0) & (p[:, 0] < hi[0] - 2.0)
        pts = np.concatenate([pts, p[inside]])
    return pts[:n]


def _grow(rng: np.random.Generator, out: list[Tube], lung: Ellipsoid, start: np.ndarray,
          r: float, pts: np.ndarray, gen: int, parent: int, hu: float, kind: str,
          min_r: float) -> None:
    """Grow the branch from ``start`` (radius ``r``) that supplies the territory ``pts``.

    The branch runs part of the way (all the way for a terminal one) to the centroid of
    its territory; the territory is then halved across its principal axis and each half
    gets a child whose radius follows Murray's law for a flow proportional to the
    territory (r_child^3 = r^3 * share; Murray, PNAS 1926).
    """
    centre = pts.mean(axis=0)
    halves: list[np.ndarray] = []
    if len(pts) >= 4 and gen < 14:
        dev = pts - centre
        axis = unit(np.linalg.eigh(dev.T @ dev)[1][:, -1] + rng.normal(0, 0.5, 3))
        proj = dev @ axis
        order = np.argsort(proj)  # cut asymmetrically, as lungs branch
        k = max(1, int(len(pts) * rng.uniform(0.25, 0.5)))
        halves = [pts[order[k:]], pts[order[:k]]]
    r_end = r * rng.uniform(0.92, 0.98)
    radii = [r_end * (len(h) / len(pts)) ** MURRAY_EXPONENT for h in halves]
    terminal = not halves or max(radii) < min_r
    f = rng.uniform(1.0, 1.3) if terminal else rng.uniform(0.35, 0.6)
    end = start + (centre - start) * f
    if not lung.contains(end):
        end = start + (centre - start) * min(f, 1.0)
    length = float(np.linalg.norm(end - start))
    if length < 1.0:
        return
    d = unit(end - start)
    p1 = start + d * (0.5 * length) + perpendicular(rng, d) * rng.uniform(0, 0.15) * length
    idx = len(out)
    out.append(Tube(start, p1, end, r, r_end, hu - 3.0 * gen + rng.normal(0, 6), kind, gen,
                    parent))
    if terminal:
        return
    for half, rc in zip(halves, radii):
        if rc >= min_r and len(half) >= 2:
            _grow(rng, out, lung, end, rc, half, gen + 1, idx, hu, kind, min_r)


def pulmonary_arteries(rng: np.random.Generator, lay: Layout, hu: float) -> list[Tube]:
    """The pulmonary artery tree, parents before children (index 0: the trunk)."""
    s = lay.scale
    at = lay.at
    trunk = Tube(at(-0.05, 0.25, 0.56), at(0.25, 0.30, 0.57), at(0.5, 0.44, 0.53),
                 7.2 * s, 6.5 * s, hu, "artery", 0)
    tubes = [trunk]
    mains = ((at(0.55, 0.47, 0.45), at(0.52, 0.50, 0.38), 4.9 * s, 4.6 * s, 0),
             (at(0.64, 0.47, 0.60), at(0.60, 0.54, 0.62), 4.6 * s, 4.3 * s, 1))
    for p1, p2, r0, r1, side in mains:
        idx = len(tubes)
        tubes.append(Tube(trunk.p2, p1, p2, r0, r1, hu - 3.0, "artery", 1, 0))
        pts = territory(rng, lay, side, TERRITORY_POINTS)
        _grow(rng, tubes, lay.lungs[side], p2, r1, pts, 2, idx, hu, "artery", ARTERY_MIN_R_MM)
    return tubes


def pulmonary_veins(rng: np.random.Generator, lay: Layout, hu: float) -> list[Tube]:
    """Four pulmonary veins from the left atrium (upper and lower per lung), tributaries."""
    s = lay.scale
    at = lay.at
    tubes: list[Tube] = []
    hila = ((at(0.45, 0.60, 0.32), at(0.16, 0.62, 0.30)), (at(0.52, 0.60, 0.70),
                                                           at(0.20, 0.64, 0.70)))
    for side, (upper, lower) in enumerate(hila):
        pts = territory(rng, lay, side, TERRITORY_POINTS // 2)
        cut = np.median(pts[:, 0])
        for end, part in ((upper, pts[pts[:, 0] > cut]), (lower, pts[pts[:, 0] <= cut])):
            start = lay.atrium.centre
            mid = 0.5 * (start + end) + rng.normal(0, 2.0 * s, 3)
            idx = len(tubes)
            tubes.append(Tube(start, mid, end, 3.6 * s, 3.3 * s, hu, "vein", 1))
            _grow(rng, tubes, lay.lungs[side], end, 3.3 * s, part, 2, idx, hu, "vein",
                  VEIN_MIN_R_MM)
    return tubes


def aorta(lay: Layout, hu: float) -> list[Tube]:
    """Ascending aorta, arch (at the top of the slab) and descending aorta."""
    s = lay.scale
    at = lay.at
    asc = Tube(at(-0.05, 0.34, 0.42), at(0.45, 0.34, 0.42), at(0.85, 0.38, 0.44),
               7.2 * s, 7.0 * s, hu, "aorta", 0)
    arch = Tube(asc.p2, at(0.98, 0.50, 0.50), at(0.85, 0.64, 0.58), 7.0 * s, 6.2 * s, hu,
                "aorta", 0, 0)
    desc = Tube(arch.p2, at(0.45, 0.67, 0.59), at(-0.05, 0.68, 0.59), 6.2 * s, 6.0 * s, hu,
                "aorta", 0, 1)
    return [asc, arch, desc]
