"""The direction of the vessel at an emboli candidate (SPEC §1.5).

The vessel-aligned patches of :mod:`core.tasks.emboli.patches` need the local axis of
the pulmonary artery that holds a candidate. A contrast-filled artery is a bright tube:
the Hessian of the Gaussian-smoothed volume has two large negative eigenvalues across
the tube and one near zero along it, so the axis is the eigenvector of the eigenvalue
of smallest magnitude (Frangi et al., "Multiscale vessel enhancement filtering", MICCAI
1998; Sato et al., MedIA 1998). Tajbakhsh et al. (MICCAI 2015; TMI 2016, §III-C) align
their planes with the vessel the same way, as eigen-analysis of the candidate's
neighbourhood.

Method (:func:`vessel_axis_info`):

1. For every scale ``sigma`` of ``scale_mm`` (mm), the Hessian of the volume smoothed by
   an anisotropic Gaussian of ``sigma`` mm (``sigma / spacing`` voxels per axis) is
   evaluated *at the candidate* (:func:`hessian_at`): the volume near the candidate is
   contracted with separable sampled Gaussian-derivative kernels written in mm, so the
   entries are in HU/mm² whatever the spacing, and a fractional centre is exact (the
   kernels are evaluated at the voxels' offsets from it). Each derivative kernel is
   corrected to be exact on quadratics (sampling and truncation otherwise bias it, and
   a kernel that is not exactly blind to a constant lets the -850 HU lung leak in).
   A few milliseconds per candidate, no filtering of the whole volume. Averaging the Hessian over a
   Gaussian neighbourhood of width ``rho`` equals the Hessian at scale
   ``sqrt(sigma² + rho²)``: the set of scales is also the set of neighbourhoods.
2. Eigenvalues ordered by magnitude ``|l1| <= |l2| <= |l3|``. A scale is *tube-like*
   when ``l2`` and ``l3`` have the same sign (a bright tube, or the dark tube of an
   elongated clot, which runs along the same axis) and ``|l1| <= max_ratio * |l2|``.
   Its strength is the scale-normalised ``sigma² (|l2| - |l1|)`` in HU (Lindeberg's
   normalisation: a tube of radius ``r`` responds most near ``sigma = r / sqrt(2)``),
   at least ``min_strength_hu``.
   The axis is ``e1`` at the strongest tube-like scale (``method="hessian"``).
3. No tube-like scale (a bifurcation, a blob, a flat region): fall back to the principal
   axis (PCA) of the thresholded vessel mask ``hu >= vessel_hu`` inside a ball of
   ``radius_mm``, the connected component nearest the candidate (``method="pca"``);
   if that mask is too small too, ``e1`` of the strongest scale anyway
   (``method="weak"``).

Conventions: ``center_vox`` is (plane, row, col) = (z, y, x) in voxel-index units,
``spacing_mm`` = (dz, dy, dx). The axis returned is a unit vector in **physical
(z, y, x) millimetres**: the voxel-index axes scaled to mm (a step of ``axis * t`` mm is
``axis * t / spacing_mm`` voxels). It is not the patient (LPS) frame; rotate it with the
volume's orientation cosines for that. Its sign is fixed: the component of largest
magnitude is positive (ties: the first in z, y, x order).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

DEFAULT_SCALES_MM = (1.0, 1.5, 2.5, 4.0, 6.0)
"""Hessian scales in mm: responds best to arteries of radius ~1.4 to ~8.5 mm (segmental
to lobar), ``radius ≈ sqrt(2) sigma``."""
KERNEL_TRUNCATE = 4.0  # Gaussian kernels cut at 4 sigma (scipy's default)
MIN_MASK_VOXELS = 8


@dataclass(frozen=True)
class VesselAxis:
    """The vessel direction at one candidate and how it was found.

    Attributes
    ----------
    axis : (3,) float64
        Unit vector in physical (z, y, x) mm, sign fixed (largest component > 0).
    method : str
        ``"hessian"``, ``"pca"`` (mask fallback) or ``"weak"`` (neither criterion met;
        the strongest scale's smallest-magnitude eigenvector).
    scale_mm : float
        The Hessian scale used (``nan`` for ``"pca"``).
    eigenvalues : (3,) float64
        Hessian eigenvalues at that scale ordered by magnitude, HU/mm² (``nan`` for
        ``"pca"``); for ``"pca"`` see ``mask_voxels``.
    strength : float
        ``sigma² (|l2| - |l1|)`` in HU at that scale (0 for ``"pca"``).
    mask_voxels : int
        Voxels of the mask component the PCA used (0 when no PCA ran).
    """

    axis: np.ndarray
    method: str
    scale_mm: float
    eigenvalues: np.ndarray
    strength: float
    mask_voxels: int = 0


def _check(hu, center_vox, spacing_mm) -> tuple[np.ndarray, np.ndarray]:
    if getattr(hu, "ndim", 0) != 3:
        raise ValueError(f"hu must be a (Z, Y, X) volume, got shape {np.shape(hu)}")
    c = np.asarray(center_vox, np.float64).reshape(-1)
    s = np.asarray(spacing_mm, np.float64).reshape(-1)
    if c.shape != (3,) or not np.all(np.isfinite(c)):
        raise ValueError(f"center_vox must be 3 finite numbers (z, y, x), got {center_vox!r}")
    if s.shape != (3,) or not np.all(np.isfinite(s)) or np.any(s <= 0):
        raise ValueError(f"spacing_mm must be 3 positive numbers (dz, dy, dx), got "
                         f"{spacing_mm!r}")
    if np.any(c < -0.5) or np.any(c > np.asarray(hu.shape) - 0.5):
        raise ValueError(f"center_vox {tuple(c)} is outside the volume of shape {hu.shape}")
    return c, s


def canonical_sign(v) -> np.ndarray:
    """``v`` (..., 3) with each vector's largest-magnitude component made positive
    (ties: the first); a direction has no sign, this fixes one deterministically."""
    v = np.asarray(v, np.float64)
    k = np.argmax(np.abs(v), axis=-1)
    s = np.sign(np.take_along_axis(v, k[..., None], axis=-1))
    return v * np.where(s == 0, 1.0, s)


def _kernels(c: float, s: float, sigma: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Voxel indices (clipped to ``[0, n)``) and the (3, m) kernels of orders 0, 1, 2 at
    centre ``c`` (voxels), spacing ``s`` and scale ``sigma`` (mm), in mm units."""
    half = max(1, int(np.ceil(KERNEL_TRUNCATE * sigma / s)))
    base = int(np.floor(c))
    pos = np.arange(base - half, base + half + 2)
    d = (pos - c) * s  # mm from the centre
    g = np.exp(-0.5 * (d / sigma) ** 2)
    g /= g.sum()
    w1 = d / sigma ** 2 * g
    w2 = (d ** 2 / sigma ** 4 - 1 / sigma ** 2) * g
    # Sampled, truncated kernels (and a fractional centre) bias the moments a little:
    # correct each derivative kernel by g (a + b d + c d^2) so that it is exact on
    # 1, d, d^2 (moments 0, 1, 0 for d/dx and 0, 0, 2 for d2/dx2). Above all it makes
    # them blind to a constant, or the -850 HU lung would leak into the derivatives.
    powers = d[None, :] ** np.arange(3)[:, None]  # (3, m): 1, d, d^2
    gram = (powers * g) @ powers.T
    for w, target in ((w1, (0.0, 1.0, 0.0)), (w2, (0.0, 0.0, 2.0))):
        coef = np.linalg.solve(gram, powers @ w - np.asarray(target))
        w -= g * (coef @ powers)
    return np.clip(pos, 0, n - 1), np.stack([g, w1, w2])


def hessian_at(hu: np.ndarray, center_vox, spacing_mm, sigma_mm: float) -> np.ndarray:
    """Hessian of the Gaussian-smoothed volume at one point, in HU/mm².

    Parameters
    ----------
    hu : (Z, Y, X) array
        The volume (any real dtype; HU).
    center_vox : (3,) float
        (z, y, x) in voxel-index units, fractional allowed.
    spacing_mm : (3,) float
        (dz, dy, dx).
    sigma_mm : float
        Gaussian scale in mm (isotropic in mm, so anisotropic in voxels).

    Returns
    -------
    (3, 3) float64
        Second derivatives in (z, y, x) mm order. Borders: voxels beyond the volume
        repeat the edge (scipy's ``mode="nearest"``).
    """
    c, s = _check(hu, center_vox, spacing_mm)
    if not sigma_mm > 0:
        raise ValueError(f"sigma_mm must be > 0, got {sigma_mm}")
    (iz, kz), (iy, ky), (ix, kx) = (_kernels(c[a], s[a], float(sigma_mm), hu.shape[a])
                                    for a in range(3))
    f = np.asarray(hu[np.ix_(iz, iy, ix)], np.float64)
    t = np.einsum("zyx,cx->zyc", f, kx)
    t = np.einsum("zyc,by->zbc", t, ky)
    t = np.einsum("zbc,az->abc", t, kz)  # t[a, b, c]: d^a/dz^a d^b/dy^b d^c/dx^c
    return np.array([[t[2, 0, 0], t[1, 1, 0], t[1, 0, 1]],
                     [t[1, 1, 0], t[0, 2, 0], t[0, 1, 1]],
                     [t[1, 0, 1], t[0, 1, 1], t[0, 0, 2]]])


def _eig_by_magnitude(h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lam, vec = np.linalg.eigh(h)
    order = np.argsort(np.abs(lam), kind="stable")
    return lam[order], vec[:, order]


def mask_axis(hu: np.ndarray, center_vox, spacing_mm, *, radius_mm: float = 6.0,
              vessel_hu: float = 150.0) -> tuple[np.ndarray | None, int]:
    """Principal axis of the local vessel mask (the fallback of :func:`vessel_axis`).

    The mask is ``hu >= vessel_hu`` inside the ball of ``radius_mm`` around the
    candidate; of its 26-connected components, the one nearest the candidate (in mm)
    is kept, and the eigenvector of the largest eigenvalue of its voxels' covariance
    (positions in mm) is the axis.

    Returns
    -------
    axis : (3,) float64 or None
        Unit vector, physical (z, y, x) mm, sign fixed as :func:`canonical_sign`; None
        when the component has fewer than ``MIN_MASK_VOXELS`` voxels.
    n_voxels : int
        Voxels of the component used.
    """
    c, s = _check(hu, center_vox, spacing_mm)
    if not radius_mm > 0:
        raise ValueError(f"radius_mm must be > 0, got {radius_mm}")
    half = np.ceil(radius_mm / s).astype(int)
    lo = np.maximum(np.floor(c).astype(int) - half, 0)
    hi = np.minimum(np.floor(c).astype(int) + half + 2, hu.shape)
    box = np.asarray(hu[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]])
    grid = np.stack(np.meshgrid(*(np.arange(a, b) for a, b in zip(lo, hi)), indexing="ij"),
                    axis=-1)
    rel = (grid - c) * s  # mm from the candidate
    dist = np.sqrt((rel ** 2).sum(-1))
    mask = (box >= vessel_hu) & (dist <= radius_mm)
    labels, n = ndimage.label(mask, structure=np.ones((3, 3, 3), bool))
    if n == 0:
        return None, 0
    nearest = ndimage.minimum(dist, labels, index=np.arange(1, n + 1))
    pts = rel[labels == int(np.argmin(nearest)) + 1]
    if len(pts) < MIN_MASK_VOXELS:
        return None, len(pts)
    lam, vec = np.linalg.eigh(np.cov(pts, rowvar=False))
    return canonical_sign(vec[:, -1]), len(pts)


def vessel_axis_info(hu: np.ndarray, center_vox, spacing_mm, *,
                     scale_mm=DEFAULT_SCALES_MM, radius_mm: float = 6.0,
                     vessel_hu: float = 150.0, max_ratio: float = 0.5,
                     min_strength_hu: float = 20.0) -> VesselAxis:
    """The vessel direction at ``center_vox``, with how it was found (module docstring).

    Parameters
    ----------
    hu : (Z, Y, X) array
        CT volume in HU (float32 or int16).
    center_vox : (3,) float
        Candidate centre (z, y, x) in voxel-index units.
    spacing_mm : (3,) float
        (dz, dy, dx) in mm.
    scale_mm : float or sequence of float
        Hessian scales (Gaussian sigma, mm); empty: PCA only.
    radius_mm : float
        Radius of the ball of the PCA fallback, mm.
    vessel_hu : float
        Threshold of the fallback's vessel mask (contrast-filled lumen), HU.
    max_ratio : float
        Largest ``|l1| / |l2|`` of a tube-like Hessian (0 < max_ratio < 1).
    min_strength_hu : float
        Smallest strength ``sigma² (|l2| - |l1|)`` (HU) of a tube: below it the
        "tube" is noise or a flat region (a contrast-filled artery in lung gives
        hundreds).
    """
    c, s = _check(hu, center_vox, spacing_mm)
    scales = tuple(float(v) for v in np.atleast_1d(np.asarray(scale_mm, np.float64)))
    if any(not v > 0 or not np.isfinite(v) for v in scales):
        raise ValueError(f"scale_mm must be positive, finite numbers, got {scale_mm!r}")
    if not 0 < max_ratio < 1:
        raise ValueError(f"max_ratio must be in (0, 1), got {max_ratio}")
    best, best_any = None, None
    for sigma in scales:
        lam, vec = _eig_by_magnitude(hessian_at(hu, c, s, sigma))
        strength = sigma ** 2 * (abs(lam[1]) - abs(lam[0]))
        cand = (strength, sigma, lam, vec[:, 0])
        if best_any is None or strength > best_any[0]:
            best_any = cand
        tube = (lam[1] * lam[2] > 0 and abs(lam[0]) <= max_ratio * abs(lam[1])
                and strength >= min_strength_hu)
        if tube and (best is None or strength > best[0]):
            best = cand
    if best is not None:
        return VesselAxis(canonical_sign(best[3]), "hessian", best[1], best[2],
                          float(best[0]))
    axis, n_vox = mask_axis(hu, c, s, radius_mm=radius_mm, vessel_hu=vessel_hu)
    if axis is not None:
        return VesselAxis(axis, "pca", float("nan"), np.full(3, np.nan), 0.0, n_vox)
    if best_any is None:  # no scales and no mask: nothing to go on
        return VesselAxis(np.array([1.0, 0.0, 0.0]), "weak", float("nan"),
                          np.full(3, np.nan), 0.0, n_vox)
    return VesselAxis(canonical_sign(best_any[3]), "weak", best_any[1], best_any[2],
                      float(best_any[0]), n_vox)


def vessel_axis(hu: np.ndarray, center_vox, spacing_mm, *, scale_mm=DEFAULT_SCALES_MM,
                radius_mm: float = 6.0, vessel_hu: float = 150.0, max_ratio: float = 0.5,
                min_strength_hu: float = 20.0) -> np.ndarray:
    """Unit (3,) vessel direction at ``center_vox`` in physical (z, y, x) mm.

    See :func:`vessel_axis_info` (same parameters) for the method and the fallbacks.
    """
    return vessel_axis_info(hu, center_vox, spacing_mm, scale_mm=scale_mm,
                            radius_mm=radius_mm, vessel_hu=vessel_hu,
                            max_ratio=max_ratio, min_strength_hu=min_strength_hu).axis


def vessel_axes(hu: np.ndarray, centers_vox, spacing_mm, **kwargs) -> np.ndarray:
    """(K, 3) float64 axes of ``K`` candidates of one volume (:func:`vessel_axis`)."""
    ctr = np.asarray(centers_vox, np.float64).reshape(-1, 3)
    out = np.empty((len(ctr), 3))
    for k, c in enumerate(ctr):
        out[k] = vessel_axis(hu, c, spacing_mm, **kwargs)
    return out
