"""ShuffleNetV1 for CIFAR as the KD literature defines it (RepDistiller/mdistiller `ShuffleV1`).

Groups g = 3, stage widths 240/480/960 with 4/8/4 units at 16, 8 and 4 px; a 1x1 stem of 24 channels (as
published: 1x1, not 3x3) without pooling. Each stage's first unit halves the resolution and concatenates an
average-pooled shortcut; the first unit of the network uses an ungrouped 1x1 conv on the 24 stem channels.
PyTorch's default initialisation, as published. Module names (conv1, layer1.0.conv1, ..., linear) follow it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from uniads_bench.models.base import Stage, TappedModel
from uniads_bench.models.layers import channel_shuffle

STEM_WIDTH = 24


class ShuffleUnit(nn.Module):
    """Grouped 1x1 - shuffle - depthwise 3x3 - grouped 1x1, plus an identity (stride 1) or concatenated
    3x3 average-pooled (stride 2) shortcut, then ReLU."""

    def __init__(self, cin: int, cout: int, stride: int, groups: int) -> None:
        super().__init__()
        mid = cout // 4
        self.stride = stride
        self.first_groups = 1 if cin == STEM_WIDTH else groups
        self.conv1 = nn.Conv2d(cin, mid, 1, groups=self.first_groups, bias=False)
        self.bn1 = nn.BatchNorm2d(mid)
        self.conv2 = nn.Conv2d(mid, mid, 3, stride, 1, groups=mid, bias=False)
        self.bn2 = nn.BatchNorm2d(mid)
        self.conv3 = nn.Conv2d(mid, cout, 1, groups=groups, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)

    def forward(self, x: Tensor) -> Tensor:
        out = channel_shuffle(F.relu(self.bn1(self.conv1(x))), self.first_groups)
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.stride == 2:
            return F.relu(torch.cat([out, F.avg_pool2d(x, 3, 2, 1)], dim=1))
        return F.relu(out + x)


class ShuffleNetV1(TappedModel):
    """ShuffleNetV1. Stages: the outputs of layer1..layer3.

    Args:
        widths: output channels of the three stages.
        repeats: units per stage.
        groups: group count of the 1x1 convolutions.
        num_classes: classifier outputs.
    """

    def __init__(
        self,
        widths: Sequence[int] = (240, 480, 960),
        repeats: Sequence[int] = (4, 8, 4),
        groups: int = 3,
        num_classes: int = 100,
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, STEM_WIDTH, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(STEM_WIDTH)
        cin = STEM_WIDTH
        for i, (width, n) in enumerate(zip(widths, repeats, strict=True), start=1):
            # The downsampling unit's branch makes width - cin channels; the pooled input fills the rest.
            units = [ShuffleUnit(cin, width - cin, 2, groups)]
            units += [ShuffleUnit(width, width, 1, groups) for _ in range(n - 1)]
            self.add_module(f"layer{i}", nn.Sequential(*units))
            cin = width
        self.num_stages = len(widths)
        self.linear = nn.Linear(cin, num_classes)
        self._set_tap_dims(num_classes, cin, widths)

    def _stem(self, x: Tensor) -> Tensor:
        return F.relu(self.bn1(self.conv1(x)))

    def _stages(self) -> Sequence[Stage]:
        return [getattr(self, f"layer{i}") for i in range(1, self.num_stages + 1)]

    def _classify(self, features: Tensor) -> Tensor:
        return self.linear(features)


def shufflenetv1(num_classes: int = 100) -> ShuffleNetV1:
    """`ShuffleV1` of the KD tables (g = 3; 0.95 M parameters at 100 classes)."""
    return ShuffleNetV1(num_classes=num_classes)
