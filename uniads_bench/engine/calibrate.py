"""Measuring a hardware profile: sustained training FLOP/s of a reference network on the current device.

The result defines what one "GPU-hour" of a profile buys in the cost model. Measure on an idle machine;
the figure is recorded with the device name and the reference network in `profiles.json`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import nn

from uniads_bench.engine.cost import TRAIN_FORWARD_MULTIPLE
from uniads_bench.models.counting import count_flops
from uniads_bench.rng import torch_generator


@dataclass(frozen=True)
class Calibration:
    """Measured throughput and how it was obtained."""

    flops_per_second: float
    network: str
    batch_size: int
    steps: int
    seconds: float


def measure_throughput(
    model: nn.Module, input_shape: tuple[int, int, int], num_classes: int, device: torch.device,
    batch_size: int = 64, steps: int = 30, warmup: int = 5, network: str = "",
) -> Calibration:
    """Time `steps` SGD steps of `model` on random data; FLOPs counted as the cost model counts them."""
    model = model.to(device).train()
    gen = torch_generator(0, "calibrate", device=device)
    x = torch.randn((batch_size, *input_shape), generator=gen, device=device)
    y = torch.randint(0, num_classes, (batch_size,), generator=gen, device=device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step() -> None:
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    started = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - started
    flops = 2 * count_flops(model, input_shape) * TRAIN_FORWARD_MULTIPLE * batch_size * steps
    return Calibration(flops / seconds, network or type(model).__name__, batch_size, steps, seconds)
