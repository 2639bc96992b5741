"""Relative change of each tuned layer, ||W - W_0|| / ||W_0||, recorded per epoch."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from core.events import drain
from core.experiments.layer_change import LayerChange, layer_change_table
from core.train.engine import TrainConfig, train
from core.train.model import build_alexnet, layer_module
from core.train.patches import CropDataset


def test_relative_change_is_exact():
    model = build_alexnet(2)
    lc = LayerChange(model, ["fc7", "fc8"])
    assert lc.measure() == {"fc7": 0.0, "fc8": 0.0}
    with torch.no_grad():
        layer_module(model, "fc7").weight.mul_(1.5)  # ||1.5 W - W|| / ||W|| = 0.5
        layer_module(model, "fc8").weight.zero_()    # ||0 - W|| / ||W|| = 1
    got = lc.measure()
    assert got["fc7"] == pytest.approx(0.5, rel=1e-6) and got["fc8"] == pytest.approx(1.0)
    assert layer_change_table({"layer_change": [got]}) == [got]
    assert layer_change_table({}) == []


def _dataset(n=24, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 240, 240, 3), dtype=np.uint8)
    labels = np.arange(n) % 2
    images[labels == 1, :, :, 0] = 255  # an easy class cue
    from core.train.patches import PatchSpecs

    specs = PatchSpecs.random_crops(n, 1, (240, 240), 227, rng)
    return CropDataset.from_specs(images, specs, labels[specs.source], specs.source,
                                  specs.source % 4)


def test_engine_records_the_change_of_the_tuned_layers_only_and_stops_on_nan():
    ds = _dataset()
    cfg = TrainConfig(depth="scratch", init="msra", epochs=2, batch_size=8, device="cpu",
                      precision="fp32", patience=5)
    res = drain(train(ds, cfg))
    assert len(res.history) == 2
    first, second = (h["layer_change"] for h in res.history)
    assert set(first) == {"conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8"}
    assert all(v > 0 and math.isfinite(v) for v in second.values())
    assert second["fc8"] >= first["fc8"] * 0.5  # still moving, not reset
    bad = TrainConfig(depth="scratch", init="msra", epochs=2, batch_size=8, device="cpu",
                      precision="fp32", base_lr=1e300, fc8_lr=1e300)
    evs: list = []
    res = drain(train(ds, bad), evs.append)
    assert res.stopped == "diverged" and res.iterations <= 3
    assert any("diverged" in getattr(e, "message", "") for e in evs)
