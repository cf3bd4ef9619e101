"""A run's search history read back from its journal and config, for plots and analysis.

The journal is the source of truth: evaluation records are grouped into one `SearchRun` per
(track, method, seed), in journal order, and the settings that give the numbers meaning (parameter cap,
top fidelity, budget) come from the run's resolved `config.json`. Reading is strictly read-only, so it is
safe on a run that is still going or was interrupted.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from uniads_bench.engine.result import EvalResult
from uniads_bench.errors import UserError
from uniads_bench.search.base import Observation
from uniads_bench.search.metrics import journal_observations


@dataclass(frozen=True)
class TrackSettings:
    """What a track's search results are measured against.

    Attributes:
        suite: the suite name (prefix of output file names).
        track: the track name.
        param_cap: the track's parameter cap; results above it are infeasible.
        max_epochs: the top fidelity of the search (`search.epochs`); only results there count as results.
        budget_gpu_hours: the declared search budget per (method, seed).
    """

    suite: str
    track: str
    param_cap: int
    max_epochs: int
    budget_gpu_hours: float


@dataclass(frozen=True)
class SearchRun:
    """The search-phase evaluations of one (track, method, seed), in journal order, with their charges."""

    track: str
    method: str
    seed: int
    observations: tuple[Observation, ...]
    charges: tuple[float, ...]


def method_of(record: Mapping[str, Any]) -> str:
    """The method of an evaluation record; its key is ``TRACK/METHOD/SEED/...``."""
    return str(record.get("method") or record["key"].split("/")[1])


def track_settings(config: Mapping[str, Any]) -> dict[str, TrackSettings]:
    """Per track name, its settings, from a run's resolved config (`config.json`)."""
    suite = config["suite"]
    search = suite["search"]
    return {
        t["name"]: TrackSettings(suite["name"], t["name"], int(t["param_cap"]), int(search["epochs"]),
                                 float(search["budget_gpu_hours"]))
        for t in suite["tracks"]
    }


def search_runs(records: Iterable[Mapping[str, Any]]) -> list[SearchRun]:
    """One `SearchRun` per (track, method, seed) with search-phase evaluations, in first-appearance order."""
    groups: dict[tuple[str, str, int], list[Mapping[str, Any]]] = {}
    for record in records:
        if record.get("type") == "evaluation" and record.get("phase", "search") == "search":
            groups.setdefault((record["track"], method_of(record), int(record["seed"])), []).append(record)
    runs = []
    for (track, method, seed), group in groups.items():
        observations, charges = journal_observations(group)
        runs.append(SearchRun(track, method, seed, tuple(observations), tuple(charges)))
    return runs


def final_results(records: Iterable[Mapping[str, Any]], track: str) -> dict[str, list[EvalResult]]:
    """Per method, the final-phase results of `track` (one per seed), in journal order."""
    out: dict[str, list[EvalResult]] = {}
    for record in records:
        if record.get("type") == "evaluation" and record.get("phase") == "final" and record["track"] == track:
            out.setdefault(method_of(record), []).append(EvalResult.from_json(record["result"]))
    return out


def read_records(path: Path) -> list[dict[str, Any]]:
    """The complete records of a journal, without touching the file: an unterminated last line (a torn
    append of a crashed run) is ignored, as resume would drop it."""
    complete, _, _torn = path.read_bytes().rpartition(b"\n")
    records = []
    for number, line in enumerate(complete.split(b"\n") if complete else [], start=1):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise UserError(f"{path} line {number} is damaged ({exc})") from exc
    return records


def load_run(run_dir: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The journal records and resolved config of a run directory.

    Raises:
        UserError: `run_dir` is not a run directory (no `journal.jsonl` or `config.json`) or a file is damaged.
    """
    run_dir = Path(run_dir)
    missing = [name for name in ("journal.jsonl", "config.json") if not (run_dir / name).is_file()]
    if missing:
        raise UserError(f"{run_dir} is not a run directory: missing {' and '.join(missing)}; pass a directory "
                        "written by `uniads-bench run` (runs/SUITE-DATE-...)")
    try:
        config = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
        track_settings(config)
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise UserError(f"{run_dir / 'config.json'} is not a run config ({exc!r})") from exc
    return read_records(run_dir / "journal.jsonl"), config
