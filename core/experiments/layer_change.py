"""How far each tuned layer moved from where it started: ``||W_t - W_0|| / ||W_0||``.

The layer-change inspector (issue 10) draws, per epoch, the relative Frobenius-norm
change of each tuned layer's weights from their values when training began: the
ImageNet weights for a fine-tuned layer, the fresh initialisation for ``fc8`` and for
every layer of a scratch run. It shows how much deep fine-tuning actually changed the
early layers (cf. Yosinski et al., "How transferable are features in deep neural
networks?", NIPS 2014, on how generic the early layers are).

The engine records one ``{layer: change}`` dict per epoch in its history; the run's
metrics carry them as ``"layer_change"`` (a list, one dict per epoch).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from core.train.model import layer_module


class LayerChange:
    """Remembers the tuned layers' starting weights; :meth:`measure` the change since.

    Parameters
    ----------
    model : the network being trained
    layers : the tuned layers' names (``conv1`` ... ``fc8``)
    """

    def __init__(self, model: nn.Module, layers) -> None:
        self.modules = {name: layer_module(model, name) for name in layers}
        with torch.no_grad():
            self.start = {name: m.weight.detach().float().clone()
                          for name, m in self.modules.items()}
            self.norm = {name: float(torch.linalg.vector_norm(w))
                         for name, w in self.start.items()}

    def measure(self) -> dict[str, float]:
        """``{layer: ||W - W_0|| / ||W_0||}`` now (NaN where ``||W_0|| = 0``)."""
        out = {}
        with torch.no_grad():
            for name, m in self.modules.items():
                diff = float(torch.linalg.vector_norm(m.weight.detach().float()
                                                      - self.start[name]))
                out[name] = diff / self.norm[name] if self.norm[name] > 0 else math.nan
        return out

    def release(self) -> None:
        """Drop the starting weights (their memory: a copy of every tuned layer)."""
        self.start.clear()


def layer_change_table(metrics: dict) -> list[dict[str, float]]:
    """A run's per-epoch changes from its stored metrics (empty for an older run)."""
    return [dict(d) for d in metrics.get("layer_change") or []]
