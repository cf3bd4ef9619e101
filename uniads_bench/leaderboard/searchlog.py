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

from uniads_bench.errors import UserError
from uniads_bench.journal import JournalRecord, evaluations, read_journal
from uniads_bench.results import EvalResult
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


def track_settings(config: Mapping[str, Any]) -> dict[str, TrackSettings]:
    """Per track name, its settings, from a run's resolved config (`config.json`)."""
    suite = config["suite"]
    search = suite["search"]
    return {
        t["name"]: TrackSettings(suite["name"], t["name"], int(t["param_cap"]), int(search["epochs"]),
                                 float(search["budget_gpu_hours"]))
        for t in suite["tracks"]
    }


def search_runs(records: Iterable[JournalRecord]) -> list[SearchRun]:
    """One `SearchRun` per (track, method, seed) with search-phase evaluations, in first-appearance order."""
    groups: dict[tuple[str, str, int], list[JournalRecord]] = {}
    for record in evaluations(records, "search"):
        groups.setdefault((record.track, record.method, record.seed), []).append(record)
    runs = []
    for (track, method, seed), group in groups.items():
        observations, charges = journal_observations(group)
        runs.append(SearchRun(track, method, seed, tuple(observations), tuple(charges)))
    return runs


def final_results(records: Iterable[JournalRecord], track: str) -> dict[str, list[EvalResult]]:
    """Per method, the final-phase results of `track` (one per seed), in journal order."""
    out: dict[str, list[EvalResult]] = {}
    for record in evaluations(records, "final", track):
        out.setdefault(record.method, []).append(record.result)
    return out


def load_run(run_dir: Path) -> tuple[list[JournalRecord], dict[str, Any]]:
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
    return read_journal(run_dir / "journal.jsonl"), config
