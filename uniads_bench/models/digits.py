"""Small CNNs for the 8x8 digits suite: the teacher and a parametric student family.

The student family varies the width (channels of the first stage; the second stage doubles it) and the
depth (conv layers per stage). Its reference student is width 8, depth 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from uniads_bench.models.family import FamilyGene, StudentFamily, register_family
from uniads_bench.models.taps import TapDims, Taps


def _conv_bn_relu(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class DigitsCNN(nn.Module):
    """Two stages of `depth` 3x3 conv-BN-ReLU layers (8x8 then 4x4), global average pool, linear head."""

    def __init__(self, width: int, depth: int, num_classes: int = 10, in_channels: int = 1) -> None:
        super().__init__()
        widths = (width, 2 * width)
        stage1 = [_conv_bn_relu(in_channels, widths[0])]
        stage1 += [_conv_bn_relu(widths[0], widths[0]) for _ in range(depth - 1)]
        stage2 = [nn.MaxPool2d(2), _conv_bn_relu(widths[0], widths[1])]
        stage2 += [_conv_bn_relu(widths[1], widths[1]) for _ in range(depth - 1)]
        self.stages = nn.ModuleList([nn.Sequential(*stage1), nn.Sequential(*stage2)])
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(widths[1], num_classes)
        self._dims = TapDims(num_classes, widths[1], widths, stage_sizes=((8, 8), (4, 4)))

    def forward_taps(self, x: Tensor, stages: bool = False) -> Taps:
        """Logits, pooled features, and the stage outputs when asked."""
        maps = []
        for stage in self.stages:
            x = stage(x)
            maps.append(x)
        features = torch.flatten(self.pool(x), 1)
        return Taps(self.fc(features), features, tuple(maps) if stages else ())

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_taps(x).logits

    def tap_dims(self) -> TapDims:
        return self._dims


def build_digits_student(genes: Mapping[str, Any], num_classes: int) -> DigitsCNN:
    return DigitsCNN(int(genes["width"]), int(genes["depth"]), num_classes)


def build_digits_teacher(num_classes: int = 10) -> DigitsCNN:
    """The digits teacher: width 64, depth 2 (about 0.2 M parameters)."""
    return DigitsCNN(64, 2, num_classes)


DIGITS_FAMILY = register_family(
    StudentFamily(
        name="digits_cnn",
        genes=(FamilyGene("width", (2, 4, 6, 8, 12, 16, 24, 32)), FamilyGene("depth", (1, 2, 3))),
        reference={"width": 8, "depth": 1},
        builder=build_digits_student,
    )
)


TEACHERS = {"digits_cnn_teacher": build_digits_teacher}
