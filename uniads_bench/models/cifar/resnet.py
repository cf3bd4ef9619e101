"""ResNets with torchvision's module names: the CIFAR ResNets of the KD literature and the ImageNet skeleton.

The CIFAR definitions (He et al. 2016, section 4.2, as in RepDistiller/mdistiller `models/cifar/resnet.py`):
a 3x3 stem, three stages of basic blocks at 32, 16 and 8 px, global average pooling, a linear classifier.
`resnet{6n+2}` has n blocks per stage and widths 16/32/64; the "x4" variants have a 32-wide stem and
widths 64/128/256. Their module names (conv1, bn1, layer1.0.conv1, ..., downsample, fc) are also
torchvision's, so one skeleton, `ResNet`, serves CIFAR and ImageNet models and wraps torchvision's own.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn
from torchvision.models.resnet import BasicBlock, Bottleneck

from uniads_bench.models.base import Stage, TappedModel
from uniads_bench.models.layers import init_weights

Block = type[BasicBlock] | type[Bottleneck]


class ResNet(TappedModel):
    """Stem (conv1, bn1, relu, optional maxpool), residual stages `layer1..layerK`, pooled features, `fc`.

    Stages are the outputs of `layer1..layerK` (after the blocks' final ReLU).

    Args:
        conv1, bn1: the stem convolution and its BatchNorm.
        maxpool: the ImageNet stem's max pooling, or None (CIFAR).
        layers: the residual stages, shallow to deep.
        fc: the classifier.
        input_size: (C, H, W) the model is defined for.
    """

    def __init__(
        self,
        conv1: nn.Conv2d,
        bn1: nn.BatchNorm2d,
        maxpool: nn.Module | None,
        layers: Sequence[nn.Sequential],
        fc: nn.Linear,
        input_size: tuple[int, int, int],
    ) -> None:
        super().__init__()
        self.conv1 = conv1
        self.bn1 = bn1
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = maxpool if maxpool is not None else nn.Identity()
        self.num_stages = len(layers)
        for i, layer in enumerate(layers, start=1):
            self.add_module(f"layer{i}", layer)
        self.fc = fc
        self.input_size = input_size
        self._set_tap_dims(fc.out_features, fc.in_features, [_out_channels(layer) for layer in layers])

    @classmethod
    def from_torchvision(cls, net: nn.Module) -> ResNet:
        """Adopt the children of a torchvision `ResNet` (its state_dict keys stay the same)."""
        layers = [net.layer1, net.layer2, net.layer3, net.layer4]
        return cls(net.conv1, net.bn1, net.maxpool, layers, net.fc, (3, 224, 224))

    def _stem(self, x: Tensor) -> Tensor:
        return self.maxpool(self.relu(self.bn1(self.conv1(x))))

    def _stages(self) -> Sequence[Stage]:
        return [getattr(self, f"layer{i}") for i in range(1, self.num_stages + 1)]

    def _classify(self, features: Tensor) -> Tensor:
        return self.fc(features)


def _out_channels(layer: nn.Sequential) -> int:
    last = layer[-1]
    return last.bn3.num_features if isinstance(last, Bottleneck) else last.bn2.num_features


def make_stage(block: Block, inplanes: int, planes: int, depth: int, stride: int) -> nn.Sequential:
    """`depth` blocks; the first one changes resolution/width, through a 1x1 conv + BN shortcut if needed."""
    out = planes * block.expansion
    downsample = None
    if stride != 1 or inplanes != out:
        downsample = nn.Sequential(nn.Conv2d(inplanes, out, 1, stride, bias=False), nn.BatchNorm2d(out))
    blocks = [block(inplanes, planes, stride, downsample)]
    blocks += [block(out, planes) for _ in range(depth - 1)]
    return nn.Sequential(*blocks)


def build_resnet(
    block: Block,
    depths: Sequence[int],
    widths: Sequence[int],
    stem_width: int,
    num_classes: int,
    imagenet_stem: bool = False,
) -> ResNet:
    """A ResNet with per-stage depth (blocks) and width; the first stage keeps the resolution.

    Args:
        block: torchvision's `BasicBlock` or `Bottleneck`.
        depths: blocks per stage.
        widths: planes per stage (a bottleneck stage outputs 4x that).
        stem_width: output channels of the stem convolution.
        num_classes: classifier outputs.
        imagenet_stem: 7x7/2 conv + 3x3/2 max pool for 224 px inputs; otherwise a 3x3/1 conv for 32 px.
    """
    if len(depths) != len(widths):
        raise ValueError(f"depths {tuple(depths)} and widths {tuple(widths)} differ in length")
    if imagenet_stem:
        conv1 = nn.Conv2d(3, stem_width, 7, 2, 3, bias=False)
        maxpool: nn.Module | None = nn.MaxPool2d(3, 2, 1)
        input_size = (3, 224, 224)
    else:
        conv1 = nn.Conv2d(3, stem_width, 3, 1, 1, bias=False)
        maxpool = None
        input_size = (3, 32, 32)
    layers = []
    inplanes = stem_width
    for i, (depth, planes) in enumerate(zip(depths, widths, strict=True)):
        layers.append(make_stage(block, inplanes, planes, depth, 1 if i == 0 else 2))
        inplanes = planes * block.expansion
    model = ResNet(conv1, nn.BatchNorm2d(stem_width), maxpool, layers, nn.Linear(inplanes, num_classes), input_size)
    init_weights(model)
    return model


def cifar_resnet(depths: Sequence[int], widths: Sequence[int], stem_width: int, num_classes: int) -> ResNet:
    """CIFAR ResNet of basic blocks with per-stage depth and width (the family behind resnet8..110, x4)."""
    return build_resnet(BasicBlock, depths, widths, stem_width, num_classes)


def _by_depth(depth: int, widths: tuple[int, int, int], stem_width: int, num_classes: int) -> ResNet:
    if (depth - 2) % 6:
        raise ValueError(f"CIFAR ResNet depth must be 6n+2, got {depth}")
    n = (depth - 2) // 6
    return cifar_resnet((n, n, n), widths, stem_width, num_classes)


def resnet(depth: int, num_classes: int = 100) -> ResNet:
    """`resnet{depth}` of the KD literature: widths 16/32/64 (resnet8, 14, 20, 32, 44, 56, 110)."""
    return _by_depth(depth, (16, 32, 64), 16, num_classes)


def resnet_x4(depth: int, num_classes: int = 100) -> ResNet:
    """`resnet{depth}x4`: 32-wide stem, widths 64/128/256 (resnet8x4, resnet32x4)."""
    return _by_depth(depth, (64, 128, 256), 32, num_classes)
