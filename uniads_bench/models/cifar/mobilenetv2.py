"""MobileNetV2 for CIFAR as the KD literature defines it (RepDistiller/mdistiller `models/cifar/mobilenetv2.py`).

Differences from the ImageNet MobileNetV2 that the published numbers depend on: the stem is a stride-2 3x3
conv (32 -> 16 px) and the 24-channel group keeps stride 1, so the last map is 2x2; every inverted residual
has an expansion conv, even at t = 1; channels are `int(c * width)` without rounding to 8; the head conv
stays at 1280 channels for width <= 1; no dropout. The KD tables' "MobileNetV2" is `mobile_half`: width 0.5,
expansion 6. Module names (conv1, blocks.i.j.conv.k, conv2, classifier.0) follow the published definition.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from uniads_bench.models.base import Stage, TappedModel, chain
from uniads_bench.models.layers import conv_bn_relu, init_weights

# (channels, stride) of the seven block groups; the first group always has expansion 1.
GROUPS: tuple[tuple[int, int], ...] = ((16, 1), (24, 1), (32, 2), (64, 2), (96, 1), (160, 2), (320, 1))
REPEATS: tuple[int, ...] = (1, 2, 3, 4, 3, 3, 1)
# Groups whose outputs are the stage taps (the last group at each resolution), as mdistiller's feats.
_STAGE_ENDS = (1, 2, 4, 6)


class InvertedResidual(nn.Module):
    """1x1 expand, 3x3 depthwise (stride), 1x1 linear projection; identity residual when shapes match."""

    def __init__(self, cin: int, cout: int, stride: int, expansion: int) -> None:
        super().__init__()
        hidden = cin * expansion
        self.use_residual = stride == 1 and cin == cout
        self.conv = nn.Sequential(
            *conv_bn_relu(cin, hidden, 1),
            *conv_bn_relu(hidden, hidden, 3, stride, groups=hidden),
            nn.Conv2d(hidden, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        )

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv(x)
        return x + out if self.use_residual else out


class MobileNetV2(TappedModel):
    """CIFAR MobileNetV2. Stages: outputs of block groups 1, 2, 4 and 6 (16, 8, 4 and 2 px); the 1280-wide
    head conv is applied after the last stage, before pooling.

    Args:
        expansion: expansion ratio t of groups 2..7.
        width: width multiplier of every group and of the stem.
        repeats: blocks per group (seven groups).
        num_classes: classifier outputs.
    """

    def __init__(
        self, expansion: int = 6, width: float = 0.5, repeats: Sequence[int] = REPEATS, num_classes: int = 100
    ) -> None:
        super().__init__()
        if len(repeats) != len(GROUPS) or min(repeats) < 1:
            raise ValueError(f"MobileNetV2 needs {len(GROUPS)} positive repeats, got {tuple(repeats)}")
        cin = int(32 * width)
        self.conv1 = conv_bn_relu(3, cin, 3, 2)
        self.blocks = nn.ModuleList()
        group_channels = []
        for i, ((channels, stride), n) in enumerate(zip(GROUPS, repeats, strict=True)):
            cout = int(channels * width)
            t = 1 if i == 0 else expansion
            group = [InvertedResidual(cin if j == 0 else cout, cout, stride if j == 0 else 1, t) for j in range(n)]
            self.blocks.append(nn.Sequential(*group))
            group_channels.append(cout)
            cin = cout
        last_channel = int(1280 * width) if width > 1.0 else 1280
        self.conv2 = conv_bn_relu(cin, last_channel, 1)
        self.classifier = nn.Sequential(nn.Linear(last_channel, num_classes))
        init_weights(self, linear="small_normal")
        self._set_tap_dims(num_classes, last_channel, [group_channels[i] for i in _STAGE_ENDS])

    def _stem(self, x: Tensor) -> Tensor:
        return self.conv1(x)

    def _stages(self) -> Sequence[Stage]:
        starts = (0, *(end + 1 for end in _STAGE_ENDS[:-1]))
        return [chain(*self.blocks[a : b + 1]) for a, b in zip(starts, _STAGE_ENDS, strict=True)]

    def _pre_pool(self, x: Tensor) -> Tensor:
        return self.conv2(x)

    def _classify(self, features: Tensor) -> Tensor:
        return self.classifier(features)


def mobile_half(num_classes: int = 100) -> MobileNetV2:
    """`mobile_half`: the KD tables' MobileNetV2 (width 0.5, expansion 6; 0.81 M parameters at 100 classes)."""
    return MobileNetV2(expansion=6, width=0.5, num_classes=num_classes)
