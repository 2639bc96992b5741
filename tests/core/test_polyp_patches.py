"""Augmented candidate patches of the polyp task: geometry, rendering, scoring (SPEC §1.4)."""

from __future__ import annotations

import itertools
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from core.events import Progress, drain
from core.tasks.polyps.patches import (
    CandidatePatchDataset,
    CandidatePatchSpecs,
    PolypPatchConfig,
    axis_taps,
    box_centers_sides,
    candidate_patch_specs,
    orient,
    render_patches,
    stratified_indices,
    unorient,
)
from core.tasks.polyps.patches_torch import (
    SCORE_TOLERANCE,
    DevicePatchRenderer,
    candidate_scores_per_patch,
    score_candidates,
)
from core.train.model import build_alexnet, initialise
from core.train.predict import predict, to_input

TESTDATA = Path(__file__).resolve().parents[2].parent / "shared" / "testdata" / "kvasir_seg"
CPU = torch.device("cpu")


def coordinate_image(n: int = 256) -> np.ndarray:
    """Channel 0 = row, channel 1 = column, channel 2 = 0: bilinear sampling of it gives
    the sampled coordinate back exactly (it is linear)."""
    r, c = np.mgrid[0:n, 0:n]
    return np.stack([r, c, np.zeros_like(r)], axis=-1).astype(np.uint8)


def reflect101(x: np.ndarray, n: int) -> np.ndarray:
    """Reference reflection about the edge pixels' centres, by repeated folding."""
    x = np.array(x, np.float64)
    for _ in range(10):
        x = np.where(x < 0, -x, x)
        x = np.where(x > n - 1, 2 * (n - 1) - x, x)
    return x


def textured(h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


def small_net(seed: int = 0) -> torch.nn.Module:
    m = build_alexnet(2)
    initialise(m, "msra", torch.Generator().manual_seed(seed))
    torch.nn.init.normal_(m.classifier[6].weight, 0.0, 0.05,
                          generator=torch.Generator().manual_seed(seed + 1))
    return m


# --------------------------------------------------------------------------- config, specs


def test_config_defaults_give_216_patches_and_validate():
    cfg = PolypPatchConfig()
    assert cfg.scales == (1.0, 1.2, 1.5) and cfg.shifts == (-0.1, 0.0, 0.1)
    assert cfg.orientations == 8 and cfg.size == 227
    assert cfg.patches_per_candidate == 216
    assert PolypPatchConfig(**cfg.to_dict()) == cfg
    assert PolypPatchConfig(scales=[1, 2], shifts=[0]).scales == (1.0, 2.0)  # JSON lists
    for bad in ({"scales": ()}, {"scales": (1.0, -1.0)}, {"scales": (1.0, 1.0)},
                {"shifts": (0.0, 1.5)}, {"shifts": (float("nan"),)}, {"orientations": 0},
                {"orientations": 9}, {"size": 4}, {"max_train_patches": -1},
                {"max_test_patches": 2.5}):
        with pytest.raises(ValueError):
            PolypPatchConfig(**bad)


def test_specs_count_scales_and_shifts():
    specs = candidate_patch_specs([3, 5], [[100.0, 120.0], [10.0, 20.0]], [40.0, 10.0])
    assert len(specs) == 432 and specs.n_items == 2
    assert np.array_equal(specs.item, np.repeat([0, 1], 216))
    assert np.array_equal(specs.source, np.repeat([3, 5], 216))
    first = specs.subset(np.arange(216))
    assert sorted(set(first.side)) == pytest.approx([40.0, 48.0, 60.0])
    assert np.array_equal(np.bincount(first.orientation), np.full(8, 27))
    got = set()
    for (r, c), s in zip(first.center, first.side):
        dr, dc = (r - 100.0) / s, (c - 120.0) / s  # shift as a fraction of the resized box
        got.add((round(s, 6), round(dr, 6), round(dc, 6)))
    want = {(round(40.0 * k, 6), dr, dc) for k in (1.0, 1.2, 1.5)
            for dr in (-0.1, 0.0, 0.1) for dc in (-0.1, 0.0, 0.1)}
    assert got == want
    # orientation is the fastest index: runs of 8 share one base patch
    assert np.array_equal(first.orientation[:16], np.tile(np.arange(8), 2))
    assert len(np.unique(first.center[:8], axis=0)) == 1


def test_specs_custom_config_and_subsampling_is_fixed_by_the_rng():
    cfg = PolypPatchConfig(scales=(1.0,), shifts=(-0.2, 0.2), orientations=4, size=64)
    specs = candidate_patch_specs([0], [[50.0, 50.0]], [20.0], cfg)
    assert len(specs) == 16 and specs.size == 64
    assert set(specs.orientation) == {0, 1, 2, 3}
    assert set(np.round(specs.center[:, 0] - 50.0, 6)) == {-4.0, 4.0}
    full = candidate_patch_specs([0, 1, 2], [[50, 50]] * 3, [20, 30, 40])
    a = candidate_patch_specs([0, 1, 2], [[50, 50]] * 3, [20, 30, 40], max_patches=10,
                              rng=np.random.default_rng(7))
    b = candidate_patch_specs([0, 1, 2], [[50, 50]] * 3, [20, 30, 40], max_patches=10,
                              rng=np.random.default_rng(7))
    assert len(a) == 30 and np.array_equal(np.bincount(a.item), [10, 10, 10])
    for name in ("source", "center", "side", "orientation", "item"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
    rows = {tuple(r) for r in np.column_stack([full.item, full.center, full.side,
                                               full.orientation])}
    assert all(tuple(r) in rows for r in np.column_stack([a.item, a.center, a.side,
                                                          a.orientation]))
    assert len(candidate_patch_specs([0], [[5, 5]], [9], max_patches=500)) == 216


def test_specs_reject_bad_input():
    with pytest.raises(ValueError):
        candidate_patch_specs([0, 1], [[1, 1]], [5, 5])
    with pytest.raises(ValueError):
        candidate_patch_specs([0], [[1, 1]], [0.0])
    with pytest.raises(ValueError):
        CandidatePatchSpecs([0], [[1.0, 1.0]], [5.0], [8], [0])


def test_box_centers_and_sides():
    centers, sides = box_centers_sides([(10, 20, 30, 60), (5, 5, 6, 6)])
    assert np.allclose(centers, [[19.5, 39.5], [5.0, 5.0]])
    assert np.allclose(sides, [40.0, 1.0])


# --------------------------------------------------------------------------- geometry


def test_patch_samples_the_scaled_shifted_box_exactly():
    img = coordinate_image()
    cfg = PolypPatchConfig(orientations=1, size=32)
    specs = candidate_patch_specs([0], [[120.0, 90.0]], [50.0], cfg)
    patches = render_patches([img], specs)
    assert patches.shape == (len(specs), 32, 32, 3)
    for p, (cr, cc), s in zip(patches, specs.center, specs.side):
        rows = cr - s / 2 + (np.arange(32) + 0.5) * s / 32
        cols = cc - s / 2 + (np.arange(32) + 0.5) * s / 32
        assert np.array_equal(p[:, 0, 0], np.rint(rows).astype(np.uint8))
        assert np.array_equal(p[0, :, 1], np.rint(cols).astype(np.uint8))
        assert (p[..., 0] == p[:, :1, 0]).all() and (p[..., 1] == p[:1, :, 1]).all()


def test_marker_lands_where_the_shift_puts_it():
    img = np.zeros((200, 200, 3), np.uint8)
    img[99:102, 119:122] = 255  # 3x3 marker centred on (100, 120)
    cfg = PolypPatchConfig(scales=(1.0, 1.5), orientations=1, size=100)
    specs = candidate_patch_specs([0], [[100.0, 120.0]], [40.0], cfg)
    for p, (cr, cc), s in zip(render_patches([img], specs), specs.center, specs.side):
        w = p[..., 0].astype(np.float64)
        mr = (w.sum(1) * np.arange(100)).sum() / w.sum()
        mc = (w.sum(0) * np.arange(100)).sum() / w.sum()
        # source (100, 120) sits at output (100 - cr + s/2) * N/s - 0.5
        assert mr == pytest.approx((100 - cr + s / 2) * 100 / s - 0.5, abs=0.05)
        assert mc == pytest.approx((120 - cc + s / 2) * 100 / s - 0.5, abs=0.05)
    # +10 % on the column axis moves the window right, so the marker moves left by 10 %
    # of the patch: 10 output pixels at N = 100
    base = render_patches([img], specs, [4])[0]  # scale 1.0, no shift
    right = render_patches([img], specs, [5])[0]  # scale 1.0, column shift +0.1
    assert np.array_equal(right[:, :90], base[:, 10:])


def test_reflection_at_borders():
    centers = np.array([-20.3, -7.0, 0.0, 5.5, 63.0, 70.25, 140.0])
    i0, i1, w0, w1 = axis_taps(centers, np.ones(len(centers)), 1, np.full(len(centers), 64))
    assert i0.shape == (len(centers), 1) and ((i0 >= 0) & (i1 <= 63)).all()
    got = i0[:, 0] * w0[:, 0] + i1[:, 0] * w1[:, 0]
    assert np.allclose(got, reflect101(centers, 64), atol=1e-5)
    # a patch centred on the corner pixel mirrors about it on both axes (reflect-101)
    cfg = PolypPatchConfig(scales=(1.0,), shifts=(0.0,), orientations=1, size=40)
    img = textured(50, 60, 3)
    p = render_patches([img], candidate_patch_specs([0], [[0.0, 0.0]], [30.0], cfg))[0]
    assert np.array_equal(p, p[::-1]) and np.array_equal(p, p[:, ::-1])
    # the same patch from the coordinate image gives the reflected coordinates
    p = render_patches([coordinate_image()], candidate_patch_specs([0], [[250.0, 3.0]], [40.0],
                                                                 cfg))[0]
    src = (np.arange(40) + 0.5) - 20
    assert np.array_equal(p[:, 0, 0], np.rint(reflect101(250 + src, 256)).astype(np.uint8))
    assert np.array_equal(p[0, :, 1], np.rint(reflect101(3 + src, 256)).astype(np.uint8))


def test_matches_opencv_warp_with_reflect101():
    """Independent check of the conventions: cv2.warpAffine (positions quantised to
    1/32 px) on a smooth image agrees within 2 grey levels."""
    rng = np.random.default_rng(1)
    img = cv2.GaussianBlur(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8), (0, 0), 3)
    img = cv2.normalize(img, None, 0, 255, cv2.NORM_MINMAX)
    specs = candidate_patch_specs([0, 0], [[5.0, 150.0], [60.0, 80.0]], [70.0, 23.0],
                                  PolypPatchConfig(orientations=1, size=57))
    n = specs.size
    for p, (cr, cc), s in zip(render_patches([img], specs), specs.center, specs.side):
        a = s / n
        m = np.array([[a, 0, cc - s / 2 + a / 2], [0, a, cr - s / 2 + a / 2]])
        ref = cv2.warpAffine(img, m, (n, n), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                             borderMode=cv2.BORDER_REFLECT_101)
        assert np.abs(ref.astype(int) - p).max() <= 2


def test_eight_orientations_distinct_and_invertible():
    img = textured(80, 90, 4)
    specs = candidate_patch_specs([0], [[40.0, 45.0]], [30.0],
                                  PolypPatchConfig(scales=(1.0,), shifts=(0.0,), size=33))
    patches = render_patches([img], specs)
    assert len(patches) == 8
    for a, b in itertools.combinations(range(8), 2):
        assert not np.array_equal(patches[a], patches[b])
    for k in range(8):
        assert np.array_equal(unorient(patches[k], k), patches[0])
        assert np.array_equal(orient(patches[0], k), patches[k])
    # the group: every orientation of an orientation is one of the 8
    keys = {patches[k].tobytes(): k for k in range(8)}
    for j, k in itertools.product(range(8), repeat=2):
        assert orient(np.ascontiguousarray(orient(patches[0], j)), k).tobytes() in keys
    # a marker in the top-left corner visits 8 distinct (corner, transposed) places
    marker = np.zeros((5, 5), np.uint8)
    marker[0, 1] = 1
    assert len({np.argwhere(orient(marker, k))[0].tobytes() for k in range(8)}) == 8


# --------------------------------------------------------------------------- renderers


def test_device_renderer_equals_cpu_renderer():
    frames = [textured(120, 150, 5), textured(90, 200, 6), textured(240, 100, 7)]
    rng = np.random.default_rng(8)
    specs = candidate_patch_specs([0, 1, 2], rng.uniform(-20, 160, (3, 2)), [7.0, 60.0, 150.0],
                                  PolypPatchConfig(size=48))
    want = render_patches(frames, specs)
    r = DevicePatchRenderer(frames, specs, CPU)
    order = rng.permutation(len(specs))  # batches mixing candidates and orientations
    for s in range(0, len(order), 100):
        idx = order[s:s + 100]
        assert np.array_equal(r.render(idx).numpy(), want[idx])
    # the network input built from the base patches is to_input of the patches, exactly
    idx = order[:70]
    x = r.render_input(idx)
    assert x.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(x, to_input(torch.from_numpy(want[idx]), CPU))
    stack = np.stack([textured(70, 80, s) for s in range(3)])
    r = DevicePatchRenderer(stack, specs, CPU)  # the in-place stack path
    assert np.array_equal(r.render(np.arange(50)).numpy(), render_patches(stack, specs,
                                                                          np.arange(50)))
    assert r.render([]).shape == (0, 48, 48, 3)


def test_device_renderer_on_a_real_frame():
    img_dir = TESTDATA / "images"
    if not img_dir.is_dir():
        pytest.skip("Kvasir-SEG sample not present")
    path = sorted(img_dir.glob("*.jpg"))[0]
    img = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    h, w = img.shape[:2]
    specs = candidate_patch_specs([0, 0], [[h / 2, w / 2], [10.0, w - 5.0]], [h / 3, 80.0],
                                  PolypPatchConfig(size=64))
    idx = np.arange(0, len(specs), 7)
    assert np.array_equal(DevicePatchRenderer([img], specs, CPU).render(idx).numpy(),
                          render_patches([img], specs, idx))


# --------------------------------------------------------------------------- datasets


def test_dataset_labels_items_groups_follow_the_candidate():
    frames = np.stack([textured(60, 70, s) for s in range(2)])
    specs = candidate_patch_specs([0, 1, 1], [[30, 30], [10, 60], [50, 5]], [20, 30, 15],
                                  PolypPatchConfig(size=40))
    ds = CandidatePatchDataset.from_candidates(frames, specs, [1, 0, 1], [7, 8, 8])
    assert len(ds) == 3 * 216 and ds.size == 40
    assert np.array_equal(ds.labels, np.repeat([1, 0, 1], 216))
    assert np.array_equal(ds.items, np.repeat([0, 1, 2], 216))
    assert np.array_equal(ds.groups, np.repeat([7, 8, 8], 216))
    idx = np.array([0, 300, 647, 5])
    assert np.array_equal(ds.batch(idx), render_patches(frames, specs, idx))
    sub = ds.subset(idx)
    assert np.array_equal(sub.labels, [1, 0, 1, 1]) and np.array_equal(sub.items, [0, 1, 2, 0])
    assert np.array_equal(sub.batch([1, 2]), ds.batch(idx[1:3]))
    with pytest.raises(ValueError):
        CandidatePatchDataset.from_candidates(frames, specs, [1, 0], [7, 8])
    with pytest.raises(ValueError):
        CandidatePatchDataset.from_candidates(frames[:1], specs, [1, 0, 1], [7, 8, 8])


def test_stratified_indices_balance_and_cap():
    labels = np.array([0] * 50 + [1] * 10 + [-1] * 5)
    keep = stratified_indices(labels, np.random.default_rng(0))
    assert np.array_equal(np.bincount(labels[keep]), [10, 10])
    assert np.array_equal(keep, np.sort(keep)) and (labels[keep] >= 0).all()
    assert np.array_equal(keep, stratified_indices(labels, np.random.default_rng(0)))
    capped = stratified_indices(labels, np.random.default_rng(1), max_total=8)
    assert np.array_equal(np.bincount(labels[capped]), [4, 4])
    assert len(stratified_indices(labels, np.random.default_rng(1), max_total=1000)) == 20
    with pytest.raises(ValueError):
        stratified_indices(labels, np.random.default_rng(1), max_total=1)


# --------------------------------------------------------------------------- scoring


@pytest.fixture(scope="module")
def scoring_case():
    torch.manual_seed(0)
    frames = [textured(100, 130, 10), textured(90, 90, 11)]
    cfg = PolypPatchConfig(scales=(1.0, 1.5), shifts=(0.0, 0.1), size=99)  # 64 / candidate
    specs = candidate_patch_specs([0, 1, 0], [[50, 60], [5, 80], [90, 10]], [40, 25, 60], cfg)
    return frames, specs, small_net()


def test_score_candidates_is_the_mean_over_each_candidates_patches(scoring_case):
    frames, specs, net = scoring_case
    events = []
    got = drain(score_candidates(net, frames, specs, device="cpu", precision="fp32",
                                 batch_size=40), events.append)
    assert got.shape == (3, 2) and np.allclose(got.sum(1), 1.0)
    assert events and all(isinstance(e, Progress) for e in events)
    assert events[-1].done == events[-1].total == len(specs)
    # the mean, by hand, of the softmax of every CPU-rendered patch
    cpu = render_patches(frames, specs)
    with torch.no_grad():
        per = torch.softmax(net.eval()(to_input(cpu, CPU)), 1).numpy().astype(np.float64)
    hand = np.stack([per[specs.item == k].mean(0) for k in range(3)])
    assert np.abs(got - hand).max() <= SCORE_TOLERANCE
    assert np.ptp(got[:, 1]) > 1e-3  # the candidates really differ
    # the plain reference (one patch at a time, batch of one) on a few patches
    few = specs.subset([0, 5, 40, 71, 90])
    ref = candidate_scores_per_patch(net, frames, few, patches=cpu[[0, 5, 40, 71, 90]])
    sc = drain(score_candidates(net, frames, few, device="cpu", precision="fp32"))
    assert np.isnan(ref[2]).all() and np.isnan(sc[2]).all()
    assert np.abs(ref[:2] - sc[:2]).max() <= SCORE_TOLERANCE
    assert np.allclose(ref[0], per[[0, 5, 40]].mean(0), atol=SCORE_TOLERANCE)
    # the CPU dataset through the engine's predict(): same items, same means
    ds = CandidatePatchDataset.from_candidates(frames, specs, [1, 0, 0], [0, 1, 0])
    items, probs = drain(predict(net, ds, device="cpu", precision="fp32", batch_size=40))
    assert np.array_equal(items, [0, 1, 2]) and np.abs(probs - got).max() <= SCORE_TOLERANCE


def test_score_candidates_depth_split_subset_and_modes(scoring_case):
    frames, specs, net = scoring_case
    full = drain(score_candidates(net, frames, specs, device="cpu", precision="fp32"))
    net.train()
    split = drain(score_candidates(net, frames, specs, depth="conv3", device="cpu",
                                   precision="fp32"))
    assert net.training and all(m.training for m in net.modules())  # modes restored
    net.eval()
    assert np.abs(split - full).max() <= SCORE_TOLERANCE
    sub = specs.subset(np.flatnonzero(specs.item != 1))
    part = drain(score_candidates(net, frames, sub, device="cpu", precision="fp32"))
    assert np.isnan(part[1]).all()
    assert np.abs(part[[0, 2]] - full[[0, 2]]).max() <= SCORE_TOLERANCE
