"""Building blocks and weight initialisation shared by several model families."""

from __future__ import annotations

from typing import Literal

from torch import Tensor, nn


def conv_bn_relu(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1) -> nn.Sequential:
    """Bias-free convolution, BatchNorm, ReLU; 'same' padding for odd kernels.

    Module indices (0 conv, 1 bn, 2 relu) are those of the MobileNet definitions, so their checkpoints load.
    """
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


def channel_shuffle(x: Tensor, groups: int) -> Tensor:
    """ShuffleNet's channel shuffle: (N, g*k, H, W) -> interleave the g groups channel by channel."""
    n, c, h, w = x.shape
    return x.reshape(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


def init_weights(model: nn.Module, linear: Literal["default", "zero_bias", "small_normal"] = "default") -> None:
    """The initialisation of the KD-literature CIFAR models.

    Convolutions: He normal with fan-out (RepDistiller's `normal(0, sqrt(2 / (k*k*out)))` is the same
    distribution); BatchNorm: weight 1, bias 0. Linear layers: PyTorch's default, or with a zeroed bias
    (WRN), or N(0, 0.01) with a zeroed bias (VGG, MobileNetV2). Draws from torch's default generator; callers
    that need reproducible weights build under a fixed seed (see `zoo.build_model`).
    """
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear) and linear != "default":
            if linear == "small_normal":
                nn.init.normal_(m.weight, 0.0, 0.01)
            nn.init.zeros_(m.bias)
