"""The CIFAR ResNet50 teacher of the KD literature (RepDistiller/mdistiller `models/cifar/resnetv2.py`).

It is the ImageNet ResNet50 (bottleneck stages of 3, 4, 6, 3 blocks, widths 64..512, stride on the 3x3 conv)
with a 3x3/1 stem and no max pool, so it keeps 32 px through the first stage. The published checkpoints name
the shortcut `shortcut` and the classifier `linear`; `from_repdistiller_state_dict` renames them to the
torchvision names used here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from torch import Tensor
from torchvision.models.resnet import Bottleneck

from uniads_bench.models.cifar.resnet import ResNet, build_resnet

_RENAMES = ((re.compile(r"\.shortcut\."), ".downsample."), (re.compile(r"^linear\."), "fc."))


def resnet50_cifar(num_classes: int = 100) -> ResNet:
    """ResNet50 for 32 px inputs (23.7 M parameters with 100 classes)."""
    return build_resnet(Bottleneck, (3, 4, 6, 3), (64, 128, 256, 512), 64, num_classes)


def from_repdistiller_state_dict(state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Rename a RepDistiller/mdistiller ResNet50 state_dict to this model's keys (other keys are unchanged)."""
    out = {}
    for key, value in state.items():
        for pattern, repl in _RENAMES:
            key = pattern.sub(repl, key)
        out[key] = value
    return out
