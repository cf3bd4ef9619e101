"""Leaderboard rows: one per (suite, track, method, hardware), measured by a run or reported by a paper."""

from __future__ import annotations

import dataclasses
import statistics
from dataclasses import dataclass, field
from typing import Any

from uniads_bench.config import Suite

KINDS = ("measured", "reported")


@dataclass(frozen=True)
class LeaderboardRow:
    """A method's result on a track. Measured rows come from a run and carry its provenance; reported rows
    quote a publication (`source`) and are never mixed with measured ones."""

    suite: str
    track: str
    method: str
    kind: str
    student: str
    params: int
    macs: int
    top1_mean: float
    top1_std: float
    n: int
    top1_per_seed: tuple[float, ...]
    seeds: tuple[int, ...]
    hardware: str
    budget_declared_gpu_hours: float = 0.0
    budget_used_gpu_hours: float = 0.0
    search_evaluations: int = 0
    hypervolume: float | None = None  # mean over seeds of the search's final hypervolume (search.metrics)
    wall_seconds: float = 0.0
    budget_scale: float = 1.0
    data_limit: int = 0
    precision: str = "fp32"  # the candidates' effective precision (bf16 autocast or fp32); "" for reported rows
    teacher: str = ""
    teacher_top1: float = 0.0
    config_hash: str = ""
    git_commit: str = ""
    package_version: str = ""
    torch: str = ""
    run_id: str = ""
    source: str = ""
    note: str = ""
    statuses: tuple[str, ...] = field(default=())
    # Mean and std over seeds of each final training's best test epoch: selected on the test set, so shown only
    # to compare with published best-epoch numbers (mdistiller's README); None for rows measured before it was kept.
    best_epoch_top1_mean: float | None = None
    best_epoch_top1_std: float | None = None
    # "ok", or why the row is not a result (`rows.row_status`): kept on the board, outside the ranking.
    status: str = "ok"

    @property
    def ranked(self) -> bool:
        return self.kind == "measured" and self.status == "ok"

    def key(self) -> tuple[str, str, str, str, float, int, str]:
        """Rows with the same key replace each other when a leaderboard is updated."""
        return (self.track, self.method, self.kind, self.hardware, self.budget_scale, self.data_limit, self.precision)

    def conditions(self) -> tuple[str, float, int, str]:
        """What must match for two measured rows to be compared: hardware, budget scale, data, precision."""
        return (self.hardware, self.budget_scale, self.data_limit, self.precision)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LeaderboardRow:
        values = dict(data)
        for name in ("top1_per_seed", "seeds", "statuses"):
            values[name] = tuple(values.get(name, ()))
        return cls(**values)


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    if not values:
        return float("nan"), float("nan")
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def reported_rows(suite: Suite) -> list[LeaderboardRow]:
    """The published results a suite quotes for its tracks, as `reported` rows."""
    return [
        LeaderboardRow(
            suite=suite.name, track=track.name, method=r.method, kind="reported", student=r.student,
            params=r.params, macs=0, top1_mean=r.top1, top1_std=float("nan"), n=0, top1_per_seed=(), seeds=(),
            hardware="", source=r.source, precision="",
        )
        for track in suite.tracks
        for r in track.reported
    ]
