"""What one evaluation produces, as frozen dataclasses that cross module boundaries."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

STATUSES = ("ok", "rejected", "diverged", "oom", "failed")


@dataclass(frozen=True)
class Fidelity:
    """How much training an evaluation gets: epochs of the train split (scaled recipe)."""

    epochs: int


@dataclass(frozen=True)
class EvalResult:
    """The outcome of training one candidate at one fidelity.

    `top1` is validation accuracy (%) during search and test accuracy at the last epoch in the final phase.
    `best_epoch_top1` (final phase only) is the best test accuracy over the epochs and `best_epoch` its 1-based
    epoch: selected on the test set, so it is shown only beside published best-epoch numbers and never decides
    anything. `wall_seconds` is measured and never used for decisions; the cost-model charge is the ledger's.
    `test_top1` (tabular benchmarks only) is the test accuracy of a search-phase training that completed, recorded
    for the table's datasheet and regret; no searcher ever sees it.
    """

    candidate_id: str
    status: str
    reason: str
    top1: float
    params: int
    macs: int
    epochs_done: float
    teacher_views: tuple[str, ...]
    wall_seconds: float
    loss_first: dict[str, float] = field(default_factory=dict)
    loss_last: dict[str, float] = field(default_factory=dict)
    cache_hits: int = 0
    cache_misses: int = 0
    traceback: str = ""
    best_epoch_top1: float | None = None
    best_epoch: int | None = None
    test_top1: float | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["teacher_views"] = list(self.teacher_views)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EvalResult:
        values = dict(data)
        values["teacher_views"] = tuple(values.get("teacher_views", ()))
        return cls(**values)
