"""Table II, depth -> parameter groups, frozen layers."""

from __future__ import annotations

import pytest
import torch

from core.train import bvlc
from core.train.engine import TrainConfig
from core.train.model import (
    ARCHS,
    DEPTHS,
    INITS,
    LAYERS,
    arch_of,
    build_alexnet,
    initialise,
    input_size,
    layer_module,
    layer_parameters,
    layer_span,
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
    w = model.features[0].weight.detach()
    fan_in = w[0].numel()
    expected = {"gaussian": 0.01, "xavier": (2.0 / (fan_in + 64 * 121)) ** 0.5,
                "msra": (2.0 / fan_in) ** 0.5}[init]
    assert float(w.std()) == pytest.approx(expected, rel=0.1)
    for layer in LAYERS:
        assert float(layer_parameters(model, layer)[1].detach().abs().max()) == 0.0, layer
    with pytest.raises(ValueError, match="caffe"):
        initialise(model, "uniform")


# BVLC train_val.prototxt fillers: (weight std, bias value).
CAFFE_PROTOTXT = {"conv1": (0.01, 0.0), "conv2": (0.01, 0.1), "conv3": (0.01, 0.0),
                  "conv4": (0.01, 0.1), "conv5": (0.01, 0.1), "fc6": (0.005, 0.1),
                  "fc7": (0.005, 0.1), "fc8": (0.01, 0.0)}


@pytest.mark.parametrize("arch", ARCHS)
def test_caffe_initialisation_is_the_bvlc_prototxt(arch):
    assert INITS[0] == "caffe" and TrainConfig().init == "caffe"
    model = build_alexnet(2, arch=arch)
    initialise(model, "caffe", generator=torch.Generator().manual_seed(2))
    for layer, (std, bias) in CAFFE_PROTOTXT.items():
        w, b = (p.detach() for p in layer_parameters(model, layer))
        assert float(w.mean()) == pytest.approx(0.0, abs=std / 5), layer
        assert float(w.std()) == pytest.approx(std, rel=0.1 if layer != "fc8" else 0.3), layer
        assert torch.all(b == bias), layer


@pytest.mark.parametrize("arch", ARCHS)
def test_caffe_xavier_is_uniform_sqrt3_over_fan_in(arch):
    model = build_alexnet(2, arch=arch)
    initialise(model, "caffe_xavier", generator=torch.Generator().manual_seed(3))
    for layer, (_, bias) in CAFFE_PROTOTXT.items():
        w, b = (p.detach() for p in layer_parameters(model, layer))
        fan_in = w[0].numel()  # Caffe: count / num_output (inputs per group x kernel)
        a = (3.0 / fan_in) ** 0.5
        assert float(w.abs().max()) <= a * (1 + 1e-6)  # fp32 rounding
        assert float(w.abs().max()) > 0.9 * a, layer
        assert float(w.std()) == pytest.approx(a / 3**0.5, rel=0.1 if layer != "fc8" else 0.3)
        assert torch.all(b == bias), layer
    # bvlc's grouped conv2 has 48 inputs per filter, not 96
    if arch == "bvlc":
        assert layer_parameters(model, "conv2")[0].shape[1] == 48


# Table I (SPEC 1.1): the output of each row.
TABLE_I = [("conv1", (96, 55, 55)), ("pool1", (96, 27, 27)), ("conv2", (256, 27, 27)),
           ("pool2", (256, 13, 13)), ("conv3", (384, 13, 13)), ("conv4", (384, 13, 13)),
           ("conv5", (256, 13, 13)), ("pool5", (256, 6, 6)), ("fc6", (4096,)),
           ("fc7", (4096,)), ("fc8", (2,))]


def test_bvlc_matches_table_i_shapes_and_parameter_counts():
    model = build_alexnet(2, arch="bvlc").eval()
    assert arch_of(model) == "bvlc" and arch_of(build_alexnet(2)) == "torchvision"
    assert input_size("bvlc") == 227
    mods = {"conv1": model.features[0], "pool1": model.features[3], "conv2": model.features[4],
            "pool2": model.features[7], "conv3": model.features[8], "conv4": model.features[10],
            "conv5": model.features[12], "pool5": model.features[14],
            "fc6": model.classifier[0], "fc7": model.classifier[3], "fc8": model.classifier[6]}
    shapes = {}
    for name, m in mods.items():
        m.register_forward_hook(lambda _m, _i, out, name=name: shapes.__setitem__(
            name, tuple(out.shape[1:])))
    with torch.no_grad():
        assert model(torch.randn(1, 3, 227, 227)).shape == (1, 2)
    assert [(k, shapes[k]) for k, _ in TABLE_I] == TABLE_I
    # kernel / stride / pad of Table I, and Caffe's 2-way groups
    for layer, (k, s, p, groups) in {"conv1": (11, 4, 0, 1), "conv2": (5, 1, 2, 2),
                                     "conv3": (3, 1, 1, 1), "conv4": (3, 1, 1, 2),
                                     "conv5": (3, 1, 1, 2)}.items():
        m = layer_module(model, layer)
        assert (m.kernel_size, m.stride, m.padding, m.groups) == ((k, k), (s, s), (p, p), groups)
    lrn = [m for m in model.features if isinstance(m, torch.nn.LocalResponseNorm)]
    assert len(lrn) == 2 and model.features[2] is lrn[0] and model.features[6] is lrn[1]

    def count(layers):
        return sum(p.numel() for la in layers for p in layer_parameters(model, la))

    # Grouped conv2/4/5 halve those layers: 2.33 M conv (3.75 M were they not grouped).
    assert count(LAYERS[:5]) == 2_334_080
    assert count(("fc6", "fc7")) == 37_752_832 + 16_781_312
    assert count(("fc8",)) == 4096 * 2 + 2
    assert sum(p.numel() for p in bvlc.BvlcAlexNet(1000).parameters()) == 60_965_224
    tv = build_alexnet(2)
    assert sum(p.numel() for la in LAYERS[:5] for p in layer_parameters(tv, la)) == 2_469_696


def test_bvlc_lrn_is_caffe_across_channel_lrn():
    x = torch.rand(1, 8, 3, 3) * 50
    y = bvlc._lrn()(x)
    sq = torch.nn.functional.pad(x**2, (0, 0, 0, 0, 2, 2))
    window = sum(sq[:, i:i + 8] for i in range(5))
    assert torch.allclose(y, x / (1.0 + 1e-4 / 5 * window) ** 0.75, rtol=1e-5)


@pytest.mark.parametrize("depth", DEPTHS)
def test_depth_schedule_on_bvlc(depth):
    torch.manual_seed(0)
    model = build_alexnet(2, arch="bvlc")
    width = {"conv1": 96, "conv2": 256, "conv3": 384, "conv4": 384, "conv5": 256,
             "fc6": 4096, "fc7": 4096, "fc8": 2}
    for layer, n in width.items():
        w, _ = layer_parameters(model, layer)
        assert w.shape[0] == n, layer
    s = schedule(depth)
    opt = make_optimizer(model, s)
    tuned, _ = TABLE_II[depth]
    assert {g["layer"] for g in opt.param_groups} == set(tuned)
    set_train_mode(model, s, True)
    drops = {"fc7": model.classifier[2], "fc8": model.classifier[5]}  # Caffe drop6 / drop7
    for layer, d in drops.items():
        assert d.training == (layer in tuned), layer
    model.eval()
    trunk, head = split_model(model, s)
    x = torch.randn(2, 3, 227, 227)
    with torch.no_grad():
        assert torch.allclose(head(trunk(x)), model(x), atol=1e-5)
    if depth != "scratch":
        first = s.first_tuned
        container, start, _ = layer_span(first, "bvlc")
        assert any(m is layer_module(model, first) for m in head.modules())
        assert not any(m is layer_module(model, first) for m in trunk.modules())
        assert len(trunk) == (start if container == "features" else 3 + start)


def test_bvlc_weights_load_except_fc8_and_refuse_other_layouts():
    torch.manual_seed(4)
    imported = bvlc.BvlcAlexNet(1000).state_dict()
    model = build_alexnet(3, imported, arch="bvlc")
    for layer in LAYERS[:-1]:
        container, idx = bvlc.LAYER_PARAM_MODULE[layer]
        w, b = layer_parameters(model, layer)
        assert torch.equal(w, imported[f"{container}.{idx}.weight"]), layer
        assert torch.equal(b, imported[f"{container}.{idx}.bias"]), layer
    assert model.classifier[6].out_features == 3
    assert bvlc.state_dict_shapes()["features.4.weight"] == (256, 48, 5, 5)  # 2 groups
    with pytest.raises(ValueError, match="bvlc AlexNet layout"):
        build_alexnet(2, build_alexnet(1000).state_dict(), arch="bvlc")
    with pytest.raises(ValueError, match="architecture"):
        build_alexnet(2, arch="caffenet")
    with pytest.raises(ValueError, match="arch"):
        TrainConfig(arch="vgg")


def test_engine_trains_bvlc_from_scratch_and_records_it(tmp_path):
    import numpy as np

    from core.events import drain
    from core.jobs.records import arch_label
    from core.train.checkpoint import load_snapshot
    from core.train.engine import train
    from core.train.patches import ArrayDataset

    rng = np.random.default_rng(0)
    labels = np.tile([0, 1], 8)
    patches = (rng.integers(0, 60, (16, 227, 227, 3)) + 120 * labels[:, None, None, None])
    ds = ArrayDataset(patches.astype(np.uint8), labels, np.arange(16), np.repeat(np.arange(4), 4))
    cfg = TrainConfig(depth="scratch", arch="bvlc", epochs=1, batch_size=4, max_iterations=2,
                      precision="fp32", device="cpu")
    res = drain(train(ds, cfg, out_dir=tmp_path, keep_model=True), lambda e: None)
    assert arch_of(res.model) == "bvlc"
    # the caffe recipe's 0.1 biases, moved by only two SGD steps at rate 0.002
    assert float(layer_parameters(res.model, "conv2")[1].detach().mean()) == pytest.approx(0.1, abs=0.01)
    sd, meta = load_snapshot(res.snapshot)
    assert meta["config"]["arch"] == "bvlc" and meta["config"]["init"] == "caffe"
    reloaded = build_alexnet(meta["n_classes"], arch=meta["config"]["arch"])
    reloaded.load_state_dict(sd)  # strict: the snapshot is in the bvlc layout
    assert "bvlc" in arch_label("bvlc") and arch_label("torchvision") == "alexnet-torchvision"


def test_cli_defaults_to_the_caffe_recipe_and_offers_bvlc():
    from core.cli import build_parser

    args = build_parser().parse_args(["train", "--project", "P", "--depth", "scratch"])
    assert (args.init, args.arch) == ("caffe", "torchvision")
    args = build_parser().parse_args(["train", "--project", "P", "--depth", "scratch",
                                      "--arch", "bvlc", "--init", "caffe_xavier"])
    assert (args.init, args.arch) == ("caffe_xavier", "bvlc")
