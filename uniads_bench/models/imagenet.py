"""ImageNet models (224 px): torchvision's ResNet18/34/50 and MobileNetV2, and the KD literature's MobileNetV1.

torchvision models are built with `weights=None` (pretrained weights come from a local file, loaded by the
teacher code) and wrapped by adopting their children, so torchvision's code is untouched and its state_dict
keys are unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn
from torchvision import models as tv

from uniads_bench.models.base import Stage, TappedModel
from uniads_bench.models.cifar.resnet import ResNet
from uniads_bench.models.layers import conv_bn_relu

IMAGENET_INPUT = (3, 224, 224)


def torchvision_resnet(name: str, num_classes: int = 1000) -> ResNet:
    """torchvision `resnet18`, `resnet34` or `resnet50` (random init); stages are layer1..layer4."""
    if name not in ("resnet18", "resnet34", "resnet50"):
        raise ValueError(f"not a torchvision ResNet of the zoo: {name}")
    return ResNet.from_torchvision(getattr(tv, name)(weights=None, num_classes=num_classes))


class TorchvisionMobileNetV2(TappedModel):
    """torchvision `mobilenet_v2` with taps. Stages end at `features[3]`, `[6]`, `[13]`, `[17]` (24, 32, 96,
    320 channels at 56, 28, 14, 7 px, as mdistiller taps it); `features[18]`, the 1280-wide head conv, runs
    before pooling. The classifier keeps its dropout."""

    _STAGE_ENDS = (3, 6, 13, 17)

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        net = tv.mobilenet_v2(weights=None, num_classes=num_classes)
        for name, child in net.named_children():
            self.add_module(name, child)
        self.input_size = IMAGENET_INPUT
        channels = [self.features[i].out_channels for i in self._STAGE_ENDS]
        self._set_tap_dims(num_classes, self.classifier[-1].in_features, channels)

    def _stem(self, x: Tensor) -> Tensor:
        return self.features[:2](x)

    def _stages(self) -> Sequence[Stage]:
        starts = (2, *(end + 1 for end in self._STAGE_ENDS[:-1]))
        return [self.features[a : b + 1] for a, b in zip(starts, self._STAGE_ENDS, strict=True)]

    def _pre_pool(self, x: Tensor) -> Tensor:
        return self.features[18](x)

    def _classify(self, features: Tensor) -> Tensor:
        return self.classifier(features)


def _depthwise_separable(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(*conv_bn_relu(cin, cin, 3, stride, groups=cin), *conv_bn_relu(cin, cout, 1))


# (output channels, stride) of MobileNetV1's 13 depthwise-separable layers.
_V1_LAYERS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), *[(512, 1)] * 5, (1024, 2), (1024, 1))


def _scaled(channels: int, width: float) -> int:
    """Channels times the width multiplier, rounded to a multiple of 8 (width 1 keeps the published model)."""
    return max(8, int(round(channels * width / 8)) * 8)


class MobileNetV1(TappedModel):
    """MobileNetV1 as mdistiller `models/imagenet/mobilenetv1.py` defines it (4.23 M parameters).

    A 3x3/2 stem of 32 channels and 13 depthwise-separable layers in `model.0..13`, global pooling, `fc`.
    Stages end at `model[3]`, `[5]`, `[11]`, `[13]` (128, 256, 512, 1024 channels at 56, 28, 14, 7 px), as
    mdistiller taps it. Its published initialisation is PyTorch's default, which is kept.
    """

    _STAGE_ENDS = (3, 5, 11, 13)

    def __init__(self, num_classes: int = 1000, width: float = 1.0) -> None:
        super().__init__()
        channels = [_scaled(c, width) for c, _ in _V1_LAYERS]
        layers = [conv_bn_relu(3, _scaled(32, width), 3, 2)]
        cin = _scaled(32, width)
        for cout, (_, stride) in zip(channels, _V1_LAYERS, strict=True):
            layers.append(_depthwise_separable(cin, cout, stride))
            cin = cout
        self.model = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, num_classes)
        self.input_size = IMAGENET_INPUT
        self._set_tap_dims(num_classes, cin, [channels[i - 1] for i in self._STAGE_ENDS])

    def _stem(self, x: Tensor) -> Tensor:
        return self.model[:2](x)

    def _stages(self) -> Sequence[Stage]:
        starts = (2, *(end + 1 for end in self._STAGE_ENDS[:-1]))
        return [self.model[a : b + 1] for a, b in zip(starts, self._STAGE_ENDS, strict=True)]

    def _classify(self, features: Tensor) -> Tensor:
        return self.fc(features)
