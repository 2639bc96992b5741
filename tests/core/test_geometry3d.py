"""VolumeGeometry: voxel (plane, row, col) <-> patient (x, y, z) mm, checked against DICOM."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.io.geometry3d import VolumeGeometry

TESTDATA = Path(__file__).resolve().parents[2].parent / "shared" / "testdata"


def _oblique_iop(angle_deg: float = 30.0, tilt_deg: float = 20.0) -> np.ndarray:
    """Row and column cosines rotated away from the axes about two axes."""
    a, b = np.radians(angle_deg), np.radians(tilt_deg)
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    rot = rx @ rz
    return np.concatenate([rot @ [1.0, 0, 0], rot @ [0, 1.0, 0]])


def _dicom_pixel_to_world(ipp, iop, pixel_spacing, row, col):
    """PS3.3 C.7.6.2.1.1, written out as the standard states it (independent of the module):
    P = S + X_xyz * Delta_i * i + Y_xyz * Delta_j * j, where i is the column index, j the
    row index, Delta_i = PixelSpacing[1] (column spacing), Delta_j = PixelSpacing[0]."""
    xr, yr, zr, xc, yc, zc = iop
    di, dj = pixel_spacing[1], pixel_spacing[0]
    m = np.array([[xr * di, xc * dj, 0, ipp[0]], [yr * di, yc * dj, 0, ipp[1]],
                  [zr * di, zc * dj, 0, ipp[2]], [0, 0, 0, 1]])
    return (m @ np.array([col, row, 0, 1.0]))[:3]


def test_axis_aligned_example_by_hand():
    g = VolumeGeometry((-100.0, -50.0, 20.0), (2.5, 0.5, 0.8), (1, 0, 0, 0, 1, 0), (10, 64, 80))
    # one column: +x by dx; one row: +y by dy; one plane: +z by dz
    np.testing.assert_allclose(g.voxel_to_world([0, 0, 0]), [-100, -50, 20])
    np.testing.assert_allclose(g.voxel_to_world([0, 0, 1]), [-99.2, -50, 20])
    np.testing.assert_allclose(g.voxel_to_world([0, 1, 0]), [-100, -49.5, 20])
    np.testing.assert_allclose(g.voxel_to_world([1, 0, 0]), [-100, -50, 22.5])
    np.testing.assert_allclose(g.voxel_to_world([[3, 10, 20]]), [[-84.0, -45.0, 27.5]])
    np.testing.assert_allclose(g.world_to_voxel([-84.0, -45.0, 27.5]), [3, 10, 20])
    assert g.slice_normal == (0.0, 0.0, 1.0)
    assert g.extent_mm == (25.0, 32.0, 64.0)


def test_non_square_pixels_follow_the_dicom_formula_on_an_oblique_plane():
    iop = _oblique_iop()
    ipp = (12.5, -230.0, 77.0)
    ps = (0.5, 0.9)  # row spacing, column spacing: distinct so a swap shows
    g = VolumeGeometry(ipp, (3.0, *ps), iop, (4, 30, 40))
    rng = np.random.default_rng(0)
    rc = rng.uniform(0, 30, size=(20, 2))
    ours = g.voxel_to_world(np.column_stack([np.zeros(20), rc]))
    want = np.array([_dicom_pixel_to_world(ipp, iop, ps, r, c) for r, c in rc])
    np.testing.assert_allclose(ours, want, atol=1e-9)
    # the next plane is dz along r x c
    n = np.cross(iop[:3], iop[3:])
    np.testing.assert_allclose(g.voxel_to_world([2, 0, 0]) - g.voxel_to_world([0, 0, 0]),
                               6.0 * n, atol=1e-12)


@pytest.mark.parametrize("normal_sign", [1.0, -1.0])
def test_round_trip_oblique(normal_sign):
    iop = _oblique_iop(50.0, -35.0)
    n = normal_sign * np.cross(iop[:3], iop[3:])
    g = VolumeGeometry((5.0, 6.0, -7.0), (1.25, 0.7, 0.6), iop, (20, 50, 60), n)
    rng = np.random.default_rng(1)
    ijk = rng.uniform(-5, 60, size=(500, 3))
    back = g.world_to_voxel(g.voxel_to_world(ijk))
    np.testing.assert_allclose(back, ijk, atol=1e-9)
    xyz = rng.uniform(-300, 300, size=(100, 3))
    np.testing.assert_allclose(g.voxel_to_world(g.world_to_voxel(xyz)), xyz, atol=1e-9)
    # the affine agrees with voxel_to_world and its inverse with world_to_voxel
    a = g.affine()
    h = np.column_stack([ijk, np.ones(len(ijk))])
    np.testing.assert_allclose((h @ a.T)[:, :3], g.voxel_to_world(ijk), atol=1e-9)
    hw = np.column_stack([xyz, np.ones(len(xyz))])
    np.testing.assert_allclose((hw @ np.linalg.inv(a).T)[:, :3], g.world_to_voxel(xyz),
                               atol=1e-9)
    # a flipped scan direction moves plane 1 the other way
    step = g.voxel_to_world([1, 0, 0]) - g.voxel_to_world([0, 0, 0])
    assert np.dot(step, np.cross(iop[:3], iop[3:])) == pytest.approx(normal_sign * 1.25)


def test_gantry_tilt_step_is_kept():
    # positions step along y and z while the slices are axial: a tilted acquisition
    pos = np.array([[0.0, 0.0, 0.0], [0.0, 0.3, 1.0], [0.0, 0.6, 2.0]])
    g = VolumeGeometry.from_slices(pos, (1, 0, 0, 0, 1, 0), (0.7, 0.7), 8, 8)
    assert g.spacing_mm[0] == pytest.approx(1.0)  # the distance between the planes
    np.testing.assert_allclose(g.voxel_to_world([[0, 0, 0], [1, 0, 0], [2, 0, 0]]), pos,
                               atol=1e-12)
    np.testing.assert_allclose(g.world_to_voxel(pos[2] + [0.7, 1.4, 0]), [2, 2, 1], atol=1e-12)
    # the same geometry from its affine, and through the meta of a study
    np.testing.assert_allclose(VolumeGeometry.from_affine(g.affine(), g.shape).affine(),
                               g.affine(), atol=1e-12)
    np.testing.assert_allclose(VolumeGeometry.from_meta(g.to_meta()).affine(), g.affine())


def test_from_affine_matches_a_sheared_dicom_series_affine():
    """The affine convention of core.io.dicom_series: columns stride, dy*c, dx*r, origin;
    with a tilt the stride is u * d / cos(tilt) and spacing_mm[0] is d."""
    c_dir, r_dir = np.array([0.0, 1.0, 0.0]), np.array([1.0, 0.0, 0.0])
    tilt = np.radians(15.0)
    u = np.array([0.0, np.sin(tilt), np.cos(tilt)])
    d = 2.5
    aff = np.eye(4)
    aff[:3, 0], aff[:3, 1], aff[:3, 2], aff[:3, 3] = u * d / np.cos(tilt), 0.6 * c_dir, \
        0.7 * r_dir, [3.0, 4.0, 5.0]
    g = VolumeGeometry.from_affine(aff, (10, 20, 30))
    assert g.spacing_mm == pytest.approx((d, 0.6, 0.7))
    np.testing.assert_allclose(g.slice_normal, u, atol=1e-12)
    np.testing.assert_allclose(g.affine(), aff, atol=1e-12)
    meta = {"affine": aff.tolist(), "shape": [10, 20, 30], "spacing_mm": [d, 0.6, 0.7],
            "orientation": [1, 0, 0, 0, 1, 0], "origin": [3, 4, 5]}
    np.testing.assert_allclose(VolumeGeometry.from_meta(meta).affine(), aff, atol=1e-12)
    with pytest.raises(ValueError, match="4x4"):
        VolumeGeometry.from_affine(np.eye(3), (1, 1, 1))


def test_contains_and_meta_round_trip():
    g = VolumeGeometry((1, 2, 3), (2.0, 1.0, 1.0), _oblique_iop(), (3, 4, 5), None)
    inside = g.contains(np.array([[0, 0, 0], [2, 3, 4], [-0.5, 3.5, 4.5], [2.6, 0, 0],
                                  [0, -0.51, 0], [1, 1, 5]]))
    assert inside.tolist() == [True, True, True, False, False, False]
    assert g.contains([1, 1, 1]) is True
    assert not g.contains([2.4, 0, 0], margin=0.0)
    meta = json.loads(json.dumps({"series_uid": "1.2.3", **g.to_meta()}))
    g2 = VolumeGeometry.from_meta(meta)
    assert g2 == g
    # older spelling of the origin; slice_normal optional
    legacy = {k: v for k, v in meta.items() if k not in ("origin_mm", "slice_normal")}
    assert VolumeGeometry.from_meta({**legacy, "origin": meta["origin_mm"]}) == g
    assert g.contains_world(g.voxel_to_world([1, 1, 1]))


@pytest.mark.parametrize("kwargs,message", [
    ({"spacing_mm": (0.0, 1, 1)}, "spacing_mm must be positive"),
    ({"orientation": (1, 0, 0, 0.5, 0.866, 0)}, "not orthogonal"),
    ({"orientation": (2, 0, 0, 0, 1, 0)}, "unit vector"),
    ({"orientation": (1, 0, 0)}, "6 finite numbers"),
    ({"shape": (0, 4, 4)}, "positive whole numbers"),
    ({"slice_normal": (1, 0, 0)}, "in the slice plane"),
    ({"origin_mm": (0, float("nan"), 0)}, "finite"),
])
def test_bad_geometry_is_refused_with_a_reason(kwargs, message):
    args = {"origin_mm": (0, 0, 0), "spacing_mm": (1, 1, 1), "orientation": (1, 0, 0, 0, 1, 0),
            "shape": (2, 4, 4), **kwargs}
    with pytest.raises(ValueError, match=message):
        VolumeGeometry(**args)


def test_from_meta_names_missing_keys():
    with pytest.raises(ValueError, match="missing origin_mm, shape"):
        VolumeGeometry.from_meta({"spacing_mm": [1, 1, 1], "orientation": [1, 0, 0, 0, 1, 0]})


def test_real_ct_slices_pixel_positions():
    """The 3 real slices: voxel (k, 0, 0) is the k-th IPP; (k, r, c) follows PS3.3."""
    pydicom = pytest.importorskip("pydicom")
    folder = TESTDATA / "ct_3slice"
    if not folder.is_dir():
        pytest.skip("shared test data absent")
    ds = [pydicom.dcmread(folder / f"0{i}.dcm", stop_before_pixels=True) for i in (1, 2, 3)]
    iop = np.array(ds[0].ImageOrientationPatient, float)
    normal = np.cross(iop[:3], iop[3:])
    ds.sort(key=lambda d: float(np.dot(normal, np.array(d.ImagePositionPatient, float))))
    pos = np.array([d.ImagePositionPatient for d in ds], float)
    ps = [float(v) for v in ds[0].PixelSpacing]
    g = VolumeGeometry.from_slices(pos, iop, ps, ds[0].Rows, ds[0].Columns)
    assert g.shape == (3, 512, 512)
    assert g.spacing_mm[0] == pytest.approx(1.0, abs=1e-5)  # not SliceThickness 1.25
    assert float(ds[0].SliceThickness) == pytest.approx(1.25)
    np.testing.assert_allclose(g.voxel_to_world(np.column_stack([np.arange(3), [0] * 3,
                                                                 [0] * 3])), pos, atol=1e-6)
    for k in range(3):
        for r, c in [(0, 511), (511, 0), (100, 300)]:
            np.testing.assert_allclose(
                g.voxel_to_world([k, r, c]),
                _dicom_pixel_to_world(pos[k], iop, ps, r, c), atol=1e-6)
    # the centre of the last voxel
    np.testing.assert_allclose(g.voxel_to_world([2, 511, 511]),
                               pos[2] + [511 * ps[1], 511 * ps[0], 0], atol=1e-6)
