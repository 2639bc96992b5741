"""Emboli and lymph-node look-alikes of the synthetic CTPA (placement, in grid mm).

An embolus is a filling defect inside the lumen of one pulmonary artery branch: an
ellipsoid elongated along the vessel (half-length 1.5-3 vessel radii, at most a quarter of
the branch), clot of 30-70 HU replacing the contrast where the ellipsoid and the lumen
overlap. Two kinds, as radiologists describe acute emboli:

* ``"occluding"``: wider than the lumen (1.25 radii), so it fills the whole cross-section
  over its length (a cut-off of the contrast column);
* ``"partial"``: 0.6-0.8 of the radius wide, either against the wall (eccentric, a
  crescent of contrast beside it) or, in 30 % of cases, in the middle of the lumen (the
  "polo mint" sign: a ring of contrast around it).

Lymph-node-like blobs are soft-tissue ellipsoids (30-60 HU, 2.5-5 mm) touching the outside
of a larger artery: dark, round and next to bright contrast, as a filling defect is, but
outside the lumen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.synth.ctpa_shapes import Ellipsoid, Grid, Tube, perpendicular, unit

CLOT_HU = (30.0, 70.0)
NODE_HU = (30.0, 60.0)
_MIN_R_OCCLUDING = 1.8  # mm: a narrower vessel holds too few voxels of clot
_MIN_R_PARTIAL = 2.4


@dataclass(frozen=True)
class EmbolusPlan:
    """An embolus in grid mm: its solid, its branch and where along it."""

    shape: Ellipsoid  # axes rows: vessel tangent, then two perpendiculars
    tube: int
    t: float
    kind: str
    hu: float
    vessel_radius_mm: float


def plan_emboli(rng: np.random.Generator, tubes: list[Tube], grid: Grid, n: int
                ) -> list[EmbolusPlan]:
    """Place ``n`` emboli in distinct artery branches of generations 1-6.

    Branches (radius >= 1.8 mm; >= 2.4 mm for a partial embolus) are tried in a random
    order favouring wide ones (probability proportional to r^3); an embolus must lie
    2 mm inside the grid (whole) and clear of the emboli already placed.

    Raises
    ------
    ValueError
        Fewer than ``n`` emboli fit (a volume too small for its tree).
    """
    out: list[EmbolusPlan] = []
    if n <= 0:
        return out
    eligible = [i for i, tb in enumerate(tubes)
                if tb.kind == "artery" and 1 <= tb.generation <= 6
                and min(tb.r0, tb.r1) >= _MIN_R_OCCLUDING]
    hi = grid.extent - 2.0
    if not eligible:
        raise ValueError(f"no artery branch has the {_MIN_R_OCCLUDING} mm radius an embolus "
                         f"needs: the chest spans {grid.extent[2]:.0f} x "
                         f"{grid.extent[1]:.0f} mm; use at least 110 mm (columns x spacing)")
    # Emboli lodge mostly in the larger (lobar, segmental) arteries: try wide ones first.
    w = np.array([tubes[i].r1 ** 3 for i in eligible])
    order = rng.choice(np.asarray(eligible, int), size=len(eligible), replace=False,
                       p=w / w.sum())
    for i in order:
        tb = tubes[int(i)]
        t = float(rng.uniform(0.3, 0.7))
        r = tb.radius(t)
        kind = "occluding" if r < _MIN_R_PARTIAL or rng.random() < 0.4 else "partial"
        half = min(r * rng.uniform(1.5, 3.0), 0.25 * tb.length)
        if half < r:
            continue  # a branch too short for an elongated clot
        tan = tb.tangent(t)
        u = perpendicular(rng, tan)
        axis_pt = tb.point(t)
        if kind == "occluding":
            width, centre = 1.25 * r, axis_pt
        else:
            width = r * rng.uniform(0.6, 0.8)
            off = 0.0 if rng.random() < 0.3 else (r - width) * rng.uniform(0.6, 1.0)
            centre = axis_pt + u * off
        reach = max(half, width) + 2.0
        if np.any(centre - reach < 0) or np.any(centre + reach > hi):
            continue
        if any(np.linalg.norm(centre - e.shape.centre) < half + e.shape.semi[0] + 3.0
               for e in out):
            continue
        axes = np.stack([tan, u, np.cross(tan, u)])
        out.append(EmbolusPlan(Ellipsoid(centre, axes, np.array([half, width, width])),
                               int(i), t, kind, float(rng.uniform(*CLOT_HU)), r))
        if len(out) == n:
            return out
    raise ValueError(f"only {len(out)} emboli fit in this volume, {n} asked: "
                     "use a larger shape or fewer emboli")


def place_nodes(rng: np.random.Generator, tubes: list[Tube], art_cov: np.ndarray, grid: Grid,
                n: int, scale: float) -> list[tuple[Ellipsoid, float]]:
    """Up to ``n`` lymph-node-like blobs (solid, HU) against the outside of large arteries.

    A node's centre lies outside every artery's lumen (coverage < 0.05 there), 2 mm inside
    the grid, and clear of the other nodes.
    """
    big = [i for i, tb in enumerate(tubes)
           if tb.kind == "artery" and tb.generation <= 3 and tb.r1 >= 2.0]
    out: list[tuple[Ellipsoid, float]] = []
    if not big or n <= 0:
        return out
    sp = np.asarray(grid.spacing)
    for _ in range(60 * n):
        tb = tubes[int(rng.choice(big))]
        t = float(rng.uniform(0.2, 0.8))
        rn = float(rng.uniform(2.5, 5.0)) * scale
        tan = tb.tangent(t)
        u = perpendicular(rng, tan)
        centre = tb.point(t) + u * (tb.radius(t) + 0.85 * rn)
        if np.any(centre - rn - 2.0 < 0) or np.any(centre + rn + 2.0 > grid.extent):
            continue
        idx = tuple(np.clip(np.rint(centre / sp).astype(int), 0, np.asarray(grid.shape) - 1))
        if art_cov[idx] >= 0.05:
            continue
        if any(np.linalg.norm(centre - e.centre) < rn + e.semi.max() + 2.0 for e, _ in out):
            continue
        w = unit(np.cross(tan, u))
        semi = np.array([rn * rng.uniform(0.9, 1.4), rn, rn * rng.uniform(0.7, 1.0)])
        out.append((Ellipsoid(centre, np.stack([tan, u, w]), semi), float(rng.uniform(*NODE_HU))))
        if len(out) == n:
            break
    return out
