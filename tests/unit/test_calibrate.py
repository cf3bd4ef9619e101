"""The calibration that prices a GPU-hour: a profile entry measured on the current device, at tiny size."""

from __future__ import annotations

import torch
from torch import nn

from uniads_bench.engine.calibrate import calibrate_profile, measure_throughput


def test_calibrate_profile_is_a_profiles_json_entry() -> None:
    entry = calibrate_profile(torch.device("cpu"), networks=("resnet8", "resnet14"), batch_size=2, steps=1, warmup=1)
    assert set(entry) == {"name", "flops_per_second", "source", "measured"}
    assert entry["name"].startswith("cpu-") and entry["name"] == entry["name"].lower()
    assert set(entry["measured"]) == {"resnet8", "resnet14"}
    assert all(v > 0 for v in entry["measured"].values())
    low, high = sorted(entry["measured"].values())
    assert entry["flops_per_second"] == (low + high) / 2  # the median of two networks is their mean
    assert "resnet8" in entry["source"] and torch.__version__ in entry["source"] and "fp32" in entry["source"]


def test_measure_throughput_runs_the_bf16_channels_last_variant() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(256, 10))
    args = ((3, 8, 8), 10, torch.device("cpu"))
    plain = measure_throughput(model, *args, batch_size=2, steps=1, warmup=1)
    fast = measure_throughput(model, *args, batch_size=2, steps=1, warmup=1, autocast_dtype=torch.bfloat16,
                              channels_last=True)
    assert plain.flops_per_second > 0 and fast.flops_per_second > 0
    assert model[0].weight.is_contiguous(memory_format=torch.channels_last)
