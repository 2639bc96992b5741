"""Table II, depth -> parameter groups, frozen layers."""

from __future__ import annotations

import pytest
import torch

from core.train.model import (
    DEPTHS,
    LAYERS,
    build_alexnet,
    initialise,
    layer_parameters,
    make_optimizer,
    schedule,
    set_epoch_rates,
    set_train_mode,
    split_model,
)

# Table II of Tajbakhsh et al. 2016, written out by hand: (tuned layers, fc8 weight lr).
TABLE_II = {
    "fc8": (("fc8",), 0.01),
    "fc7": (("fc7", "fc8"), 0.01),
    "fc6": (("fc6", "fc7", "fc8"), 0.01),
    "conv5": (("conv5", "fc6", "fc7", "fc8"), 0.01),
    "conv4": (("conv4", "conv5", "fc6", "fc7", "fc8"), 0.01),
    "conv3": (("conv3", "conv4", "conv5", "fc6", "fc7", "fc8"), 0.01),
    "conv2": (("conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8"), 0.01),
    "conv1": (LAYERS, 0.01),
    "scratch": (LAYERS, 0.001),
}


@pytest.mark.parametrize("depth", DEPTHS)
def test_schedule_matches_table_ii(depth):
    s = schedule(depth)
    tuned, fc8 = TABLE_II[depth]
    assert s.tuned_layers == tuned
    assert s.momentum == 0.9 and s.gamma == 0.95
    for ls in s.layers:
        if ls.layer not in tuned:
            assert (ls.weight_lr, ls.bias_lr) == (0.0, 0.0)
        elif ls.layer == "fc8":
            assert ls.weight_lr == pytest.approx(fc8)
            assert ls.bias_lr == pytest.approx(2 * fc8)
        else:
            assert ls.weight_lr == pytest.approx(0.001)
            assert ls.bias_lr == pytest.approx(0.002)


@pytest.mark.parametrize("depth", DEPTHS)
def test_optimizer_groups_only_tuned_with_table_rates(depth):
    model = build_alexnet(2)
    s = schedule(depth)
    opt = make_optimizer(model, s)
    tuned, fc8 = TABLE_II[depth]
    seen = {(g["layer"], g["kind"]): g for g in opt.param_groups}
    assert {k[0] for k in seen} == set(tuned)
    for layer in tuned:
        w, b = layer_parameters(model, layer)
        gw, gb = seen[(layer, "weight")], seen[(layer, "bias")]
        assert gw["params"][0] is w and gb["params"][0] is b
        assert gb["lr"] == pytest.approx(2 * gw["lr"])
        assert gw["lr"] == pytest.approx(fc8 if layer == "fc8" else 0.001)
        assert gw["momentum"] == 0.9
    in_opt = {id(p) for g in opt.param_groups for p in g["params"]}
    for layer in LAYERS:
        for p in layer_parameters(model, layer):
            assert (id(p) in in_opt) == (layer in tuned) == p.requires_grad


def test_gamma_decay_per_epoch():
    model = build_alexnet(2)
    s = schedule("fc6")
    opt = make_optimizer(model, s)
    for epoch in (0, 1, 5):
        set_epoch_rates(opt, s, epoch)
        for g in opt.param_groups:
            assert g["lr"] == pytest.approx(g["initial_lr"] * 0.95**epoch)
    assert s.rates_at_epoch(3)["fc8"][0] == pytest.approx(0.01 * 0.95**3)


def test_custom_rates_and_validation():
    s = schedule("fc7", base_lr=0.002, fc8_lr=0.05, bias_factor=3.0)
    assert s.layer("fc7").weight_lr == 0.002 and s.layer("fc7").bias_lr == pytest.approx(0.006)
    assert s.layer("fc8").bias_lr == pytest.approx(0.15)
    with pytest.raises(ValueError, match="fc8, fc7"):
        schedule("fc9")
    with pytest.raises(ValueError):
        schedule("fc7", base_lr=-1)


def test_frozen_layers_stay_in_eval_mode():
    model = build_alexnet(2)
    s = schedule("fc7")
    set_train_mode(model, s, True)
    assert not model.classifier[0].training  # dropout in front of frozen fc6
    assert model.classifier[3].training  # dropout in front of tuned fc7
    assert not model.features[0].training


@pytest.mark.parametrize("depth", ["fc8", "fc6", "conv3", "conv1"])
def test_split_model_composes_to_the_model(depth):
    torch.manual_seed(0)
    model = build_alexnet(3).eval()
    trunk, head = split_model(model, schedule(depth))
    x = torch.randn(2, 3, 227, 227)
    with torch.no_grad():
        assert torch.allclose(head(trunk(x)), model(x), atol=1e-5)


def test_pretrained_state_dict_loaded_except_fc8():
    ref = build_alexnet(1000)
    sd = {k: v.clone() for k, v in ref.state_dict().items()}
    model = build_alexnet(2, sd)
    assert torch.equal(model.features[0].weight, sd["features.0.weight"])
    assert torch.equal(model.classifier[4].weight, sd["classifier.4.weight"])
    assert model.classifier[6].out_features == 2


@pytest.mark.parametrize("init", ["gaussian", "xavier", "msra"])
def test_scratch_initialisations(init):
    model = build_alexnet(2)
    g = torch.Generator().manual_seed(1)
    initialise(model, init, generator=g)
    w = model.features[0].weight
    fan_in = w[0].numel()
    expected = {"gaussian": 0.01, "xavier": (2.0 / (fan_in + 64 * 121)) ** 0.5,
                "msra": (2.0 / fan_in) ** 0.5}[init]
    assert float(w.std()) == pytest.approx(expected, rel=0.1)
    assert float(model.features[0].bias.abs().max()) == 0.0
    with pytest.raises(ValueError, match="gaussian"):
        initialise(model, "uniform")
