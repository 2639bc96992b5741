"""Vessel direction at a candidate (core.tasks.emboli.vessel) on synthetic tubes."""

from __future__ import annotations

import numpy as np
import pytest

from core.tasks.emboli.vessel import (
    canonical_sign,
    hessian_at,
    mask_axis,
    vessel_axes,
    vessel_axis,
    vessel_axis_info,
)

LUNG, LUMEN = -850.0, 350.0


def _grid_mm(shape, spacing, origin_mm):
    axes = [np.arange(n) * s for n, s in zip(shape, spacing)]
    return np.stack(np.meshgrid(*axes, indexing="ij"), -1) - np.asarray(origin_mm)


def _profile(d, r):
    """Bright lumen of radius r mm with a soft (partial-volume-like) wall."""
    return (LUNG + (LUMEN - LUNG) * 0.5 * (1 - np.tanh((d - r) / 0.4))).astype(np.float32)


def straight_tube(spacing, direction, radius, size_mm=40.0, centre_mm=(20.3, 19.7, 20.1)):
    shape = tuple(int(round(size_mm / s)) for s in spacing)
    a = np.asarray(direction, float) / np.linalg.norm(direction)
    g = _grid_mm(shape, spacing, centre_mm)
    d = np.linalg.norm(g - (g @ a)[..., None] * a, axis=-1)
    return _profile(d, radius), np.asarray(centre_mm) / np.asarray(spacing), a


def angle_deg(a, b) -> float:
    """Angle between two directions (sign ignored)."""
    cos = abs(float(np.dot(a, b))) / (np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.degrees(np.arccos(min(1.0, cos))))


DIRECTIONS = [(1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 1), (0.3, 0.8, -0.5), (0.1, -0.2, 1)]


@pytest.mark.parametrize("spacing", [(1.0, 0.8, 0.8), (1.25, 0.7, 0.7), (0.6, 0.6, 0.6)])
@pytest.mark.parametrize("radius", [1.5, 3.0, 6.0])
def test_straight_tubes_in_several_orientations(spacing, radius):
    for direction in DIRECTIONS:
        hu, centre, a = straight_tube(spacing, direction, radius)
        info = vessel_axis_info(hu, centre, spacing)
        assert info.method == "hessian"
        assert angle_deg(info.axis, a) < 1.0, (direction, info)
        assert np.isclose(np.linalg.norm(info.axis), 1.0)
        # two large negative eigenvalues across a bright tube, one near zero along it
        lam = info.eigenvalues
        assert lam[1] < 0 and lam[2] < 0 and abs(lam[0]) < 0.2 * abs(lam[1])


def test_thick_slices_large_vessel():
    """2.5 mm slices, 4-6 mm radius: still within a few degrees."""
    for direction in DIRECTIONS[3:]:
        for radius in (4.0, 6.0):
            hu, centre, a = straight_tube((2.5, 0.6, 0.6), direction, radius)
            assert angle_deg(vessel_axis(hu, centre, (2.5, 0.6, 0.6)), a) < 3.0


def torus_tube(spacing, normal, big_r, radius, size_mm=44.0):
    """A tube bent into a circle of radius ``big_r`` mm in the plane of ``normal``;
    returns the volume, the candidate (on the circle) in voxels and the tangent there."""
    shape = tuple(int(round(size_mm / s)) for s in spacing)
    n = np.asarray(normal, float) / np.linalg.norm(normal)
    e1 = np.cross(n, [1.0, 0, 0]) if abs(n[0]) < 0.9 else np.cross(n, [0, 1.0, 0])
    e1 /= np.linalg.norm(e1)
    p = np.full(3, size_mm / 2)
    g = _grid_mm(shape, spacing, p - big_r * e1)
    h = g @ n
    q = g - h[..., None] * n
    d = np.sqrt((np.linalg.norm(q, axis=-1) - big_r) ** 2 + h ** 2)
    return _profile(d, radius), p / np.asarray(spacing), np.cross(n, e1)


@pytest.mark.parametrize("spacing", [(1.0, 0.8, 0.8), (1.25, 0.7, 0.7)])
def test_curved_tube(spacing):
    for normal in [(0.2, 0.3, 1.0), (1, 0.5, -0.3), (0, 1, 0)]:
        for big_r, radius in [(10, 2), (15, 3), (25, 4)]:
            hu, centre, tangent = torus_tube(spacing, normal, big_r, radius)
            info = vessel_axis_info(hu, centre, spacing)
            assert info.method == "hessian"
            assert angle_deg(info.axis, tangent) < 2.0, (normal, big_r, info)
            # the mask fallback, on its own, is also close
            axis, n_vox = mask_axis(hu, centre, spacing)
            assert n_vox > 50 and angle_deg(axis, tangent) < 3.0


def test_embolus_in_the_tube_does_not_turn_the_axis():
    """A dark clot (40 HU) filling the middle of the lumen at the candidate."""
    spacing = (1.25, 0.7, 0.7)
    for direction in [(0.3, 0.8, -0.5), (1, 1, 1), (0, 0, 1)]:
        for radius in (2.0, 4.0):
            hu, centre, a = straight_tube(spacing, direction, radius)
            g = _grid_mm(hu.shape, spacing, centre * np.asarray(spacing))
            hu[np.linalg.norm(g, axis=-1) < 0.7 * radius] = 40.0
            assert angle_deg(vessel_axis(hu, centre, spacing), a) < 2.0


def test_hessian_units_and_anisotropic_spacing():
    """f = 1/2 x^T A x (x in mm): the Hessian is A in HU/mm^2 whatever the spacing
    (Gaussian smoothing adds a constant to a quadratic, nothing to its curvature)."""
    a_mm = np.array([[4.0, 1.0, -0.5], [1.0, -3.0, 0.7], [-0.5, 0.7, 2.0]])
    for spacing in [(1.0, 1.0, 1.0), (2.5, 0.6, 0.8)]:
        shape = (40, 60, 50)
        c = np.array([19.4, 30.2, 24.7])
        g = _grid_mm(shape, spacing, c * np.asarray(spacing))
        f = 0.5 * np.einsum("...i,ij,...j->...", g, a_mm, g)
        for sigma in (1.5, 3.0):
            np.testing.assert_allclose(hessian_at(f, c, spacing, sigma), a_mm, atol=1e-6)
    # a constant gives nothing even at a scale far below the slice spacing
    flat = np.full((10, 10, 10), -850.0)
    assert np.abs(hessian_at(flat, (5, 5, 5), (2.5, 0.7, 0.7), 0.5)).max() < 1e-9


def test_blob_is_not_a_tube_and_falls_back():
    spacing = (1.0, 0.8, 0.8)
    shape = (40, 50, 50)
    c = np.array([20.0, 25.0, 25.0])
    g = _grid_mm(shape, spacing, c * np.asarray(spacing))
    hu = _profile(np.linalg.norm(g, axis=-1), 4.0)
    info = vessel_axis_info(hu, c, spacing)
    assert info.method == "pca" and info.mask_voxels > 100
    assert np.isclose(np.linalg.norm(info.axis), 1.0)
    # nothing bright at all: neither a tube nor a mask
    empty = np.full(shape, LUNG, np.float32)
    assert vessel_axis_info(empty, c, spacing).method == "weak"


def test_pca_only_when_no_scales():
    spacing = (1.25, 0.7, 0.7)
    hu, centre, a = straight_tube(spacing, (0.3, 0.8, -0.5), 2.5)
    info = vessel_axis_info(hu, centre, spacing, scale_mm=())
    assert info.method == "pca" and np.isnan(info.scale_mm)
    assert angle_deg(info.axis, a) < 2.0


def test_sign_and_batch():
    spacing = (1.0, 0.8, 0.8)
    hu, centre, a = straight_tube(spacing, (-0.2, -0.9, 0.3), 3.0)
    axis = vessel_axis(hu, centre, spacing)
    assert axis[np.argmax(np.abs(axis))] > 0  # largest component positive
    np.testing.assert_allclose(canonical_sign(-axis), axis)
    both = vessel_axes(hu, [centre, centre + [0.0, 0.5, -0.3]], spacing)
    assert both.shape == (2, 3)
    np.testing.assert_array_equal(both[0], axis)
    assert angle_deg(both[1], a) < 1.0
    # deterministic
    np.testing.assert_array_equal(vessel_axis(hu, centre, spacing), axis)


def test_bad_input():
    hu = np.zeros((10, 10, 10), np.float32)
    with pytest.raises(ValueError, match="outside the volume"):
        vessel_axis(hu, (5, 5, 20), (1, 1, 1))
    with pytest.raises(ValueError, match="spacing_mm"):
        vessel_axis(hu, (5, 5, 5), (1, 0, 1))
    with pytest.raises(ValueError, match="hu must be"):
        vessel_axis(hu[0], (5, 5, 5), (1, 1, 1))
    with pytest.raises(ValueError, match="scale_mm"):
        vessel_axis(hu, (5, 5, 5), (1, 1, 1), scale_mm=(1.0, -2.0))
    with pytest.raises(ValueError, match="max_ratio"):
        vessel_axis(hu, (5, 5, 5), (1, 1, 1), max_ratio=1.5)
