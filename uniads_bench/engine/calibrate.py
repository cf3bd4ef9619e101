"""Measuring a hardware profile: sustained training FLOP/s of a reference network on the current device.

The result defines what one "GPU-hour" of a profile buys in the cost model. Measure on an idle machine;
the figure is recorded with the device name and the reference network in `profiles.json`.
"""

from __future__ import annotations

import contextlib
import platform
import re
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from torch import nn

from uniads_bench.budget import TRAIN_FORWARD_MULTIPLE
from uniads_bench.models.counting import count_flops
from uniads_bench.models.zoo import build_model, get_entry
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
    autocast_dtype: torch.dtype | None = None, channels_last: bool = False,
) -> Calibration:
    """Time `steps` SGD steps of `model` on random data; FLOPs counted as the cost model counts them.

    `autocast_dtype` (e.g. bfloat16) runs the forward under autocast and `channels_last` uses that memory
    format for the model and the batch, so a step can be timed as the engine runs it on a device or as a
    faster variant would; by default plain fp32 NCHW.
    """
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(device, memory_format=memory_format).train()
    gen = torch_generator(0, "calibrate", device=device)
    x = torch.randn((batch_size, *input_shape), generator=gen, device=device).contiguous(memory_format=memory_format)
    y = torch.randint(0, num_classes, (batch_size,), generator=gen, device=device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    precision = (
        torch.autocast(device.type, dtype=autocast_dtype) if autocast_dtype is not None else contextlib.nullcontext()
    )

    def step() -> None:
        with precision:
            logits = model(x)
        loss = nn.functional.cross_entropy(logits.float(), y)
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


def calibrate_profile(
    device: torch.device,
    networks: Sequence[str] = ("resnet8x4", "resnet32x4"),
    num_classes: int = 100,
    batch_size: int = 64,
    steps: int = 30,
    warmup: int = 5,
) -> dict[str, Any]:
    """Measure a hardware profile of `device` as the engine trains on it, ready for `profiles.json`.

    Each zoo network in `networks` is timed with `measure_throughput` at the recipe's batch size, with bf16
    autocast on CUDA and fp32 elsewhere, as `engine.train` runs candidates. The profile's throughput is the
    median over the networks (with two, their mean): a search charges both a small student's training and
    a large teacher's forward passes, and the median keeps one unusually (in)efficient network from setting
    the price alone.

    Args:
        device: the device to measure; measure on an otherwise idle machine.
        networks: zoo names of the reference networks (CIFAR-sized inputs for the defaults).
        num_classes: classifier outputs of the networks (100: the CIFAR-100 tracks).
        batch_size, steps, warmup: passed to `measure_throughput`.

    Returns:
        ``{"name", "flops_per_second", "source", "measured"}``: `name` is the profile key derived from the
        device (e.g. ``nvidia-h200``, ``cpu-2core-amd-epyc``); the rest is the profiles.json entry, where
        `measured` holds each network's FLOP/s as provenance (`load_profile` ignores it).

    Example:
        >>> entry = calibrate_profile(torch.device("cpu"))  # doctest: +SKIP
        >>> profiles[entry.pop("name")] = entry
    """
    dtype = torch.bfloat16 if device.type == "cuda" else None
    measured = {}
    for name in networks:
        model = build_model(name, num_classes, seed=0)
        calibration = measure_throughput(
            model, get_entry(name).input_size, num_classes, device, batch_size, steps, warmup, name, dtype
        )
        measured[name] = calibration.flops_per_second
    precision = "bf16 autocast" if dtype is not None else "fp32"
    source = (
        f"calibrate_profile on {device_label(device)}, torch {torch.__version__}, {precision}, batch {batch_size}, "
        f"{steps} steps, median of {', '.join(networks)}, {datetime.now(UTC).date().isoformat()}"
    )
    return {
        "name": _slug(device_label(device)),
        "flops_per_second": float(statistics.median(measured.values())),
        "source": source,
        "measured": measured,
    }


def device_label(device: torch.device) -> str:
    """A human name of `device`: the GPU's name, or the CPU's model with the threads torch uses (its cores)."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu {torch.get_num_threads()}core {cpu_model()}"


def cpu_model() -> str:
    """The CPU model as /proc/cpuinfo names it, else the machine type."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
