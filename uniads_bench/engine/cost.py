"""Named hardware profiles: the sustained throughput that turns FLOPs into GPU-hours (`budget.FlopCost`).

Search budgets are declared in GPU-hours of a profile; measured seconds are logged beside each charge and
never decide anything.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources

from uniads_bench.errors import UserError


@dataclass(frozen=True)
class HardwareProfile:
    """Sustained training throughput of a device, measured by `uniads-bench calibrate` or by hand."""

    name: str
    flops_per_second: float
    source: str


def load_profile(name: str) -> HardwareProfile:
    """A profile from the package's `profiles.json`."""
    profiles = json.loads(resources.files("uniads_bench.engine").joinpath("profiles.json").read_text())
    if name not in profiles:
        raise UserError(f"unknown hardware profile {name!r}; known: {', '.join(sorted(profiles))}")
    entry = profiles[name]
    return HardwareProfile(name, float(entry["flops_per_second"]), entry["source"])

