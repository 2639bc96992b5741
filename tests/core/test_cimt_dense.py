"""Dense CIMT confidence maps equal classifying each pixel's centred patch.

The reference is written out here (patches, the engine's preprocessing, the context
network in eval mode, softmax), independent of :mod:`core.tasks.cimt.dense`. Random
weights are scaled so the probabilities are neither uniform nor saturated: a map off by
a pixel, a border rule or a padding differs by far more than the 1e-4 tolerance.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.events import Progress, drain
from core.store.geometry import Box
from core.tasks.cimt.dense import dense_map, dense_probabilities, pixel_probabilities
from core.tasks.cimt.network import context_net
from core.tasks.cimt.pixels import centred_patches
from core.train.model import build_alexnet, initialise
from core.train.predict import to_input

CPU = torch.device("cpu")
TOL = 1e-4


@pytest.fixture(scope="module", autouse=True)
def _threads():
    old = torch.get_num_threads()
    torch.set_num_threads(min(old, 2))
    yield
    torch.set_num_threads(old)


def _grey(h=40, w=50, seed=0):
    rng = np.random.default_rng(seed)
    rows = np.arange(h)[:, None]
    img = 60 + 40 * np.sin(rows / 3.0) + 50 * rng.standard_normal((h, w))
    return np.clip(img, 0, 255).astype(np.uint8)


def _model(arch: str, seed: int = 0) -> torch.nn.Module:
    gen = torch.Generator().manual_seed(seed)
    model = build_alexnet(3, arch=arch)
    initialise(model, "msra", gen)
    with torch.no_grad():
        logits = _reference_logits(model, _grey(), [5, 20, 35], [5, 25, 45])
        model.classifier[6].weight.mul_(1.5 / float(logits.std()))
        model.classifier[6].bias.normal_(0.0, 0.5, generator=gen)
    return model


def _reference_logits(model, grey, rows, cols):
    net = context_net(model).eval()
    with torch.no_grad():
        return net(to_input(centred_patches(grey, rows, cols), CPU))


def _reference_map(model, grey, roi):
    r0, c0, r1, c1 = roi
    rr, cc = np.mgrid[r0:r1, c0:c1]
    p = torch.softmax(_reference_logits(model, grey, rr.ravel(), cc.ravel()), dim=1)
    return p.numpy().T.reshape(-1, r1 - r0, c1 - c0)


@pytest.fixture(scope="module")
def bvlc():
    return _model("bvlc")


@pytest.fixture(scope="module")
def tv():
    return _model("torchvision", seed=1)


def test_bvlc_map_equals_per_pixel_classification_in_the_mirrored_corner(bvlc):
    grey = _grey()
    roi = (0, 0, 3, 4)  # the patches reach 177 px past a 40 x 50 image
    got = dense_probabilities(bvlc, grey, roi, device="cpu")
    ref = _reference_map(bvlc, grey, roi)
    assert got.shape == (3, 3, 4) and got.dtype == np.float32
    assert np.abs(got - ref).max() <= TOL
    assert ref.std(axis=(1, 2)).max() > 1e-3 and 1e-3 < ref.min() < ref.max() < 0.999
    assert np.allclose(got.sum(axis=0), 1.0, atol=1e-5)


def test_torchvision_map_equals_per_pixel_classification_across_stride_blocks(tv):
    grey = _grey(seed=2)
    roi = (7, 3, 8, 39)  # 36 columns: two 32-pixel blocks of shift-and-stitch phases
    got = dense_probabilities(tv, grey, roi, device="cpu")
    ref = _reference_map(tv, grey, roi)
    assert np.abs(got - ref).max() <= TOL
    # The check can fail: a one-pixel shift, or the padded 227-patch network, differ.
    assert np.abs(got[:, :, 1:] - ref[:, :, :-1]).max() > 100 * TOL
    with torch.no_grad():
        x = to_input(centred_patches(grey, [7, 7], [3, 20], side=225), CPU)
        padded_net = torch.softmax(tv.eval()(x), dim=1).numpy().T
    assert np.abs(padded_net - got[:, 0, [0, 17]]).max() > 100 * TOL


def test_one_pixel_roi_at_the_last_pixel_and_box_rois(bvlc):
    grey = _grey()
    got = dense_probabilities(bvlc, grey, Box(39, 49, 40, 50), device="cpu")
    assert got.shape == (3, 1, 1)
    assert np.abs(got - _reference_map(bvlc, grey, (39, 49, 40, 50))).max() <= TOL
    ref = pixel_probabilities(bvlc, grey, [39], [49], device="cpu")
    assert ref.shape == (1, 3) and np.abs(ref[0] - got[:, 0, 0]).max() <= TOL


def test_tiles_give_the_untiled_map_and_report_progress(tv):
    grey = _grey(seed=3)
    roi = (2, 10, 42 - 2, 13)  # 38 x 3
    whole = dense_probabilities(tv, grey, roi, device="cpu", tile=64)
    events = []
    tiled = drain(dense_map(tv, grey, roi, device="cpu", tile=(32, 32)), events.append)
    assert np.abs(tiled - whole).max() <= 1e-6
    assert [e.done for e in events] == [0, 1, 2] and all(
        isinstance(e, Progress) and e.total == 2 for e in events)
    gen = dense_map(tv, grey, (0, 0, 1, 1), device="cpu")
    next(gen)
    next(gen)  # suspended after computing a tile: no no_grad leaks into the caller
    assert torch.is_grad_enabled()
    gen.close()


def test_dropout_is_off_and_the_model_is_left_as_it_was(bvlc):
    grey = _grey()
    roi = (10, 10, 11, 12)
    ref = dense_probabilities(bvlc, grey, roi, device="cpu")
    bvlc.train()
    try:
        again = dense_probabilities(bvlc, grey, roi, device="cpu")
        assert bvlc.training and all(m.training for m in bvlc.modules())
        convs = [m for m in bvlc.features if isinstance(m, torch.nn.Conv2d)]
        assert all(tuple(m.padding) != (0, 0) for m in convs[1:])  # untouched
    finally:
        bvlc.eval()
    assert np.array_equal(ref, again)


def test_bf16_is_close_to_fp32(bvlc):
    grey = _grey()
    roi = (20, 20, 21, 22)
    fp32 = dense_probabilities(bvlc, grey, roi, device="cpu")
    bf16 = dense_probabilities(bvlc, grey, roi, device="cpu", precision="bf16")
    assert bf16.dtype == np.float32 and np.abs(bf16 - fp32).max() < 0.05


@pytest.mark.parametrize("roi, match", [
    ((0, 0, 41, 5), "outside"), ((-1, 0, 3, 3), "outside"), ((5, 5, 5, 9), "empty"),
    ((0, 0, 2.5, 3), "whole pixels"), ((0, 0, 3), "row0"),
])
def test_bad_rois_are_refused_with_a_message(bvlc, roi, match):
    with pytest.raises(ValueError, match=match):
        dense_probabilities(bvlc, _grey(), roi, device="cpu")


def test_other_bad_input(bvlc):
    with pytest.raises(ValueError, match="uint8"):
        dense_probabilities(bvlc, _grey().astype(np.float32), (0, 0, 1, 1), device="cpu")
    with pytest.raises(ValueError, match="device"):
        dense_probabilities(bvlc, _grey(), (0, 0, 1, 1), device="tpu")
    with pytest.raises(ValueError, match="tile"):
        dense_probabilities(bvlc, _grey(), (0, 0, 1, 1), device="cpu", tile=0)
    with pytest.raises(TypeError, match="AlexNet"):
        dense_probabilities(torch.nn.Linear(2, 2), _grey(), (0, 0, 1, 1), device="cpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_map_equals_the_cpu_map(bvlc):
    grey = _grey()
    roi = (0, 0, 5, 40)
    cpu = dense_probabilities(bvlc, grey, roi, device="cpu")
    gpu = dense_probabilities(bvlc, grey, roi, device="cuda")
    assert np.abs(gpu - cpu).max() <= TOL
    assert next(bvlc.parameters()).device.type == "cpu"  # copied, not moved
