"""The CIMT context network: AlexNet's layers and parameters, padding replaced by context."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from core.tasks.cimt.network import context_net, context_side, is_context_net
from core.train.model import build_alexnet, schedule, split_model


@pytest.mark.parametrize("arch", ["bvlc", "torchvision"])
def test_context_side_gives_a_6x6_pool5_without_padding(arch):
    side = context_side(arch)
    assert side == 355
    net = context_net(build_alexnet(3, arch=arch))
    with torch.no_grad():
        assert net.features(torch.zeros(1, 3, side, side)).shape[-2:] == (6, 6)
        # one pixel less no longer fills pool5's 6x6 grid: the net refuses it
        with pytest.raises(ValueError, match="355x355"):
            net.features(torch.zeros(1, 3, side - 1, side - 1))


def test_context_side_refuses_unknown_architectures():
    with pytest.raises(ValueError, match="architecture"):
        context_side("vgg")


@pytest.mark.parametrize("arch", ["bvlc", "torchvision"])
def test_context_net_shares_parameters_and_state_dict(arch):
    model = build_alexnet(3, arch=arch)
    net = context_net(model)
    assert type(net) is type(model) and is_context_net(net) and not is_context_net(model)
    assert context_net(net) is net
    assert list(net.state_dict()) == list(model.state_dict())
    assert all(a is b for a, b in zip(net.parameters(), model.parameters()))
    convs = [m for m in net.features if isinstance(m, nn.Conv2d)]
    assert all(tuple(m.padding) == (0, 0) for m in convs)
    assert any(tuple(m.padding) != (0, 0) for m in model.features if isinstance(m, nn.Conv2d))
    with torch.no_grad():  # a step on one is a step on the other
        net.features[0].weight.add_(1.0)
    assert torch.equal(model.features[0].weight, net.features[0].weight)
    sd = {k: torch.randn_like(v) for k, v in model.state_dict().items()}
    net.load_state_dict(sd)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in sd.items())


def test_context_net_takes_only_context_patches_and_splits_like_the_model():
    model = build_alexnet(3, arch="bvlc")
    net = context_net(model).eval()
    with pytest.raises(ValueError, match="355x355"):
        net(torch.zeros(1, 3, 227, 227))
    x = torch.randn(2, 3, 355, 355)
    with torch.no_grad():
        out = net(x)
        trunk, head = split_model(net, schedule("conv4"))
        assert out.shape == (2, 3) and torch.allclose(head(trunk(x)), out, atol=1e-5)
    model.train()
    assert context_net(model).training
