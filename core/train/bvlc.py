"""The BVLC (Caffe) AlexNet of the paper's Table I, as a torch module.

Tajbakhsh et al. 2016, Table I, is Caffe's ``bvlc_alexnet`` (``train_val.prototxt``):
input 3x227x227; conv1 96 11x11/4, ReLU, LRN, max pool 3/2; conv2 256 5x5 pad 2 in two
groups, ReLU, LRN, max pool; conv3 384 3x3 pad 1; conv4 384 3x3 pad 1, two groups;
conv5 256 3x3 pad 1, two groups, max pool; fc6 4096, ReLU, dropout; fc7 4096, ReLU,
dropout; fc8 C. Caffe's LRN (``local_size: 5, alpha: 1e-4, beta: 0.75``, ``k = 1``)
divides alpha by the window size, as :class:`torch.nn.LocalResponseNorm` does.

The module keeps torchvision's attribute layout (``features``, ``avgpool``,
``classifier``; fc8 is ``classifier[6]``), so the depth schedule, the frozen-trunk
split and the fc8 replacement work unchanged; only the module indices of each layer
differ (:data:`LAYER_MODULES`). Caffe drops fc6's and fc7's *outputs*; here, as for
torchvision, a dropout belongs to the layer it feeds (fc7 and fc8), so a frozen layer's
cached output is exact and the dropout still runs in the tuned layer above it.
"""

from __future__ import annotations

import torch
from torch import nn

INPUT_SIZE = 227
"""Table I input side (torchvision's AlexNet takes 224)."""

# Each layer's modules, (container, first, last): a layer owns its activation, LRN,
# pooling and the dropout in front of it.
LAYER_MODULES: dict[str, tuple[str, int, int]] = {
    "conv1": ("features", 0, 3),
    "conv2": ("features", 4, 7),
    "conv3": ("features", 8, 9),
    "conv4": ("features", 10, 11),
    "conv5": ("features", 12, 14),
    "fc6": ("classifier", 0, 1),
    "fc7": ("classifier", 2, 4),
    "fc8": ("classifier", 5, 6),
}
# The Conv2d/Linear module of each layer: (container, index).
LAYER_PARAM_MODULE: dict[str, tuple[str, int]] = {
    "conv1": ("features", 0),
    "conv2": ("features", 4),
    "conv3": ("features", 8),
    "conv4": ("features", 10),
    "conv5": ("features", 12),
    "fc6": ("classifier", 0),
    "fc7": ("classifier", 3),
    "fc8": ("classifier", 6),
}


def _lrn() -> nn.LocalResponseNorm:
    return nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)


class BvlcAlexNet(nn.Module):
    """Caffe's ``bvlc_alexnet`` (Table I): 96/256/384/384/256 filters, LRN, 2-way groups.

    Parameters
    ----------
    num_classes : int
        fc8 outputs (1000 for ImageNet).
    dropout : float
        Dropout probability on fc6's and fc7's outputs (Caffe: 0.5).
    """

    arch = "bvlc"

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 96, 11, stride=4),  # conv1
            nn.ReLU(inplace=True),
            _lrn(),
            nn.MaxPool2d(3, 2),
            nn.Conv2d(96, 256, 5, padding=2, groups=2),  # conv2
            nn.ReLU(inplace=True),
            _lrn(),
            nn.MaxPool2d(3, 2),
            nn.Conv2d(256, 384, 3, padding=1),  # conv3
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 384, 3, padding=1, groups=2),  # conv4
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, 3, padding=1, groups=2),  # conv5
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2),
        )
        # 6x6 already at 227 input (an identity there); kept so other sizes still run.
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Linear(256 * 6 * 6, 4096),  # fc6
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(4096, 4096),  # fc7
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(4096, num_classes),  # fc8
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


def state_dict_shapes(num_classes: int = 1000) -> dict[str, tuple[int, ...]]:
    """Every state-dict entry of the architecture and its shape (weights-file checks)."""
    with torch.device("meta"):  # shapes only: nothing allocated
        model = BvlcAlexNet(num_classes)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}
