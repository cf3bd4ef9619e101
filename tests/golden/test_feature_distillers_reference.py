"""FitNet, AT and the DKD warm-up against independent implementations of the reference codebases' formulas.

The references' feature lists are rebuilt here from their forward definitions (mdistiller a08d46f
`mdistiller/models/{cifar,imagenet}/*.py` `feats["feats"]`; RepDistiller b84f547c `models/*.py` agrees on every
CIFAR model), by hooking the modules of our networks that compute each map (our module names are the published
ones), so the test does not go through our `stages` at all. On those lists:

- AT (mdistiller `distillers/AT.py`, RepDistiller `distiller_zoo/AT.py`): CE + 1000 * sum over
  zip(feats_s[1:], feats_t[1:]) of mean((at(f_s) - at(f_t))^2), the larger map average-pooled to the smaller.
- FitNet (mdistiller `distillers/FitNet.py` + `_common.py` ConvReg, RepDistiller `--hint_layer 2`): CE + 100 *
  MSE(relu(bn(conv(feats_s[2]))), feats_t[2]), the conv chosen by the maps' heights.
- DKD's weight (mdistiller `distillers/DKD.py` with `engine/trainer.py`'s 1-indexed epochs): min(epoch / warmup, 1).
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from uniads_bench.distill import Progress, build_distiller
from uniads_bench.distill.dkd import dkd_ramp
from uniads_bench.models.zoo import build_model, get_entry

# feats[1:] of each zoo model as the references define them: (module whose output it is, ReLU applied after).
# feats[0] is the stem map in every reference model except mdistiller's ImageNet MobileNetV1, whose list starts
# at the 112 px block; we pair stages by resolution there (see `test_mobilenet_v1_pairs_by_resolution`).
_RESNET3 = [(f"layer{i}", False) for i in (1, 2, 3)]
REFERENCE_FEATS: dict[str, list[tuple[str, bool]]] = {
    **{name: _RESNET3 for name in ("resnet20", "resnet32", "resnet56", "resnet110", "resnet8x4", "resnet32x4")},
    "resnet50_cifar": [(f"layer{i}", False) for i in (1, 2, 3, 4)],  # mdistiller cifar/resnetv2.py
    **{name: [(f"block{i}", False) for i in (1, 2, 3)] for name in ("wrn_40_2", "wrn_16_2", "wrn_40_1")},
    **{name: [(f"block{i}", True) for i in (1, 2, 3, 4)] for name in ("vgg13", "vgg8")},
    "mobilenetv2": [(f"blocks.{i}", False) for i in (1, 2, 4, 6)],
    "shufflenetv1": _RESNET3,
    "shufflenetv2": _RESNET3,
    "resnet18": [(f"layer{i}", False) for i in (1, 2, 3, 4)],
    "resnet34": [(f"layer{i}", False) for i in (1, 2, 3, 4)],
    "resnet50": [(f"layer{i}", False) for i in (1, 2, 3, 4)],  # torchvision layers end in their ReLU
    "mobilenet_v1": [(f"model.{i}", False) for i in (3, 5, 11, 13)],
}

# Every kind of (teacher, student) pair the zoo's tracks and the KD tables use: same family, wider/deeper, and
# across families (pooling between resolutions, different stage counts).
PAIRS = [
    ("resnet56", "resnet20"), ("resnet110", "resnet32"), ("resnet32x4", "resnet8x4"), ("wrn_40_2", "wrn_16_2"),
    ("wrn_40_2", "wrn_40_1"), ("vgg13", "vgg8"), ("vgg13", "mobilenetv2"), ("resnet50_cifar", "mobilenetv2"),
    ("resnet32x4", "shufflenetv1"), ("resnet32x4", "shufflenetv2"), ("wrn_40_2", "shufflenetv1"),
    ("resnet34", "resnet18"), ("resnet50", "mobilenet_v1"),  # the last: our resolution pairing, see below
]


def reference_feats(model: nn.Module, x: Tensor) -> tuple[Tensor, list[Tensor]]:
    """(logits, the reference's feats[1:]) of `model` on `x`, by forward hooks on the reference modules."""
    spec = REFERENCE_FEATS[_zoo_name(model)]
    modules = dict(model.named_modules())
    captured: dict[str, Tensor] = {}
    hooks = [modules[name].register_forward_hook(
        lambda _m, _i, out, name=name: captured.__setitem__(name, out[0] if isinstance(out, tuple) else out))
        for name, _ in spec]
    try:
        logits = model(x)
    finally:
        for hook in hooks:
            hook.remove()
    return logits, [F.relu(captured[name]) if relu else captured[name] for name, relu in spec]


def _zoo_name(model: nn.Module) -> str:
    return model.zoo_name  # set by `_build`


def _build(name: str, seed: int) -> nn.Module:
    model = build_model(name, seed=seed)
    model.zoo_name = name
    return model.eval()


def _input(name: str) -> Tensor:
    return torch.randn(2, *get_entry(name).input_size, generator=torch.Generator().manual_seed(7))


def reference_at(f_s: list[Tensor], f_t: list[Tensor], p: float = 2.0) -> Tensor:
    def at(f: Tensor) -> Tensor:
        return F.normalize(f.pow(p).mean(1).reshape(f.size(0), -1))

    total = torch.zeros(())
    for s, t in zip(f_s, f_t, strict=False):
        s_h, t_h = s.shape[2], t.shape[2]
        if s_h > t_h:
            s = F.adaptive_avg_pool2d(s, (t_h, t_h))
        elif s_h < t_h:
            t = F.adaptive_avg_pool2d(t, (s_h, s_h))
        total = total + (at(s) - at(t)).pow(2).mean()
    return total


def _taps_and_dims(model: nn.Module, x: Tensor):  # noqa: ANN202 - test helper
    with torch.no_grad():
        taps = model.forward_taps(x, stages=True)
    return taps, model.tap_dims()


@pytest.mark.parametrize(("teacher", "student"), PAIRS, ids=[f"{t}-{s}" for t, s in PAIRS])
def test_at_matches_the_references_on_zoo_pairs(teacher: str, student: str) -> None:
    t_model, s_model = _build(teacher, 0), _build(student, 1)
    x, target = _input(teacher), torch.tensor([3, 7])
    s_taps, s_dims = _taps_and_dims(s_model, x)
    t_taps, t_dims = _taps_and_dims(t_model, x)
    with torch.no_grad():
        s_logits, f_s = reference_feats(s_model, x)
        _, f_t = reference_feats(t_model, x)
        ours = build_distiller("at", s_dims, t_dims, {})(s_taps, t_taps, target, Progress(0.0, 240))
    expected = F.cross_entropy(s_logits, target) + 1000.0 * reference_at(f_s, f_t)
    assert float(sum(ours.values())) == pytest.approx(float(expected), rel=1e-5)
    assert len(s_taps.stages) == len(f_s) and len(t_taps.stages) == len(f_t)


def test_mobilenet_v1_pairs_by_resolution() -> None:
    # Decision: mdistiller's ImageNet MobileNetV1 lists no stem map, so its `feats[1:]` skips the 112 px... block
    # and AT pairs ResNet-50's layer1 (56 px) with MobileNetV1's 28 px map. We pair maps of equal resolution
    # (56/28/14/7 px), as the AT paper does; documented in `distill/at.py`.
    model = _build("mobilenet_v1", 0)
    taps, _ = _taps_and_dims(model, _input("mobilenet_v1"))
    assert [m.shape[-1] for m in taps.stages] == [56, 28, 14, 7]
    _, feats = reference_feats(model, _input("mobilenet_v1"))
    assert all(torch.equal(a, b) for a, b in zip(taps.stages, feats, strict=True))


def reference_conv_reg(adapter: nn.Module, f_s: Tensor, t_shape: torch.Size) -> Tensor:
    """mdistiller/RepDistiller ConvReg applied functionally with the adapter's weights, BatchNorm in training mode."""
    conv = adapter[0]
    s_h, s_w, t_h, t_w = f_s.shape[2], f_s.shape[3], t_shape[2], t_shape[3]
    if s_h == 2 * t_h:
        assert isinstance(conv, nn.Conv2d) and conv.kernel_size == (3, 3) and conv.stride == (2, 2)
        y = F.conv2d(f_s, conv.weight, conv.bias, stride=2, padding=1)
    elif s_h * 2 == t_h:
        assert isinstance(conv, nn.ConvTranspose2d) and conv.kernel_size == (4, 4)
        y = F.conv_transpose2d(f_s, conv.weight, conv.bias, stride=2, padding=1)
    else:
        assert conv.kernel_size == (1 + s_h - t_h, 1 + s_w - t_w)
        y = F.conv2d(f_s, conv.weight, conv.bias)
    mean, var = y.mean(dim=(0, 2, 3), keepdim=True), y.var(dim=(0, 2, 3), correction=0, keepdim=True)
    return F.relu((y - mean) / torch.sqrt(var + 1e-5))


@pytest.mark.parametrize(("teacher", "student"), PAIRS, ids=[f"{t}-{s}" for t, s in PAIRS])
def test_fitnet_matches_the_references_on_zoo_pairs(teacher: str, student: str) -> None:
    t_model, s_model = _build(teacher, 0), _build(student, 1)
    x, target = _input(teacher), torch.tensor([3, 7])
    s_taps, s_dims = _taps_and_dims(s_model, x)
    t_taps, t_dims = _taps_and_dims(t_model, x)
    fitnet = build_distiller("fitnet", s_dims, t_dims, {}).train()
    with torch.no_grad():
        s_logits, f_s = reference_feats(s_model, x)
        _, f_t = reference_feats(t_model, x)
        ours = fitnet(s_taps, t_taps, target, Progress(0.0, 240))
        # feats[2] of the references is index 1 of feats[1:]
        hint = reference_conv_reg(fitnet.adapter, f_s[1], f_t[1].shape)
    expected = F.cross_entropy(s_logits, target) + 100.0 * F.mse_loss(hint, f_t[1])
    assert float(sum(ours.values())) == pytest.approx(float(expected), rel=1e-5)


def mdistiller_dkd_weights(epochs: int, steps_per_epoch: int, warmup: float) -> list[float]:
    """The DKD weight at every step of an mdistiller run: constant within each 1-indexed epoch."""
    return [min(epoch / warmup, 1.0) for epoch in range(1, epochs + 1) for _ in range(steps_per_epoch)]


def _our_weights(epochs: int, steps_per_epoch: int, warmup: float, schedule: float) -> list[float]:
    return [dkd_ramp(Progress(e + s / steps_per_epoch, epochs), warmup, schedule)
            for e in range(epochs) for s in range(steps_per_epoch)]


def test_dkd_ramp_is_mdistillers_at_the_full_recipe() -> None:
    assert _our_weights(240, 7, 20.0, 240.0) == mdistiller_dkd_weights(240, 7, 20.0)  # CIFAR-100
    assert _our_weights(100, 3, 1.0, 100.0) == mdistiller_dkd_weights(100, 3, 1.0) == [1.0] * 300  # ImageNet


@pytest.mark.parametrize("epochs", [20, 3, 1])
def test_shortened_runs_warm_up_over_the_same_fraction_of_training(epochs: int) -> None:
    steps = 24
    ours = _our_weights(epochs, steps, 20.0, 240.0)
    # The full recipe's weight at the same fraction of training (240-epoch clock, 1-indexed epochs).
    full = [min((math.floor(240 * i / (epochs * steps) + 1e-9) + 1) / 20.0, 1.0) for i in range(epochs * steps)]
    assert ours == full
    assert ours[0] == 1 / 20 and ours[-1] == 1.0
    reached = ours.index(1.0) / len(ours)
    assert 19 / 240 <= reached <= 20 / 240  # full weight after 1/12 of the run, as at 240 epochs
