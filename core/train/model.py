"""AlexNet, fine-tuning depth and the Table II learning-rate schedule.

Tajbakhsh et al., "Convolutional Neural Networks for Medical Image Analysis: Full
Training or Fine Tuning?", IEEE TMI 35(5), 2016, Table II:

* depths, shallow to deep: ``fc8`` (only fc8 tuned) ... ``conv1`` (all layers tuned),
  and ``scratch`` (random initialisation, all layers trained);
* fine-tuning: weight rate 0.001 for every tuned layer but fc8, which gets 0.01;
* scratch: weight rate 0.001 for every layer, fc8 included;
* every bias learns at twice its layer's weight rate;
* momentum 0.9; after each epoch every rate is multiplied by gamma = 0.95.

The network is torchvision's ``alexnet`` (default) or the BVLC/Caffe AlexNet of Table I
(``arch="bvlc"``, :mod:`core.train.bvlc`) with ``classifier[6]`` replaced by a fresh
C-output layer. Layers below the chosen depth are frozen: they are left out of the
optimizer and always run in eval mode, so they are deterministic (which is what makes
caching their outputs exact, see :mod:`core.features`).

Scratch initialisations (:data:`INITS`), after Caffe's ``bvlc_alexnet/train_val.prototxt``:

* ``caffe`` (default): weights N(0, 0.01), fc6/fc7 N(0, 0.005); biases 0 on conv1,
  conv3 and fc8, 0.1 on conv2, conv4, conv5, fc6 and fc7 (the paper's Caffe recipe);
* ``caffe_xavier``: Caffe's ``xavier`` filler, uniform +-sqrt(3 / fan_in) (fan_in =
  inputs per group x kernel area), with the ``caffe`` biases (only the weight filler
  changed);
* ``gaussian``: the ``caffe`` weights with all biases 0;
* ``xavier``: Glorot uniform +-sqrt(6 / (fan_in + fan_out)), biases 0;
* ``msra``: He normal N(0, sqrt(2 / fan_in)) (Caffe's ``msra`` filler), biases 0.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

# Imported here, not lazily: importing torchvision holds the interpreter lock for over
# a second, which would freeze the GUI if it first happened on a training thread.
from torchvision.models import alexnet

from core.train import bvlc

LAYERS: tuple[str, ...] = ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8")
"""AlexNet's learnable layers, input side first."""

DEPTHS: tuple[str, ...] = ("fc8", "fc7", "fc6", "conv5", "conv4", "conv3", "conv2", "conv1", "scratch")
"""Fine-tuning depths, shallow to deep, then training from scratch."""

INITS: tuple[str, ...] = ("caffe", "caffe_xavier", "gaussian", "xavier", "msra")
"""Initialisations for ``scratch``, the default first (paper: Gaussian, Xavier, MSRA)."""

ARCHS: tuple[str, ...] = ("torchvision", "bvlc")
"""Architectures: torchvision's AlexNet (default; its ImageNet weights are the pretrained
model) and the BVLC/Caffe AlexNet of Table I (:mod:`core.train.bvlc`)."""

# Caffe bvlc_alexnet fillers: (weight std, bias) of each layer.
_CAFFE_FILLERS: dict[str, tuple[float, float]] = {
    "conv1": (0.01, 0.0), "conv2": (0.01, 0.1), "conv3": (0.01, 0.0), "conv4": (0.01, 0.1),
    "conv5": (0.01, 0.1), "fc6": (0.005, 0.1), "fc7": (0.005, 0.1), "fc8": (0.01, 0.0),
}

# Indices into torchvision's AlexNet of each layer's modules: (container, first, last).
# A layer owns its activation, pooling and the dropout *in front of it* (torchvision
# places dropout before fc6 and fc7), so dropout is only ever active in tuned layers.
_LAYER_MODULES: dict[str, tuple[str, int, int]] = {
    "conv1": ("features", 0, 2),
    "conv2": ("features", 3, 5),
    "conv3": ("features", 6, 7),
    "conv4": ("features", 8, 9),
    "conv5": ("features", 10, 12),
    "fc6": ("classifier", 0, 2),
    "fc7": ("classifier", 3, 5),
    "fc8": ("classifier", 6, 6),
}
# The index of the learnable (Conv2d/Linear) module of each layer.
_LAYER_PARAM_MODULE: dict[str, tuple[str, int]] = {
    "conv1": ("features", 0),
    "conv2": ("features", 3),
    "conv3": ("features", 6),
    "conv4": ("features", 8),
    "conv5": ("features", 10),
    "fc6": ("classifier", 1),
    "fc7": ("classifier", 4),
    "fc8": ("classifier", 6),
}


def _check_depth(depth: str) -> None:
    if depth not in DEPTHS:
        raise ValueError(f"unknown depth {depth!r}; choose one of {', '.join(DEPTHS)}")


@dataclass(frozen=True)
class LayerSchedule:
    """Learning rates of one layer at epoch 0 (0.0 when frozen)."""

    layer: str
    tuned: bool
    weight_lr: float
    bias_lr: float


@dataclass(frozen=True)
class Schedule:
    """The Table II schedule of one depth: per-layer rates, momentum and decay."""

    depth: str
    layers: tuple[LayerSchedule, ...]
    momentum: float = 0.9
    gamma: float = 0.95

    @property
    def tuned_layers(self) -> tuple[str, ...]:
        return tuple(ls.layer for ls in self.layers if ls.tuned)

    @property
    def first_tuned(self) -> str:
        """The deepest-into-the-network (closest to the input) tuned layer."""
        return self.tuned_layers[0]

    def layer(self, name: str) -> LayerSchedule:
        for ls in self.layers:
            if ls.layer == name:
                return ls
        raise KeyError(name)

    def rates_at_epoch(self, epoch: int) -> dict[str, tuple[float, float]]:
        """``{layer: (weight_lr, bias_lr)}`` after ``epoch`` decays (``gamma ** epoch``)."""
        f = self.gamma**epoch
        return {ls.layer: (ls.weight_lr * f, ls.bias_lr * f) for ls in self.layers}

    def to_dict(self) -> dict:
        d = asdict(self)
        d["layers"] = [asdict(ls) for ls in self.layers]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Schedule:
        layers = tuple(LayerSchedule(**ls) for ls in d["layers"])
        return cls(depth=d["depth"], layers=layers, momentum=d["momentum"], gamma=d["gamma"])


def schedule(
    depth: str,
    *,
    base_lr: float = 0.001,
    fc8_lr: float | None = None,
    bias_factor: float = 2.0,
    momentum: float = 0.9,
    gamma: float = 0.95,
) -> Schedule:
    """Table II learning parameters for ``depth``.

    Parameters
    ----------
    depth : str
        One of :data:`DEPTHS`.
    base_lr : float
        Weight learning rate of every tuned layer other than fc8 (paper: 0.001).
    fc8_lr : float, optional
        Weight learning rate of fc8. Default: 0.01 when fine-tuning, ``base_lr`` for
        ``scratch`` (paper).
    bias_factor : float
        Bias rate over weight rate (paper: 2).
    momentum, gamma : float
        SGD momentum (0.9) and per-epoch decay of every rate (0.95).
    """
    _check_depth(depth)
    for name, v in (("base_lr", base_lr), ("bias_factor", bias_factor), ("gamma", gamma)):
        if not (v > 0 and math.isfinite(v)):
            raise ValueError(f"{name} must be a positive finite number, got {v!r}")
    if not (0.0 <= momentum < 1.0):
        raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
    if fc8_lr is None:
        fc8_lr = base_lr if depth == "scratch" else 10.0 * base_lr
    if not (fc8_lr > 0 and math.isfinite(fc8_lr)):
        raise ValueError(f"fc8_lr must be a positive finite number, got {fc8_lr!r}")
    first = 0 if depth == "scratch" else LAYERS.index(depth)
    layers = []
    for i, name in enumerate(LAYERS):
        tuned = i >= first
        w = (fc8_lr if name == "fc8" else base_lr) if tuned else 0.0
        layers.append(LayerSchedule(name, tuned, w, w * bias_factor))
    return Schedule(depth, tuple(layers), momentum=momentum, gamma=gamma)


# --------------------------------------------------------------------------- model


def _check_arch(arch: str) -> None:
    if arch not in ARCHS:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHS)}")


def arch_of(model: nn.Module) -> str:
    """``"bvlc"`` for :class:`core.train.bvlc.BvlcAlexNet`, else ``"torchvision"``."""
    return "bvlc" if isinstance(model, bvlc.BvlcAlexNet) else "torchvision"


def _layout(model: nn.Module) -> tuple[dict, dict]:
    if arch_of(model) == "bvlc":
        return bvlc.LAYER_MODULES, bvlc.LAYER_PARAM_MODULE
    return _LAYER_MODULES, _LAYER_PARAM_MODULE


def input_size(arch: str = "torchvision") -> int:
    """Side of the square input the architecture was designed for (224 / Table I's 227)."""
    _check_arch(arch)
    return bvlc.INPUT_SIZE if arch == "bvlc" else 224


def build_alexnet(n_classes: int = 2, state_dict: dict | None = None, *,
                  arch: str = "torchvision") -> nn.Module:
    """AlexNet with ``classifier[6]`` (fc8) replaced by ``n_classes`` outputs.

    Parameters
    ----------
    n_classes : int
        Outputs of the new fc8.
    state_dict : dict, optional
        Weights in the architecture's layout (torchvision's ImageNet format, 1000-way
        fc8, for ``"torchvision"``; :class:`core.train.bvlc.BvlcAlexNet` keys for
        ``"bvlc"``, with an fc8 of any width). Every layer but fc8 is loaded; fc8 stays
        freshly initialised, as the paper's replacement fc8 does.
    arch : str
        ``"torchvision"`` (default) or ``"bvlc"`` (Table I), see :data:`ARCHS`.

    Raises
    ------
    ValueError
        ``state_dict`` is not in the layout of ``arch``.
    """
    _check_arch(arch)
    if arch == "torchvision":
        model = alexnet(weights=None)
        if state_dict is not None:
            model.load_state_dict(state_dict, strict=True)
    else:
        model = bvlc.BvlcAlexNet(n_classes)
        if state_dict is not None:
            _load_without_fc8(model, state_dict)
    model.classifier[6] = nn.Linear(model.classifier[6].in_features, n_classes)
    _init_fc8(model.classifier[6])
    return model


def _load_without_fc8(model: nn.Module, state_dict: dict) -> None:
    sd = {k: v for k, v in state_dict.items() if not k.startswith("classifier.6.")}
    want = {k: v.shape for k, v in model.state_dict().items() if not k.startswith("classifier.6.")}
    bad = sorted(set(want) ^ set(sd)) + sorted(
        k for k in set(want) & set(sd) if tuple(sd[k].shape) != tuple(want[k]))
    if bad:
        raise ValueError(f"these weights are not in the {arch_of(model)} AlexNet layout "
                         f"(mismatched: {', '.join(bad[:4])}{' ...' if len(bad) > 4 else ''})")
    model.load_state_dict(sd, strict=False)


def _init_fc8(layer: nn.Linear) -> None:
    # Caffe's fine-tuning recipes initialise the new fc8 with a Gaussian (std 0.01).
    nn.init.normal_(layer.weight, 0.0, 0.01)
    nn.init.zeros_(layer.bias)


def layer_module(model: nn.Module, layer: str) -> nn.Module:
    """The Conv2d/Linear module of ``layer`` (either architecture)."""
    container, idx = _layout(model)[1][layer]
    return getattr(model, container)[idx]


def initialise(model: nn.Module, init: str, generator: torch.Generator | None = None) -> None:
    """Re-initialise every layer for training from scratch with one of :data:`INITS`.

    See the module docstring for each recipe (``caffe``: the BVLC prototxt's fillers).
    """
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}; choose one of {', '.join(INITS)}")
    for name in LAYERS:
        m = layer_module(model, name)
        std, bias = _CAFFE_FILLERS[name]
        fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(m.weight)
        with torch.no_grad():
            if init in ("caffe", "gaussian"):
                m.weight.normal_(0.0, std, generator=generator)
            elif init == "caffe_xavier":
                a = math.sqrt(3.0 / fan_in)
                m.weight.uniform_(-a, a, generator=generator)
            elif init == "xavier":
                a = math.sqrt(6.0 / (fan_in + fan_out))
                m.weight.uniform_(-a, a, generator=generator)
            else:
                m.weight.normal_(0.0, math.sqrt(2.0 / fan_in), generator=generator)
            m.bias.fill_(bias if init in ("caffe", "caffe_xavier") else 0.0)


def layer_parameters(model: nn.Module, layer: str) -> tuple[nn.Parameter, nn.Parameter]:
    """(weight, bias) of ``layer``."""
    m = layer_module(model, layer)
    return m.weight, m.bias


def layer_span(layer: str, arch: str = "torchvision") -> tuple[str, int, int]:
    """(container, first index, last index) of the modules that make up ``layer``."""
    _check_arch(arch)
    return (bvlc.LAYER_MODULES if arch == "bvlc" else _LAYER_MODULES)[layer]


def param_groups(model: nn.Module, sched: Schedule) -> list[dict]:
    """Optimizer parameter groups for ``sched``: tuned layers only, Table II rates.

    Each group carries ``layer``, ``kind`` ("weight"/"bias") and ``initial_lr`` so the
    per-epoch decay can be applied as ``initial_lr * gamma ** epoch``.
    """
    groups = []
    for ls in sched.layers:
        w, b = layer_parameters(model, ls.layer)
        w.requires_grad_(ls.tuned)
        b.requires_grad_(ls.tuned)
        if not ls.tuned:
            continue
        groups.append({"params": [w], "lr": ls.weight_lr, "initial_lr": ls.weight_lr,
                       "layer": ls.layer, "kind": "weight"})
        groups.append({"params": [b], "lr": ls.bias_lr, "initial_lr": ls.bias_lr,
                       "layer": ls.layer, "kind": "bias"})
    return groups


def make_optimizer(model: nn.Module, sched: Schedule, *, fused: bool | None = None
                   ) -> torch.optim.SGD:
    """SGD with momentum over the tuned parameters only (no weight decay).

    ``fused`` (default: where torch supports it) updates weight and momentum in one pass
    over memory; the fc layers' 58 M parameters make the update memory-bound.
    """
    groups = param_groups(model, sched)
    lr = sched.layers[-1].weight_lr
    if fused is not False:
        try:
            return torch.optim.SGD(groups, lr=lr, momentum=sched.momentum, fused=True)
        except (RuntimeError, TypeError, ValueError):
            if fused:
                raise
            groups = param_groups(model, sched)
    return torch.optim.SGD(groups, lr=lr, momentum=sched.momentum)


def set_epoch_rates(optimizer: torch.optim.Optimizer, sched: Schedule, epoch: int) -> None:
    """Apply the step decay: every group's rate becomes ``initial_lr * gamma ** epoch``."""
    for g in optimizer.param_groups:
        g["lr"] = g["initial_lr"] * sched.gamma**epoch


def frozen_modules(model: nn.Module, sched: Schedule) -> list[nn.Module]:
    """Every module (layers, activations, pools, dropouts) belonging to frozen layers."""
    out = []
    for ls in sched.layers:
        if ls.tuned:
            continue
        container, a, b = _layout(model)[0][ls.layer]
        seq = getattr(model, container)
        out.extend(seq[i] for i in range(a, b + 1))
    return out


def set_train_mode(model: nn.Module, sched: Schedule, training: bool = True) -> None:
    """``model.train(training)`` but with frozen layers always in eval mode."""
    model.train(training)
    for m in frozen_modules(model, sched):
        m.eval()


def split_model(model: nn.Module, sched: Schedule) -> tuple[nn.Module, nn.Module]:
    """Split into (frozen trunk, tuned head) sharing the model's modules.

    ``head(trunk(x)) == model(x)``; the trunk is everything below the first tuned
    layer (empty for conv1/scratch), flattened where the split is inside the
    classifier.
    """
    first = sched.first_tuned
    container, start, _ = _layout(model)[0][first]
    if container == "features":
        trunk = nn.Sequential(*list(model.features)[:start])
        head = nn.Sequential(*list(model.features)[start:], model.avgpool, nn.Flatten(1),
                             *list(model.classifier))
    else:
        trunk = nn.Sequential(model.features, model.avgpool, nn.Flatten(1),
                              *list(model.classifier)[:start])
        head = nn.Sequential(*list(model.classifier)[start:])
    return trunk, head
