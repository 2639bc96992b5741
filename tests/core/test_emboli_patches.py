"""Vessel-aligned emboli patches: geometry, augmentation, renderers, dataset."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from core.tasks.emboli.patches import (
    PE_WINDOW,
    EmboliPatchConfig,
    EmboliPatchDataset,
    EmboliPatchSpecs,
    emboli_patch_specs,
    plane_basis,
    to_uint8,
    window_unit,
)
from core.tasks.emboli.patches_render import (
    PLANE_TOLERANCE,
    plane_offsets,
    plane_points,
    render_patches,
    render_planes,
    render_planes_reference,
)

SPACING = (1.25, 0.7, 0.8)  # anisotropic on purpose


def _grid_mm(shape, spacing):
    return np.stack(np.meshgrid(*(np.arange(n) * s for n, s in zip(shape, spacing)),
                                indexing="ij"), -1)


def unit(v):
    v = np.asarray(v, float)
    return v / np.linalg.norm(v)


def smooth_volume(shape=(40, 60, 56), seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    vol = ndimage.gaussian_filter(rng.normal(0, 1, shape), 1.5)
    return (vol / vol.std() * 400 - 200).astype(dtype)


# --------------------------------------------------------------------------- config, specs


def test_config_defaults_make_54_patches():
    cfg = EmboliPatchConfig()
    assert cfg.patches_per_candidate == 54 and cfg.size == 227
    assert cfg.widths_mm == (10.0, 15.0, 20.0) and cfg.window == PE_WINDOW
    # translations: -20 %, 0, +20 % of the width, snapped to whole pixels (45 px)
    np.testing.assert_allclose(cfg.shifts_mm(), np.outer(cfg.widths_mm, [-45, 0, 45]) / 227)
    assert np.all(np.abs(cfg.shifts_mm()) <= 0.2 * np.asarray(cfg.widths_mm)[:, None])
    free = EmboliPatchConfig(snap_translations=False).shifts_mm()
    np.testing.assert_allclose(free, np.outer(cfg.widths_mm, [-0.2, 0, 0.2]))
    # 6 rotations 60° apart; r + 3 is exactly the half turn of r
    cs = cfg.rotations()
    np.testing.assert_allclose(np.degrees(np.arctan2(cs[:, 1], cs[:, 0])) % 360,
                               [0, 60, 120, 180, 240, 300], atol=1e-9)
    np.testing.assert_array_equal(cs[3:], -cs[:3])
    assert EmboliPatchConfig(**cfg.to_dict()) == cfg


@pytest.mark.parametrize("kwargs", [dict(widths_mm=()), dict(widths_mm=(10, -1)),
                                    dict(widths_mm=(10, 10)), dict(n_translations=0),
                                    dict(max_translation=1.0), dict(n_rotations=0),
                                    dict(rotation_span_deg=0), dict(size=4),
                                    dict(window=(100, 0)), dict(max_train_patches=-1)])
def test_config_rejects(kwargs):
    with pytest.raises(ValueError):
        EmboliPatchConfig(**kwargs)


def test_plane_basis_is_orthonormal():
    rng = np.random.default_rng(1)
    axes = np.vstack([np.eye(3), rng.normal(size=(20, 3))])
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    u, v = plane_basis(axes)
    for a, uu, vv in zip(axes, u, v):
        m = np.array([uu, vv, a])
        np.testing.assert_allclose(m @ m.T, np.eye(3), atol=1e-12)
        # v = u x axis in (z, y, x) components, so u x v = -axis there (and (u, v,
        # axis) is right-handed in (x, y, z) order)
        np.testing.assert_allclose(np.cross(uu, vv), -a, atol=1e-12)
    # a vessel along z: the unrotated cross-section is the axial view (rows y, cols x)
    np.testing.assert_allclose(u[0], [0, 0, 1])
    np.testing.assert_allclose(v[0], [0, 1, 0])


def test_specs_order_and_geometry():
    cfg = EmboliPatchConfig()
    ctr = np.array([[10.0, 20.0, 30.0], [5.5, 6.5, 7.5]])
    axes = np.array([[0.0, 0.0, 2.0], [1.0, 1.0, 0.0]])
    specs = emboli_patch_specs([1, 0], ctr, axes, [(1, 1, 1), SPACING], cfg)
    assert len(specs) == 108 and specs.n_items == 2
    np.testing.assert_array_equal(specs.item, np.repeat([0, 1], 54))
    np.testing.assert_array_equal(specs.source, np.repeat([1, 0], 54))
    np.testing.assert_allclose(specs.spacing_mm[:54], np.tile(SPACING, (54, 1)))
    np.testing.assert_allclose(specs.origin_mm[0], ctr[0] * SPACING)
    # width, translation, rotation (fastest)
    w = specs.width_mm[:54].reshape(3, 3, 6)
    assert np.all(w == np.array([10, 15, 20])[:, None, None])
    s = specs.shift_mm[:54].reshape(3, 3, 6)
    np.testing.assert_allclose(s[:, :, 0], cfg.shifts_mm())
    # every basis orthonormal, perpendicular to the axis, v = u x axis
    for p in range(len(specs)):
        a, u, v = specs.axis[p], specs.u[p], specs.v[p]
        assert abs(a @ u) < 1e-12 and abs(a @ v) < 1e-12 and abs(u @ v) < 1e-12
        np.testing.assert_allclose(np.cross(u, a), v, atol=1e-12)
    np.testing.assert_allclose(specs.axis[54], unit([1, 1, 0]))
    # translations move the centre along the axis only
    d = specs.center_mm - specs.origin_mm
    np.testing.assert_allclose(d, specs.shift_mm[:, None] * specs.axis, atol=1e-12)
    np.testing.assert_allclose(specs.center_vox, specs.center_mm / specs.spacing_mm)


def test_specs_subset_and_max_patches():
    ctr = np.array([[10.0, 20.0, 30.0], [5.5, 6.5, 7.5], [8, 8, 8]])
    axes = np.eye(3)
    a = emboli_patch_specs([0, 0, 0], ctr, axes, SPACING, max_patches=10,
                           rng=np.random.default_rng(3))
    b = emboli_patch_specs([0, 0, 0], ctr, axes, SPACING, max_patches=10,
                           rng=np.random.default_rng(3))
    full = emboli_patch_specs([0, 0, 0], ctr, axes, SPACING)
    assert len(a) == 30 and a.n_items == 3
    np.testing.assert_array_equal(np.bincount(a.item), [10, 10, 10])
    for name in ("origin_mm", "shift_mm", "u", "v", "width_mm"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    sub = full.subset([5, 60, 100])
    assert len(sub) == 3 and sub.n_items == 3
    np.testing.assert_array_equal(sub.u, full.u[[5, 60, 100]])


def test_specs_reject_bad_input():
    with pytest.raises(ValueError, match="same length"):
        emboli_patch_specs([0], [[1, 2, 3], [4, 5, 6]], [[1, 0, 0]], SPACING)
    with pytest.raises(ValueError, match="non-zero"):
        emboli_patch_specs([0], [[1, 2, 3]], [[0, 0, 0]], SPACING)
    with pytest.raises(ValueError, match="spacing_mm"):
        emboli_patch_specs([2], [[1, 2, 3]], [[1, 0, 0]], [SPACING, SPACING])
    with pytest.raises(ValueError, match="unit"):
        EmboliPatchSpecs([0], [[0, 0, 0]], [0], [[2, 0, 0]], [[0, 1, 0]], [[0, 0, 1]],
                         [10], [SPACING], [0])


# --------------------------------------------------------------------------- geometry


def test_linear_volume_gives_exact_planes():
    """Trilinear interpolation of a linear volume is exact, so every pixel tells where
    it was sampled: cross(i, j) = g.(c + o_i v + o_j u), long = g.(c + o_i a + o_j u)."""
    shape = (80, 120, 110)
    grad = np.array([3.0, -2.0, 5.0])  # HU per mm along z, y, x
    vol = _grid_mm(shape, SPACING) @ grad
    cfg = EmboliPatchConfig(size=31)
    specs = emboli_patch_specs([0], [[40.0, 60.0, 55.0]], [[0.3, 0.8, -0.5]], SPACING, cfg)
    for planes in (render_planes([vol], specs), render_planes_reference([vol], specs)):
        for p in range(len(specs)):
            o = plane_offsets(31, specs.width_mm[p])
            c = specs.center_mm[p]
            gu, gv, ga = grad @ specs.u[p], grad @ specs.v[p], grad @ specs.axis[p]
            want_cross = grad @ c + o[:, None] * gv + o[None, :] * gu
            want_long = grad @ c + o[:, None] * ga + o[None, :] * gu
            np.testing.assert_allclose(planes[p, 0], want_cross, atol=1e-9)
            np.testing.assert_allclose(planes[p, 1], want_long, atol=1e-9)


def _ball_volume(shape, spacing, centre_mm, radius, fg=400.0, bg=-850.0):
    d = np.linalg.norm(_grid_mm(shape, spacing) - centre_mm, axis=-1)
    return (bg + (fg - bg) * 0.5 * (1 - np.tanh((d - radius) / 0.6))).astype(np.float32)


def _run_lengths(row, level):
    """Length in pixels (sub-pixel, linear crossings) of the part of a 1-D profile
    above ``level`` (one run)."""
    above = np.flatnonzero(row > level)
    i0, i1 = above[0], above[-1]
    left = i0 - (row[i0] - level) / (row[i0] - row[i0 - 1])
    right = i1 + (row[i1] - level) / (row[i1] - row[i1 + 1])
    return right - left


def test_widths_are_millimetres():
    """A ball of radius 3 mm: its diameter is 6 mm * N / width pixels in both planes,
    whatever the spacing and the orientation."""
    radius, n = 3.0, 101
    centre = np.array([20.0, 21.0, 19.0])
    vol = _ball_volume((34, 60, 50), SPACING, centre, radius)
    cfg = EmboliPatchConfig(widths_mm=(10.0, 20.0), n_translations=1, n_rotations=2,
                            size=n)
    specs = emboli_patch_specs([0], [centre / SPACING], [[0.2, 0.9, 0.4]], SPACING, cfg)
    planes = render_planes([vol], specs)
    mid = (n - 1) // 2
    for p in range(len(specs)):
        want = 2 * radius * n / specs.width_mm[p]
        for plane in planes[p]:
            for profile in (plane[mid], plane[:, mid]):
                assert abs(_run_lengths(profile, -225.0) - want) < 0.3 * n / 10, p
    # the same ball spans twice the pixels at 10 mm as at 20 mm
    assert abs(_run_lengths(planes[0, 0, mid], -225) / _run_lengths(planes[2, 0, mid], -225)
               - 2.0) < 0.02


def test_translations_move_along_the_axis():
    """A ball on the axis, 2 mm ahead of the candidate: in the longitudinal plane it
    sits 2 mm below the centre at shift 0, and the shifted patches see it move up by
    exactly their shift."""
    n = 121
    axis = unit([0.4, -0.3, 0.85])
    cand = np.array([20.0, 21.0, 22.0])
    ball = cand + 2.0 * axis
    vol = _ball_volume((36, 62, 56), SPACING, ball, 1.5)
    cfg = EmboliPatchConfig(widths_mm=(15.0,), n_rotations=1, size=n)
    specs = emboli_patch_specs([0], [cand / SPACING], [axis], SPACING, cfg)
    planes = render_planes([vol], specs)
    pitch = 15.0 / n
    rows = []
    for p in range(3):
        col = planes[p, 1][:, (n - 1) // 2]
        w = np.clip(col - col.min(), 0, None) ** 2
        rows.append((w * np.arange(n)).sum() / w.sum())
        want = (n - 1) / 2 + (2.0 - specs.shift_mm[p]) / pitch
        assert abs(rows[-1] - want) < 1.0, (p, rows[-1], want)  # 0.12 mm
    # relative to the unshifted patch the ball moves by exactly the shift
    np.testing.assert_allclose(np.array(rows) - rows[1], -specs.shift_mm[:3] / pitch,
                               atol=0.01)
    np.testing.assert_allclose(specs.shift_mm[:3] / pitch, [-24, 0, 24])  # 0.2 * 121
    # the cross-sections: the one at the ball is brightest
    assert specs.shift_mm[2] > 0 and planes[2, 0].max() > planes[0, 0].max()


def _centroid(img):
    w = np.clip(img - np.median(img), 0, None) ** 2
    r, c = np.indices(img.shape)
    return (w * r).sum() / w.sum(), (w * c).sum() / w.sum()


def test_rotations_about_the_axis():
    """A small ball 3 mm off the axis along u0 (rotation 0's column direction): the
    cross-section shows it at angle -theta (it turns with the rotation); the
    longitudinal plane passes through it only at 0° (right of the axis) and 180°
    (left, mirrored)."""
    n = 101
    axis = unit([0.2, 0.5, -0.8])
    cand = np.array([22.0, 20.0, 21.0])
    u0, v0 = plane_basis(axis[None])
    vol = _ball_volume((36, 62, 56), SPACING, cand + 3.0 * u0[0], 1.0)
    cfg = EmboliPatchConfig(widths_mm=(12.0,), n_translations=1, size=n)
    specs = emboli_patch_specs([0], [cand / SPACING], [axis], SPACING, cfg)
    planes = render_planes([vol], specs)
    pitch, mid = 12.0 / n, (n - 1) / 2
    for r, theta in enumerate(np.deg2rad(np.arange(0, 360, 60))):
        row, col = _centroid(planes[r, 0])
        assert abs(col - (mid + 3.0 * np.cos(theta) / pitch)) < 0.5
        assert abs(row - (mid - 3.0 * np.sin(theta) / pitch)) < 0.5
    peak = [planes[r, 1].max() for r in range(6)]
    assert peak[0] > 0 and peak[3] > 0
    assert max(peak[1], peak[2], peak[4], peak[5]) < -600  # lung only
    assert _centroid(planes[0, 1])[1] > mid + 20 and _centroid(planes[3, 1])[1] < mid - 20
    # half turns are exact permutations: cross turned by 180°, long mirrored
    np.testing.assert_array_equal(planes[3, 0], planes[0, 0][::-1, ::-1])
    ref = render_planes_reference([vol], specs)
    np.testing.assert_allclose(ref[3, 0], ref[0, 0][::-1, ::-1], atol=1e-9)
    np.testing.assert_allclose(ref[3, 1], ref[0, 1][:, ::-1], atol=1e-9)


def test_planes_share_their_middle_row():
    vol = smooth_volume()
    specs = emboli_patch_specs([0], [[20, 30, 28]], [[1, 2, 3]], SPACING,
                               EmboliPatchConfig(size=33, n_translations=1))
    pts = plane_points(specs)
    np.testing.assert_allclose(pts[:, 0, 16], pts[:, 1, 16], atol=1e-12)
    planes = render_planes([vol], specs)
    np.testing.assert_allclose(planes[:, 0, 16], planes[:, 1, 16], atol=1e-9)


# --------------------------------------------------------------------------- renderers


@pytest.mark.parametrize("dtype", [np.float32, np.int16])
def test_batched_equals_per_patch(dtype):
    """All patches of several candidates (one near a corner: edge voxels repeat), the
    defaults at 227 px for one candidate, a free-translation config, shuffled indices
    with repeats, int16 and float32 volumes, two sources of different spacing."""
    vols = [smooth_volume(dtype=dtype), smooth_volume((30, 50, 64), seed=1, dtype=dtype)]
    spacings = [SPACING, (0.9, 0.75, 0.75)]
    ctr = [[20, 30, 28], [1.0, 2.0, 54.5], [15, 25, 30]]
    axes = [[1, 2, 3], [0, 0, 1], [0.5, -0.2, 0.1]]
    for cfg in (EmboliPatchConfig(size=45),
                EmboliPatchConfig(size=40, snap_translations=False, n_rotations=5,
                                  widths_mm=(7.0, 25.0))):
        specs = emboli_patch_specs([0, 0, 1], ctr, axes, spacings, cfg)
        rng = np.random.default_rng(0)
        idx = np.concatenate([rng.permutation(len(specs)), [3, 3, 70]])
        a = render_planes(vols, specs, idx)
        b = render_planes_reference(vols, specs, idx)
        err = np.abs(window_unit(a) - window_unit(b)).max()
        assert err < 1e-9 < PLANE_TOLERANCE
        assert a.shape == (len(idx), 2, cfg.size, cfg.size)
    full = emboli_patch_specs([0], [ctr[0]], [axes[0]], SPACING)
    a, b = render_planes(vols, full), render_planes_reference(vols, full)
    assert np.abs(window_unit(a) - window_unit(b)).max() < 1e-9


def test_uint8_channels_and_window():
    vol = smooth_volume()
    specs = emboli_patch_specs([0], [[20, 30, 28]], [[1, 2, 3]], SPACING,
                               EmboliPatchConfig(size=45))
    planes = render_planes_reference([vol], specs)
    grey = render_patches([vol], specs)
    assert grey.shape == (54, 45, 45, 3) and grey.dtype == np.uint8
    np.testing.assert_array_equal(grey, to_uint8(planes))
    # channels: (cross, long, long)
    np.testing.assert_array_equal(grey[..., 1], grey[..., 2])
    assert not np.array_equal(grey[..., 0], grey[..., 1])
    lo, width = PE_WINDOW[0] - PE_WINDOW[1] / 2, PE_WINDOW[1]
    want = np.rint(np.clip((planes[:, 0] - lo) / width, 0, 1) * 255)
    np.testing.assert_array_equal(grey[..., 0], want)
    # PE window: -250 HU and below black, 450 HU and above white, 100 HU mid-grey
    hu = np.array([-1000.0, -250.0, 100.0, 450.0, 900.0])
    g = to_uint8(np.stack([hu, hu])[None, :, None, :])
    np.testing.assert_array_equal(g[0, 0, :, 0], [0, 0, 128, 255, 255])
    with pytest.raises(ValueError, match="planes"):
        to_uint8(np.zeros((2, 3, 4, 4)))


# --------------------------------------------------------------------------- dataset


def test_dataset_duck_type_and_determinism():
    vols = [smooth_volume(), smooth_volume(seed=2)]
    specs = emboli_patch_specs([0, 1, 1], [[20, 30, 28], [10, 20, 20], [25, 35, 30]],
                               [[1, 2, 3], [0, 1, 0], [1, 0, 0]], SPACING,
                               EmboliPatchConfig(size=33))
    ds = EmboliPatchDataset.from_candidates(vols, specs, [1, 0, 0], [7, 8, 8])
    assert len(ds) == 162 and ds.size == 33
    np.testing.assert_array_equal(ds.labels[:54], 1)
    np.testing.assert_array_equal(ds.groups[54:], 8)
    np.testing.assert_array_equal(ds.items, specs.item)
    idx = np.array([100, 3, 57, 3, 161])
    x = ds.batch(idx)
    assert x.shape == (5, 33, 33, 3) and x.dtype == np.uint8
    np.testing.assert_array_equal(x, ds.batch(idx))  # same pixels every time
    np.testing.assert_array_equal(x[1], x[3])
    np.testing.assert_array_equal(x, ds.batch(np.arange(162))[idx])
    np.testing.assert_array_equal(x, to_uint8(render_planes_reference(vols, specs, idx)))
    sub = ds.subset(idx)
    assert len(sub) == 5
    np.testing.assert_array_equal(sub.batch(np.arange(5)), x)
    np.testing.assert_array_equal(sub.labels, ds.labels[idx])
    assert ds.planes(idx).shape == (5, 2, 33, 33)
    assert ds.batch(np.zeros(0, np.int64)).shape == (0, 33, 33, 3)


def test_dataset_rejects_bad_input():
    specs = emboli_patch_specs([1], [[5, 5, 5]], [[1, 0, 0]], SPACING,
                               EmboliPatchConfig(size=17))
    n = len(specs)
    vol = smooth_volume((12, 12, 12))
    with pytest.raises(ValueError, match="beyond"):
        EmboliPatchDataset([vol], specs, np.zeros(n), np.zeros(n), np.zeros(n))
    with pytest.raises(ValueError, match="real"):
        EmboliPatchDataset([vol, vol[0]], specs, np.zeros(n), np.zeros(n), np.zeros(n))
    with pytest.raises(ValueError, match="labels"):
        EmboliPatchDataset([vol, vol], specs, np.zeros(n - 1), np.zeros(n), np.zeros(n))
    with pytest.raises(ValueError, match="candidate labels"):
        EmboliPatchDataset.from_candidates([vol, vol], specs, [0, 1], [0])
