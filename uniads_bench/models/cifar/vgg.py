"""VGG with BatchNorm for CIFAR, as RepDistiller/mdistiller `models/cifar/vgg.py` (vgg8_bn, vgg13_bn).

Five blocks of 3x3 conv (with bias) + BN + ReLU, 2x2 max pooling after the first three blocks (the published
model pools after the fourth only for 64 px inputs; this suite is CIFAR-only for VGG, so it never does),
global average pooling and one linear layer of 512 inputs. Module names (block0.0, ..., classifier) follow
the published definition.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from uniads_bench.models.base import Stage, TappedModel, chain
from uniads_bench.models.layers import init_weights

CONFIGS: dict[str, tuple[tuple[int, ...], ...]] = {
    "vgg8": ((64,), (128,), (256,), (512,), (512,)),
    "vgg13": ((64, 64), (128, 128), (256, 256), (512, 512), (512, 512)),
}


def _block(cin: int, widths: Sequence[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for w in widths:
        layers += [nn.Conv2d(cin, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(inplace=True)]
        cin = w
    # The block's last ReLU is applied by the network, so a distiller may also tap the pre-activation.
    return nn.Sequential(*layers[:-1])


class VGG(TappedModel):
    """VGG-BN. Stem: relu(block0); stages: relu(block_i) for blocks 1 to 4, before their max pooling.

    The stage maps are mdistiller's and RepDistiller's `feats[1:5]` (their `feats[0]` is the stem), so FitNet's
    hint layer and AT's four stage pairs are the references' on VGG too.

    Args:
        widths: conv widths per block (five blocks).
        num_classes: classifier outputs.
    """

    def __init__(self, widths: Sequence[Sequence[int]], num_classes: int = 100) -> None:
        super().__init__()
        if len(widths) != 5:
            raise ValueError(f"VGG needs five blocks, got {len(widths)}")
        cin = 3
        for i, block_widths in enumerate(widths):
            self.add_module(f"block{i}", _block(cin, block_widths))
            cin = block_widths[-1]
        self.pool = nn.MaxPool2d(2, 2)
        self.relu = nn.ReLU(inplace=True)
        self.classifier = nn.Linear(cin, num_classes)
        init_weights(self, linear="small_normal")
        self._set_tap_dims(num_classes, cin, [w[-1] for w in widths[1:]])

    def _stem(self, x: Tensor) -> Tensor:
        return self.relu(self.block0(x))

    def _stages(self) -> Sequence[Stage]:
        blocks = [getattr(self, f"block{i}") for i in range(1, 5)]
        pooled = [chain(self.pool, block, self.relu) for block in blocks[:3]]
        return [*pooled, chain(blocks[3], self.relu)]

    def _classify(self, features: Tensor) -> Tensor:
        return self.classifier(features)


def scaled_vgg(convs: Sequence[int], width: float, num_classes: int = 100) -> VGG:
    """A VGG with `convs[i]` convolutions in block i and the vgg8 widths (64, 128, 256, 512, 512) times `width`.

    ``scaled_vgg((1,) * 5, 1.0)`` is vgg8 and ``scaled_vgg((2,) * 5, 1.0)`` is vgg13.
    """
    base = (64, 128, 256, 512, 512)
    return VGG([(max(8, int(round(w * width / 8)) * 8),) * n for w, n in zip(base, convs, strict=True)], num_classes)


def vgg(name: str, num_classes: int = 100) -> VGG:
    """`vgg8` or `vgg13` (both with BatchNorm, as the KD tables use them)."""
    return VGG(CONFIGS[name], num_classes)
