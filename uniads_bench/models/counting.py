"""Parameter and multiply-accumulate counts, the size measures of the leaderboards and the cost model.

MACs follow the convention of the KD and NAS tables ("FLOPs" there are multiply-adds): convolutions and
linear layers only, batch 1, at the model's input size. BatchNorm, activations, pooling and additions are
left out; they are a few percent at most for these networks.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def count_params(model: nn.Module) -> int:
    """Number of parameters, trainable or not, each shared tensor counted once."""
    return sum(p.numel() for p in model.parameters())


def count_flops(model: nn.Module, input_size: tuple[int, int, int] | None = None) -> int:
    """Multiply-accumulates of one forward pass of one image, counted by forward hooks.

    Args:
        model: any module; it runs once in eval mode under `no_grad` and its train/eval mode is restored,
            so BatchNorm statistics are untouched.
        input_size: (C, H, W); defaults to the model's own `input_size` attribute.

    Returns:
        The summed MACs of every `nn.Conv2d` and `nn.Linear` call (a module called twice counts twice).
    """
    if input_size is None:
        input_size = getattr(model, "input_size", None)
        if input_size is None:
            raise ValueError(f"{type(model).__name__} has no input_size; pass one as (C, H, W)")
    total = 0

    def conv_hook(module: nn.Conv2d, _inputs: tuple[Tensor, ...], output: Tensor) -> None:
        nonlocal total
        kh, kw = module.kernel_size
        total += output.numel() * (module.in_channels // module.groups) * kh * kw

    def linear_hook(module: nn.Linear, _inputs: tuple[Tensor, ...], output: Tensor) -> None:
        nonlocal total
        total += output.numel() * module.in_features

    handles = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
    first = next(model.parameters(), None)
    like = {"device": first.device, "dtype": first.dtype} if first is not None else {}
    x = torch.zeros(1, *input_size, **like)
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(x)
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return total
