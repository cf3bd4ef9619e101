"""Parameter and MAC counting: a model counted by hand, and the published MACs of zoo models."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from uniads_bench.models.counting import count_flops, count_params
from uniads_bench.models.zoo import build_model


def _small() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),  # 8x8x8 outputs x 3*3*3 = 13824 MACs; 8*27 + 8 = 224 params
        nn.BatchNorm2d(8),  # 16 params, no MACs counted
        nn.ReLU(),
        nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=4, bias=False),  # 8x4x4 x (8/4)*9 = 2304; 8*2*9 = 144
        nn.Flatten(),
        nn.Linear(128, 10),  # 1280 MACs; 1290 params
    )


def test_hand_counted_model() -> None:
    model = _small()
    assert count_params(model) == 224 + 16 + 144 + 1290
    assert count_flops(model, (3, 8, 8)) == 13824 + 2304 + 1280


def test_counting_leaves_the_model_as_it_was() -> None:
    model = _small().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    count_flops(model, (3, 8, 8))
    assert model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not model[0]._forward_hooks


def test_input_size_defaults_to_the_models_own() -> None:
    model = build_model("resnet8")
    assert count_flops(model) == count_flops(model, (3, 32, 32))
    with pytest.raises(ValueError, match="input_size"):
        count_flops(_small())


# MACs in millions: the KD literature's figures (e.g. resnet20 41 M, resnet8x4 177 M, resnet32x4 1083 M) and
# torchvision's docs for the ImageNet models.
@pytest.mark.parametrize(("name", "macs_m"), [("resnet20", 41), ("resnet8x4", 177), ("resnet32x4", 1083)])
def test_cifar_macs(name: str, macs_m: float) -> None:
    assert count_flops(build_model(name)) / 1e6 == pytest.approx(macs_m, rel=0.02)


def test_imagenet_macs_resnet18() -> None:
    assert count_flops(build_model("resnet18")) / 1e6 == pytest.approx(1814, rel=0.02)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "macs_m"), [("resnet34", 3664), ("resnet50", 4089), ("mobilenet_v2", 301), ("mobilenet_v1", 569)]
)
def test_imagenet_macs(name: str, macs_m: float) -> None:
    assert count_flops(build_model(name)) / 1e6 == pytest.approx(macs_m, rel=0.02)
