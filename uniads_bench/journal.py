"""The run journal's records: typed, with one reader and one filter, for everything that reads a run.

A run's journal (`journal.jsonl`, written only by `runner/journal.py`) is what resume, replay tables, plots,
analysis and `compare` stand on. Each line is one of three records:

- `EvaluationRecord`: one training of a candidate at a fidelity (search rung or final phase), its charge
  and result; keyed ``TRACK/METHOD/SEED/search/N`` or ``TRACK/METHOD/SEED/final``.
- `RetryRecord`: a task that was submitted again after its worker died (the evaluation follows it).
- `SearchEndRecord`: how a search ended: the candidate it chose, its spend, why it stopped
  (`STOP_REASONS`) and the searcher's final state.

The JSON field names are the journal format; `from_json` reads journals written before `stop_reason`
existed (it is then empty).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from uniads_bench.candidate import Candidate
from uniads_bench.errors import UserError
from uniads_bench.results import EvalResult

# Why a search loop ended: the searcher had nothing more to ask, the next ask did not fit the budget, the
# suite's max_evaluations was reached, or too many evaluations failed (search.max_failure_share).
STOP_REASONS = ("exhausted", "budget", "max_evaluations", "failures")


@dataclass(frozen=True)
class EvaluationRecord:
    """One evaluation as journaled: where it belongs, what was trained, what it was charged and its result."""

    key: str
    track: str
    phase: str  # "search" or "final"
    seed: int
    candidate: Candidate
    epochs: int
    guard: bool
    charge_gpu_hours: float
    spent_gpu_hours: float
    result: EvalResult

    @property
    def method(self) -> str:
        return self.key.split("/")[1]

    @property
    def candidate_id(self) -> str:
        return self.candidate.id

    def to_json(self) -> dict[str, Any]:
        return {"type": "evaluation", "key": self.key, "track": self.track, "phase": self.phase, "seed": self.seed,
                "candidate_id": self.candidate.id, "candidate": self.candidate.to_json(), "epochs": self.epochs,
                "guard": self.guard, "charge_gpu_hours": self.charge_gpu_hours,
                "spent_gpu_hours": self.spent_gpu_hours, "result": self.result.to_json()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EvaluationRecord:
        return cls(str(data["key"]), str(data["track"]), str(data.get("phase", "search")), int(data["seed"]),
                   Candidate.from_json(data["candidate"]), int(data["epochs"]), bool(data.get("guard", False)),
                   float(data.get("charge_gpu_hours", 0.0)), float(data.get("spent_gpu_hours", 0.0)),
                   EvalResult.from_json(data["result"]))


@dataclass(frozen=True)
class RetryRecord:
    """A task submitted again (`attempt` 1, 2, ...) after `reason` (a dead worker or node)."""

    key: str
    attempt: int
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"type": "retry", "key": self.key, "attempt": self.attempt, "reason": self.reason}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RetryRecord:
        return cls(str(data["key"]), int(data["attempt"]), str(data["reason"]))


@dataclass(frozen=True)
class SearchEndRecord:
    """The end of one search (key ``TRACK/METHOD/SEED/search-end``)."""

    key: str
    track: str
    method: str
    seed: int
    chosen: Candidate | None
    evaluations: int
    spent_gpu_hours: float
    stop_reason: str = ""
    state: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data.update(type="search", chosen=self.chosen.to_json() if self.chosen else None)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SearchEndRecord:
        chosen = data.get("chosen")
        return cls(str(data["key"]), str(data["track"]), str(data["method"]), int(data["seed"]),
                   Candidate.from_json(chosen) if chosen else None, int(data["evaluations"]),
                   float(data["spent_gpu_hours"]), str(data.get("stop_reason", "")), dict(data.get("state") or {}))


JournalRecord = EvaluationRecord | RetryRecord | SearchEndRecord
_TYPES: dict[str, type[EvaluationRecord] | type[RetryRecord] | type[SearchEndRecord]] = {
    "evaluation": EvaluationRecord, "retry": RetryRecord, "search": SearchEndRecord,
}


def record_from_json(data: Mapping[str, Any]) -> JournalRecord:
    """The typed record of one parsed journal line (KeyError/ValueError/TypeError on a malformed one)."""
    return _TYPES[data["type"]].from_json(data)


def parse_journal(raw: bytes, path: Path) -> tuple[list[JournalRecord], bytes]:
    """The records of a journal's bytes and its torn tail (an unterminated last line: a crash mid-append).

    Raises:
        UserError: a complete line that is not a journal record, named by its line number.
    """
    complete, _, torn = raw.rpartition(b"\n")
    records = []
    for number, line in enumerate(complete.split(b"\n") if complete else [], start=1):
        try:
            records.append(record_from_json(json.loads(line)))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise UserError(f"{path} line {number} is damaged ({exc!r}); it is not a journal record") from exc
    return records, torn


def read_journal(path: Path) -> list[JournalRecord]:
    """The complete records of the journal at `path`, read-only (a torn last line is ignored, as resume
    drops it), so it is safe on a run that is still going."""
    return parse_journal(path.read_bytes(), path)[0] if path.exists() else []


def evaluations(records: Iterable[JournalRecord], phase: str | None = "search",
                track: str | None = None) -> Iterator[EvaluationRecord]:
    """The evaluation records of `phase` (None: both) and `track` (None: all), in journal order."""
    for record in records:
        if (isinstance(record, EvaluationRecord) and (phase is None or record.phase == phase)
                and (track is None or record.track == track)):
            yield record
