"""The deterministic cost model: FLOPs of the work done, divided by a named hardware profile's throughput.

Search budgets are declared in GPU-hours of a profile. A charge depends only on the candidate's size, the
epochs it trained and which teacher views were new to the track, never on measured time, so every
decision replays exactly; measured seconds are logged beside each charge.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources

from uniads_bench.errors import UserError

# A training step costs about three forward passes (forward, input gradients, weight gradients).
TRAIN_FORWARD_MULTIPLE = 3.0


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


@dataclass(frozen=True)
class CostModel:
    """Charges evaluations of one track in GPU-hours of `profile`."""

    profile: HardwareProfile
    teacher_macs: int

    def charge(self, student_macs: int, epochs_done: float, train_samples: int, eval_samples: int,
               new_teacher_views: int) -> float:
        """GPU-hours of training `epochs_done` epochs over `train_samples`, scoring `eval_samples` once, and
        computing `new_teacher_views` epochs of teacher outputs (views the teacher cache could not serve)."""
        student = 2 * student_macs * (TRAIN_FORWARD_MULTIPLE * epochs_done * train_samples + eval_samples)
        teacher = 2 * self.teacher_macs * new_teacher_views * train_samples
        return (student + teacher) / self.profile.flops_per_second / 3600.0
