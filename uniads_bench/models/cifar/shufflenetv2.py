"""ShuffleNetV2 for CIFAR as the KD literature defines it (RepDistiller/mdistiller `ShuffleV2`).

A 1x1 stem of 24 channels (as published) without pooling, three stages at 16, 8 and 4 px, each a
downsampling unit followed by `repeats` basic units (3, 7, 3 for `ShuffleV2`, i.e. 4, 8, 4 units as in the
paper), a 1x1 head conv, global pooling and a linear classifier. Stage widths come from the width table of
the published code (116/232/464 and a 1024 head at width 1). PyTorch's default initialisation, as published.
Module names (layer1.0.conv1..conv5, layer1.1.conv1..conv3, conv2, bn2, linear) follow it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from uniads_bench.models.base import Stage, TappedModel
from uniads_bench.models.layers import channel_shuffle

STEM_WIDTH = 24
# Width multiplier -> (stage 1, stage 2, stage 3, head) channels, from the published definition.
WIDTHS: dict[float, tuple[int, int, int, int]] = {
    0.5: (48, 96, 192, 1024),
    1.0: (116, 232, 464, 1024),
    1.5: (176, 352, 704, 1024),
    2.0: (224, 488, 976, 2048),
}


class BasicUnit(nn.Module):
    """Split the channels in half; 1x1 - depthwise 3x3 - 1x1 on the second half; concatenate; shuffle."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        half = channels // 2
        self.conv1 = nn.Conv2d(half, half, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(half)
        self.conv2 = nn.Conv2d(half, half, 3, 1, 1, groups=half, bias=False)
        self.bn2 = nn.BatchNorm2d(half)
        self.conv3 = nn.Conv2d(half, half, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(half)

    def forward(self, x: Tensor) -> Tensor:
        keep, work = x.chunk(2, dim=1)
        work = F.relu(self.bn1(self.conv1(work)))
        work = F.relu(self.bn3(self.conv3(self.bn2(self.conv2(work)))))
        return channel_shuffle(torch.cat([keep, work], dim=1), 2)


class DownUnit(nn.Module):
    """Two stride-2 branches of cout/2 channels each (depthwise-pointwise; pointwise-depthwise-pointwise)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        mid = cout // 2
        self.conv1 = nn.Conv2d(cin, cin, 3, 2, 1, groups=cin, bias=False)
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv2 = nn.Conv2d(cin, mid, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(mid)
        self.conv3 = nn.Conv2d(cin, mid, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(mid)
        self.conv4 = nn.Conv2d(mid, mid, 3, 2, 1, groups=mid, bias=False)
        self.bn4 = nn.BatchNorm2d(mid)
        self.conv5 = nn.Conv2d(mid, mid, 1, bias=False)
        self.bn5 = nn.BatchNorm2d(mid)

    def forward(self, x: Tensor) -> Tensor:
        left = F.relu(self.bn2(self.conv2(self.bn1(self.conv1(x)))))
        right = F.relu(self.bn3(self.conv3(x)))
        right = F.relu(self.bn5(self.conv5(self.bn4(self.conv4(right)))))
        return channel_shuffle(torch.cat([left, right], dim=1), 2)


class ShuffleNetV2(TappedModel):
    """ShuffleNetV2. Stages: the outputs of layer1..layer3; the head conv (conv2, bn2, ReLU) is applied after
    the last stage, before pooling.

    Args:
        width: a key of `WIDTHS` (0.5, 1, 1.5, 2).
        repeats: basic units per stage after its downsampling unit.
        num_classes: classifier outputs.
    """

    def __init__(self, width: float = 1.0, repeats: Sequence[int] = (3, 7, 3), num_classes: int = 100) -> None:
        super().__init__()
        if width not in WIDTHS:
            raise ValueError(f"ShuffleNetV2 width must be one of {sorted(WIDTHS)}, got {width}")
        *stage_widths, head = WIDTHS[width]
        self.conv1 = nn.Conv2d(3, STEM_WIDTH, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(STEM_WIDTH)
        cin = STEM_WIDTH
        for i, (cout, n) in enumerate(zip(stage_widths, repeats, strict=True), start=1):
            self.add_module(f"layer{i}", nn.Sequential(DownUnit(cin, cout), *[BasicUnit(cout) for _ in range(n)]))
            cin = cout
        self.conv2 = nn.Conv2d(cin, head, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(head)
        self.linear = nn.Linear(head, num_classes)
        self._set_tap_dims(num_classes, head, stage_widths)

    def _stem(self, x: Tensor) -> Tensor:
        return F.relu(self.bn1(self.conv1(x)))

    def _stages(self) -> Sequence[Stage]:
        return [self.layer1, self.layer2, self.layer3]

    def _pre_pool(self, x: Tensor) -> Tensor:
        return F.relu(self.bn2(self.conv2(x)))

    def _classify(self, features: Tensor) -> Tensor:
        return self.linear(features)


def shufflenetv2(num_classes: int = 100) -> ShuffleNetV2:
    """`ShuffleV2` of the KD tables (width 1; 1.36 M parameters at 100 classes)."""
    return ShuffleNetV2(num_classes=num_classes)
