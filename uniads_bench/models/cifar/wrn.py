"""Wide ResNets for CIFAR (Zagoruyko & Komodakis 2016), as RepDistiller/mdistiller `models/cifar/wrn.py`.

`wrn_{depth}_{k}`: a 3x3 stem of 16 channels, three stages of (depth - 4) / 6 pre-activation basic blocks of
widths 16k, 32k, 64k at 32, 16 and 8 px, a final BN-ReLU, global pooling and a linear classifier; no dropout.
Module names follow the published definition (block1.layer.0.bn1, convShortcut, ...), so its checkpoints load.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from uniads_bench.models.base import Stage, TappedModel
from uniads_bench.models.layers import init_weights


class PreActBlock(nn.Module):
    """BN-ReLU-conv3x3-BN-ReLU-conv3x3; the shortcut is a 1x1 conv of the activated input when shapes change."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.convShortcut = None if cin == cout else nn.Conv2d(cin, cout, 1, stride, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        act = self.relu1(self.bn1(x))
        out = self.conv2(self.relu2(self.bn2(self.conv1(act))))
        # As published: equal widths add the raw input, changed widths project the activated one.
        return out + (x if self.convShortcut is None else self.convShortcut(act))


class NetworkBlock(nn.Module):
    """One stage of `n` blocks under the attribute name `layer`, as in the published checkpoints."""

    def __init__(self, n: int, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        blocks = [PreActBlock(cin, cout, stride)] + [PreActBlock(cout, cout, 1) for _ in range(n - 1)]
        self.layer = nn.Sequential(*blocks)

    def forward(self, x: Tensor) -> Tensor:
        return self.layer(x)


class WideResNet(TappedModel):
    """WRN-depth-k. Stages: the outputs of block1, block2 and block3 (pre-activation sums, before the final
    bn1 + ReLU, which is the head's), as mdistiller's and RepDistiller's `feats[1:4]`.

    Args:
        depth: 6n + 4 (10, 16, 22, 28, 40, ...).
        widen_factor: k, the width multiplier of the three stages.
        num_classes: classifier outputs.
    """

    def __init__(self, depth: int, widen_factor: int, num_classes: int = 100) -> None:
        super().__init__()
        if (depth - 4) % 6 or depth < 10:
            raise ValueError(f"WRN depth must be 6n+4 with n >= 1, got {depth}")
        n = (depth - 4) // 6
        widths = [16 * widen_factor, 32 * widen_factor, 64 * widen_factor]
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.block1 = NetworkBlock(n, 16, widths[0], 1)
        self.block2 = NetworkBlock(n, widths[0], widths[1], 2)
        self.block3 = NetworkBlock(n, widths[1], widths[2], 2)
        self.bn1 = nn.BatchNorm2d(widths[2])
        self.relu = nn.ReLU(inplace=True)
        self.fc = nn.Linear(widths[2], num_classes)
        init_weights(self, linear="zero_bias")
        self._set_tap_dims(num_classes, widths[2], widths)

    def _stem(self, x: Tensor) -> Tensor:
        return self.conv1(x)

    def _stages(self) -> Sequence[Stage]:
        return [self.block1, self.block2, self.block3]

    def _pre_pool(self, x: Tensor) -> Tensor:
        return self.relu(self.bn1(x))

    def _classify(self, features: Tensor) -> Tensor:
        return self.fc(features)


def wrn(depth: int, widen_factor: int, num_classes: int = 100) -> WideResNet:
    """`wrn_{depth}_{widen_factor}` (wrn_16_1, wrn_16_2, wrn_40_1, wrn_40_2 in the zoo)."""
    return WideResNet(depth, widen_factor, num_classes)
