"""The layers of a context network as stride-1 operations for dense maps.

:func:`plan_of` reads an AlexNet (either architecture, padded or not) into a
:class:`Plan`: the feature layers as functional stride-1 operations (each remembering its
original stride, which :mod:`core.tasks.cimt.dense` turns into a space-to-batch split),
pool5's grid, and the classifier as functional layers. Everything is evaluated in eval
mode (dropout is the identity) without touching the model's own train/eval flags, and
reads the model's parameters at call time (no copies).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from core.tasks.cimt.network import FINAL_GRID, receptive_side

_POINTWISE = (nn.ReLU, nn.Dropout, nn.Identity)


@dataclass(frozen=True)
class Op:
    """One feature layer applied with stride 1; ``stride`` is the layer's own."""

    kind: str  # "conv" | "pool" | "relu" | "lrn" | "identity"
    module: nn.Module
    stride: int = 1

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        m = self.module
        if self.kind == "conv":
            return F.conv2d(x, m.weight, m.bias, stride=1, padding=0, groups=m.groups)
        if self.kind == "pool":
            return F.max_pool2d(x, m.kernel_size, stride=1)
        if self.kind == "relu":
            return F.relu(x)
        if self.kind == "lrn":
            return F.local_response_norm(x, m.size, alpha=m.alpha, beta=m.beta, k=m.k)
        return x


@dataclass(frozen=True)
class Plan:
    ops: tuple[Op, ...]
    side: int  # context patch side (the network's receptive field)
    stride: int  # product of the feature strides
    grid: int  # pool5 output side, fc6's window
    classifier: tuple[nn.Module, ...]
    n_classes: int

    def head(self, rows: torch.Tensor) -> torch.Tensor:
        """The classifier in eval mode on (N, C * grid * grid) rows -> (N, n_classes)."""
        for m in self.classifier:
            if isinstance(m, nn.Linear):
                rows = F.linear(rows, m.weight, m.bias)
            elif isinstance(m, nn.ReLU):
                rows = F.relu(rows)
        return rows

    @property
    def device(self) -> torch.device:
        return self.ops[0].module.weight.device


def plan_of(model: nn.Module) -> Plan:
    """The dense-map plan of ``model`` (an AlexNet or its context network).

    Raises
    ------
    TypeError
        A layer the dense computation does not know (anything but Conv2d, MaxPool2d,
        ReLU, LocalResponseNorm, Dropout, Identity in ``features``; Linear, ReLU,
        Dropout, Identity in ``classifier``), a dilated convolution, a padded pool.
    """
    feats = getattr(model, "features", None)
    classifier = getattr(model, "classifier", None)
    if not isinstance(feats, nn.Sequential) or not isinstance(classifier, nn.Sequential):
        raise TypeError(f"expected an AlexNet (features, avgpool, classifier), got "
                        f"{type(model).__name__}")
    ops = []
    for m in feats:
        if isinstance(m, nn.Conv2d):
            if tuple(m.dilation) != (1, 1) or m.stride[0] != m.stride[1]:
                raise TypeError(f"dense maps need undilated, square-strided convolutions: {m}")
            ops.append(Op("conv", m, int(m.stride[0])))
        elif isinstance(m, nn.MaxPool2d):
            k, s, p, d = (_one(getattr(m, a)) for a in ("kernel_size", "stride", "padding",
                                                        "dilation"))
            if p != 0 or d != 1 or m.ceil_mode:
                raise TypeError(f"dense maps need unpadded, floor-mode pools: {m}")
            ops.append(Op("pool", m, s))
        elif isinstance(m, nn.LocalResponseNorm):
            ops.append(Op("lrn", m))
        elif isinstance(m, nn.ReLU):
            ops.append(Op("relu", m))
        elif isinstance(m, _POINTWISE):
            ops.append(Op("identity", m))
        else:
            raise TypeError(f"dense maps do not support the layer {m}")
    for m in classifier:
        if not isinstance(m, (nn.Linear, *_POINTWISE)):
            raise TypeError(f"dense maps do not support the classifier layer {m}")
    linears = [m for m in classifier if isinstance(m, nn.Linear)]
    channels = [op.module.out_channels for op in ops if op.kind == "conv"][-1]
    grid = math.isqrt(linears[0].in_features // channels)
    if grid * grid * channels != linears[0].in_features or grid != FINAL_GRID:
        raise TypeError(f"fc6 takes {linears[0].in_features} inputs, not {channels} x "
                        f"{FINAL_GRID} x {FINAL_GRID}")
    stride = math.prod(op.stride for op in ops)
    return Plan(tuple(ops), receptive_side(feats), stride, grid, tuple(classifier),
                linears[-1].out_features)


def _one(v) -> int:
    return int(v[0]) if isinstance(v, (tuple, list)) else int(v)
