"""The model zoo: published parameter counts, the tap contract of every model, checkpoint key layouts, the
registry's errors and seeding, and the zoo table."""

from __future__ import annotations

from functools import partial

import pytest
import torch
from torchvision import models as tv
from torchvision.models.resnet import Bottleneck

from uniads_bench.errors import UserError
from uniads_bench.models import zoo
from uniads_bench.models.cifar.resnet import build_resnet
from uniads_bench.models.cifar.resnet_imagenet_style import from_repdistiller_state_dict
from uniads_bench.models.counting import count_params
from uniads_bench.models.zoo import ZOO, build_model, get_entry, zoo_table

# Millions of parameters with 100 classes, counted from the definitions in megvii-research/mdistiller
# `mdistiller/models/cifar/*.py` (the tables of the CRD, DKD and DIST papers quote the same sizes).
PUBLISHED_CIFAR_PARAMS_M = {
    "resnet8": 0.084,
    "resnet14": 0.181,
    "resnet20": 0.278,
    "resnet32": 0.473,
    "resnet44": 0.667,
    "resnet56": 0.862,
    "resnet110": 1.737,
    "resnet8x4": 1.234,
    "resnet32x4": 7.434,
    "wrn_16_1": 0.181,
    "wrn_16_2": 0.703,
    "wrn_40_1": 0.570,
    "wrn_40_2": 2.255,
    "vgg8": 3.965,
    "vgg13": 9.462,
    "mobilenetv2": 0.813,
    "shufflenetv1": 0.949,
    "shufflenetv2": 1.356,
    "resnet50_cifar": 23.705,
}
# Millions with 1000 classes: torchvision's model docs (pytorch.org/vision/stable/models), and MobileNetV1 counted
# from mdistiller's `mdistiller/models/imagenet/mobilenetv1.py`.
PUBLISHED_IMAGENET_PARAMS_M = {
    "resnet18": 11.69,
    "resnet34": 21.80,
    "resnet50": 25.56,
    "mobilenet_v2": 3.50,
    "mobilenet_v1": 4.23,
}
# Exact counts worked out by hand (resnet20, wrn_16_2, vgg8) or from torchvision (resnet18), as a regression.
EXACT_PARAMS = {("resnet20", 100): 278_324, ("wrn_16_2", 100): 703_284, ("vgg8", 100): 3_965_028}
EXACT_PARAMS[("resnet18", 1000)] = 11_689_512


def test_every_published_model_is_in_the_zoo() -> None:
    assert set(ZOO) == set(PUBLISHED_CIFAR_PARAMS_M) | set(PUBLISHED_IMAGENET_PARAMS_M)
    assert {e.dataset for e in ZOO.values()} == {"cifar", "imagenet"}


def _on_meta(name: str, classes: int | None = None) -> torch.nn.Module:
    """Build without allocating or initialising weights: enough for counting, and fast."""
    with torch.device("meta"):
        return build_model(name, classes)


@pytest.mark.parametrize("name", sorted(PUBLISHED_CIFAR_PARAMS_M))
def test_cifar_params_match_published_within_1pct(name: str) -> None:
    params_m = count_params(_on_meta(name, 100)) / 1e6
    assert params_m == pytest.approx(PUBLISHED_CIFAR_PARAMS_M[name], rel=0.01)


@pytest.mark.parametrize("name", sorted(PUBLISHED_IMAGENET_PARAMS_M))
def test_imagenet_params_match_published_within_1pct(name: str) -> None:
    params_m = count_params(_on_meta(name, 1000)) / 1e6
    assert params_m == pytest.approx(PUBLISHED_IMAGENET_PARAMS_M[name], rel=0.01)


@pytest.mark.parametrize(("name", "classes"), sorted(EXACT_PARAMS))
def test_exact_params(name: str, classes: int) -> None:
    assert count_params(_on_meta(name, classes)) == EXACT_PARAMS[(name, classes)]


def _input(name: str, batch: int = 2) -> torch.Tensor:
    # ImageNet models are checked at 64 px to stay fast; their layout does not depend on the resolution.
    c, h, w = get_entry(name).input_size
    side = 64 if h > 64 else h
    return torch.randn(batch, c, side, side, generator=torch.Generator().manual_seed(0))


# The largest models run their forward passes only in the slow suite; each architecture class stays covered.
BIG = {"resnet110", "resnet32x4", "wrn_40_2", "vgg13", "resnet50_cifar", "resnet34", "resnet50"}
ALL_MODELS = [pytest.param(n, marks=pytest.mark.slow) if n in BIG else n for n in sorted(ZOO)]


@pytest.mark.parametrize("name", ALL_MODELS)
def test_taps_contract(name: str) -> None:
    model = build_model(name, num_classes=7, seed=0).eval()
    dims = model.tap_dims()
    x = _input(name)
    with torch.no_grad():
        logits = model(x)
        taps = model.forward_taps(x, stages=True)
    assert torch.equal(taps.logits, logits)
    assert dims.num_classes == 7 and logits.shape == (2, 7)
    assert taps.features.shape == (2, dims.feature_dim)
    assert tuple(s.shape[1] for s in taps.stages) == dims.stage_channels
    sides = [s.shape[-1] for s in taps.stages]
    assert sides == sorted(sides, reverse=True), "stages must run shallow (large) to deep (small)"


def test_stages_are_returned_only_when_asked() -> None:
    model = build_model("resnet8").eval()
    with torch.no_grad():
        assert model.forward_taps(torch.zeros(2, 3, 32, 32)).stages == ()


# The smallest model of each architecture class, and a tiny bottleneck ResNet for resnet50(_cifar)'s blocks.
TRAIN_STEP_MODELS = {
    name: partial(build_model, name, 5)
    for name in (
        "resnet8",
        "wrn_16_1",
        "vgg8",
        "mobilenetv2",
        "shufflenetv1",
        "shufflenetv2",
        "resnet18",
        "mobilenet_v2",
        "mobilenet_v1",
    )
}
TRAIN_STEP_MODELS["bottleneck_resnet"] = partial(build_resnet, Bottleneck, (1, 2), (8, 16), 8, 5)


@pytest.mark.parametrize("name", sorted(TRAIN_STEP_MODELS))
def test_train_step_through_stage_taps(name: str) -> None:
    """In-place activations must not break autograd when stage maps are used in the loss."""
    model = TRAIN_STEP_MODELS[name]().train()
    side = 64 if model.input_size[1] > 64 else 32
    taps = model.forward_taps(torch.randn(2, 3, side, side), stages=True)
    loss = taps.logits.logsumexp(1).mean() + sum(s.pow(2).mean() for s in taps.stages) + taps.features.mean()
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


# Keys of the published checkpoints (RepDistiller/mdistiller layouts; torchvision for ImageNet).
CHECKPOINT_KEYS = {
    "resnet8": ["conv1.weight", "layer2.0.downsample.0.weight", "layer3.0.bn2.running_var", "fc.weight"],
    "wrn_16_2": ["conv1.weight", "block1.layer.0.convShortcut.weight", "block3.layer.1.bn2.running_var", "bn1.bias"],
    "vgg8": ["block0.0.weight", "block0.1.running_mean", "block4.0.bias", "classifier.weight"],
    "vgg13": ["block1.3.weight", "block1.4.running_var", "block4.3.bias"],
    "mobilenetv2": [
        "conv1.0.weight",
        "blocks.0.0.conv.0.weight",
        "blocks.6.0.conv.7.bias",
        "conv2.1.weight",
        "classifier.0.weight",
    ],
    "shufflenetv1": ["conv1.weight", "layer1.0.conv1.weight", "layer3.3.bn3.bias", "linear.weight"],
    "shufflenetv2": ["layer1.0.conv5.weight", "layer2.7.conv3.weight", "conv2.weight", "bn2.weight", "linear.bias"],
    "mobilenet_v1": ["model.0.0.weight", "model.1.3.weight", "model.13.4.running_mean", "fc.weight"],
}


@pytest.mark.parametrize("name", sorted(CHECKPOINT_KEYS))
def test_published_checkpoint_keys(name: str) -> None:
    keys = _on_meta(name).state_dict().keys()
    missing = [k for k in CHECKPOINT_KEYS[name] if k not in keys]
    assert not missing


@pytest.mark.parametrize(("name", "factory"), [("resnet18", tv.resnet18), ("mobilenet_v2", tv.mobilenet_v2)])
def test_torchvision_state_dict_loads_unchanged(name: str, factory) -> None:
    reference = factory(weights=None)
    model = build_model(name)
    model.load_state_dict(reference.state_dict())
    x = _input(name)
    with torch.no_grad():
        assert torch.allclose(model.eval()(x), reference.eval()(x), atol=1e-5)


def test_repdistiller_resnet50_keys_are_renamed() -> None:
    model = build_model("resnet50_cifar")
    published = {}
    for key, value in model.state_dict().items():
        key = key.replace(".downsample.", ".shortcut.")
        published["linear." + key[3:] if key.startswith("fc.") else key] = value
    assert "layer1.0.shortcut.0.weight" in published and "linear.weight" in published
    model.load_state_dict(from_repdistiller_state_dict(published))


def test_seeded_builds_are_reproducible_and_leave_global_rng_alone() -> None:
    state = torch.get_rng_state()
    a = build_model("resnet8", seed=3).state_dict()
    b = build_model("resnet8", seed=3).state_dict()
    c = build_model("resnet8", seed=4).state_dict()
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["conv1.weight"], c["conv1.weight"])


def test_unknown_name_lists_known_and_nearest() -> None:
    with pytest.raises(UserError) as err:
        build_model("resnet21")
    message = str(err.value)
    assert "Did you mean" in message and "resnet20" in message and "resnet8x4" in message and "mobilenet_v1" in message


def test_aliases_and_spelling_variants() -> None:
    assert get_entry("mobile_half").name == "mobilenetv2"
    assert get_entry("WRN-40-2").name == "wrn_40_2"
    assert build_model("resnet8").tap_dims().num_classes == 100
    assert build_model("mobilenet_v1").tap_dims().num_classes == 1000


def test_zoo_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(zoo, "ZOO", {n: ZOO[n] for n in ("resnet8", "resnet20", "resnet18")})
    rows = zoo_table("cifar10")
    assert [r["name"] for r in rows] == ["resnet8", "resnet20"]
    assert rows[1]["num_classes"] == 10 and rows[1]["input_size"] == (3, 32, 32)
    assert rows[1]["params"] == 278_324 - 90 * 65  # 100 -> 10 classes drops 90 rows of 64 weights + bias
    assert rows[1]["macs"] == pytest.approx(40.8e6, rel=0.01)
    assert [r["name"] for r in zoo_table(None)] == ["resnet8", "resnet20", "resnet18"]
    assert zoo_table("imagenet")[0]["num_classes"] == 1000
    with pytest.raises(UserError, match="cifar100"):
        zoo_table("svhn")
