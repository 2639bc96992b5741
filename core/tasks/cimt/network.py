"""The CIMT context network: AlexNet with its zero padding replaced by real image context.

Both AlexNets pad some convolutions with zeros at the patch border (BVLC: conv2 by 2,
conv3-conv5 by 1; torchvision: conv1 and conv2 by 2, conv3-conv5 by 1). A zero ring at
the border of a 227 px patch is not what a convolution over the whole image sees there,
so no dense (convolutional) map of an ROI could equal classifying each pixel's patch.

The context network is the SAME modules and the SAME parameters (state dict unchanged,
so ImageNet transfer and the depth schedule work as before) with every padding set to 0,
fed a larger patch instead: side :func:`context_side`, chosen so that pool5 is again
6x6 and fc6 sees the 6x6x256 it was trained on. For both architectures that side is 355:

    conv1 11/4: 87 -> pool1 3/2: 43 -> conv2 5: 39 -> pool2 3/2: 19 -> conv3 3: 17
    -> conv4 3: 15 -> conv5 3: 13 -> pool5 3/2: 6

For BVLC (conv1 unpadded at 227) the 355 patch is Table I's 227 patch with 64 px of
real context on each side. For torchvision (designed for 224 with conv1 padded by 2),
the analogous net also drops conv1's padding, and the side that gives a 6x6 pool5 with
every padding 0 is again 355 (the smallest such side, and odd, so the pixel is its exact
centre). Pool5's units then see the whole patch: the receptive field of the network is
exactly 355 px. Training patches and the dense maps both use this network, consistently.
"""

from __future__ import annotations

import torch
from torch import nn

from core.train.model import ARCHS

FINAL_GRID = 6
"""pool5's output side, what fc6 expects (256 x 6 x 6)."""


def context_net(model: nn.Module) -> nn.Module:
    """The context network of ``model``, sharing its parameters.

    Parameters
    ----------
    model : nn.Module
        A torchvision ``AlexNet`` or :class:`core.train.bvlc.BvlcAlexNet` (as built by
        :func:`core.train.model.build_alexnet`), or already a context network (returned
        as it is).

    Returns
    -------
    nn.Module
        An instance of the same class with the same ``features`` / ``avgpool`` /
        ``classifier`` layout and state-dict keys, whose convolutions are unpadded copies
        sharing ``model``'s weight and bias tensors (a step on either trains both); all
        other modules are ``model``'s own. It takes ``context_side`` x ``context_side``
        inputs (:func:`core.tasks.cimt.pixels.centred_patches`) and refuses other sizes.
        Training mode follows ``model``'s at the time of the call.
    """
    if is_context_net(model):
        return model
    feats = getattr(model, "features", None)
    if not isinstance(feats, nn.Sequential) or not hasattr(model, "classifier"):
        raise TypeError(f"expected an AlexNet (features, avgpool, classifier), got "
                        f"{type(model).__name__}")
    with torch.device("meta"):  # the shell only: every module is replaced below
        net = type(model)()
    net.features = nn.Sequential(*(_unpadded(m) for m in feats))
    net.avgpool = model.avgpool
    net.classifier = model.classifier
    side = receptive_side(net.features)
    net.features[0].register_forward_pre_hook(_SideCheck(side))
    net.context_side = side
    net.train(model.training)
    return net


def is_context_net(model: nn.Module) -> bool:
    """True when no convolution of ``model.features`` pads (a context network)."""
    convs = [m for m in getattr(model, "features", ()) if isinstance(m, nn.Conv2d)]
    return bool(convs) and all(tuple(m.padding) == (0, 0) for m in convs)


def context_side(arch: str = "torchvision") -> int:
    """Side of the context patch of ``arch`` (355 for both, see the module docstring).

    Computed from the architecture's layers with all paddings removed: the smallest
    input whose pool5 output is :data:`FINAL_GRID` x :data:`FINAL_GRID`.
    """
    if arch not in ARCHS:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHS)}")
    from core.train.model import build_alexnet

    with torch.device("meta"):
        model = build_alexnet(3, arch=arch)
    return receptive_side(model.features)


# --------------------------------------------------------------------------- helpers


def _unpadded(m: nn.Module) -> nn.Module:
    if not isinstance(m, nn.Conv2d) or tuple(m.padding) == (0, 0):
        return m
    if m.padding_mode != "zeros" or isinstance(m.padding, str):
        raise ValueError(f"unsupported padding {m.padding!r} ({m.padding_mode}) in {m}")
    with torch.device("meta"):
        c = nn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, stride=m.stride,
                      padding=0, dilation=m.dilation, groups=m.groups, bias=m.bias is not None)
    c.weight = m.weight  # the same Parameter objects: shared, not copied
    if m.bias is not None:
        c.bias = m.bias
    return c


def receptive_side(features: nn.Sequential) -> int:
    """Smallest input side for which unpadded ``features`` give a FINAL_GRID output."""
    n = FINAL_GRID
    for m in reversed(list(features)):
        if isinstance(m, (nn.Conv2d, nn.MaxPool2d)):
            k, s, d = (_pair(getattr(m, a, 1))[0] for a in ("kernel_size", "stride", "dilation"))
            n = (n - 1) * s + d * (k - 1) + 1
    return n


def _pair(v) -> tuple[int, int]:
    return tuple(v) if isinstance(v, (tuple, list)) else (int(v), int(v))


class _SideCheck:
    """Forward pre-hook: the context network only takes its context-side patches
    (another size would silently change pool5's grid through the adaptive pool)."""

    def __init__(self, side: int) -> None:
        self.side = side

    def __call__(self, module, args):
        x = args[0]
        if tuple(x.shape[-2:]) != (self.side, self.side):
            raise ValueError(
                f"the CIMT context network takes {self.side}x{self.side} patches centred on "
                f"each pixel (core.tasks.cimt.pixels.centred_patches), got "
                f"{x.shape[-2]}x{x.shape[-1]}")
