"""Building a measured leaderboard row from what one (track, method) produced over its seeds."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from uniads_bench.config import Suite
from uniads_bench.leaderboard.records import LeaderboardRow, mean_std
from uniads_bench.results import EvalResult


@dataclass(frozen=True)
class SeedOutcome:
    """One (method, seed) of a track: its final result (None when the search found nothing feasible), and
    for search methods the GPU-hours charged and evaluations made."""

    final: EvalResult | None
    spent_gpu_hours: float | None
    evaluations: int
    wall_seconds: float
    hypervolume: float | None = None


@dataclass(frozen=True)
class RunConditions:
    """What every row of one run shares: the resolved suite, the run's provenance (`runner.provenance`) and
    the conditions its numbers were measured under."""

    suite: Suite
    provenance: Mapping[str, Any]
    budget_scale: float
    data_limit: int
    run_id: str


def row_status(outcomes: list[SeedOutcome], chance_top1: float) -> str:
    """"ok" when every seed's final training finished above chance; else what went wrong, and on how many
    seeds: a search that found no feasible candidate, a final training that diverged or failed, or a final
    student at chance accuracy (a degenerate recipe). Such a row is never ranked."""
    n = len(outcomes)
    missing = sum(o.final is None for o in outcomes)
    if missing:
        return f"no feasible candidate ({missing} of {n} seeds)"
    finals = [o.final for o in outcomes if o.final is not None]
    bad = [f.status for f in finals if f.status != "ok"]
    if bad:
        return f"{max(set(bad), key=bad.count)} ({len(bad)} of {n} seeds)"
    at_chance = sum(f.top1 <= chance_top1 for f in finals)
    if at_chance:
        return f"at chance ({at_chance} of {n} seeds at or below {chance_top1:.1f}%)"
    return "ok"


def measured_row(run: RunConditions, track: str, method: str, searched: bool, reference: Mapping[str, Any],
                 outcomes: list[SeedOutcome], precision: str, teacher_top1: float,
                 chance_top1: float) -> LeaderboardRow:
    """The row of `method` on `track`: mean and sample std of the final top-1 over the seeds that produced a
    final result, the search's spend and hypervolume averaged over seeds, and the run's provenance.

    Args:
        searched: a search method (its student is what each seed's search chose) rather than a fixed one
            (the track's `reference` student).
        precision: the final phase's precision ("fp32" or "bf16"), which changes the numbers.
        chance_top1: the top-1 at or below which a final student counts as untrained (`row_status`).
    """
    suite, prov = run.suite, run.provenance
    finals = [o.final for o in outcomes if o.final is not None]
    spent = [o.spent_gpu_hours for o in outcomes if o.spent_gpu_hours is not None]
    volumes = [o.hypervolume for o in outcomes if o.hypervolume is not None]
    top1 = [f.top1 for f in finals]
    mean, std = mean_std(top1)
    best = [f.best_epoch_top1 for f in finals if f.best_epoch_top1 is not None]
    best_mean, best_std = mean_std(best) if best and len(best) == len(finals) else (None, None)
    student = (f"searched ({len(finals)} seeds)" if searched
               else "reference " + " ".join(f"{k}={v}" for k, v in sorted(reference.items())))
    return LeaderboardRow(
        suite=suite.name, track=track, method=method, kind="measured", student=student,
        params=round(mean_std([f.params for f in finals])[0]) if finals else 0,
        macs=round(mean_std([f.macs for f in finals])[0]) if finals else 0,
        top1_mean=mean, top1_std=std, n=len(finals), top1_per_seed=tuple(top1),
        seeds=tuple(suite.seeds), hardware=prov["hardware"],
        budget_declared_gpu_hours=suite.search.budget_gpu_hours if searched else 0.0,
        budget_used_gpu_hours=mean_std(spent)[0] if spent else 0.0,
        search_evaluations=sum(o.evaluations for o in outcomes),
        hypervolume=mean_std(volumes)[0] if volumes else None,
        wall_seconds=sum(o.wall_seconds for o in outcomes), budget_scale=run.budget_scale,
        data_limit=run.data_limit, precision=precision, teacher=suite.track(track).teacher,
        teacher_top1=teacher_top1, config_hash=suite.config_hash(), git_commit=prov["git_commit"],
        package_version=prov["package_version"], torch=prov["torch"], run_id=run.run_id,
        statuses=tuple(f.status for f in finals), best_epoch_top1_mean=best_mean, best_epoch_top1_std=best_std,
        status=row_status(outcomes, chance_top1),
    )
