"""`leaderboard check`: a committed board must hold only well-formed measured rows with their provenance,
and reported rows with their source."""

from __future__ import annotations

import math

from uniads_bench.leaderboard.records import KINDS, LeaderboardRow, mean_std

MIN_SEEDS = 3
REQUIRED_PROVENANCE = ("hardware", "config_hash", "git_commit", "package_version", "torch", "run_id")


def check_rows(rows: list[LeaderboardRow]) -> list[str]:
    """Every problem of a board, one line each, naming the row (track/method/kind)."""
    problems: list[str] = []
    seen: set[tuple] = set()
    for row in rows:
        where = f"{row.track}/{row.method} ({row.kind})"
        if row.key() in seen:
            problems.append(f"{where}: duplicate row")
        seen.add(row.key())
        if row.kind not in KINDS:
            problems.append(f"{where}: kind must be one of {KINDS}")
            continue
        if row.kind == "reported":
            if not row.source:
                problems.append(f"{where}: a reported row needs its source")
            continue
        problems += [f"{where}: missing provenance field {name}" for name in REQUIRED_PROVENANCE
                     if not getattr(row, name)]
        if row.n != len(row.top1_per_seed):
            problems.append(f"{where}: n={row.n} but {len(row.top1_per_seed)} per-seed results")
        if len(set(row.seeds)) != len(row.seeds):
            problems.append(f"{where}: duplicate seeds {list(row.seeds)}")
        if row.ranked and row.budget_scale == 1.0 and not row.data_limit and row.n < MIN_SEEDS:
            problems.append(f"{where}: a full-budget row needs at least {MIN_SEEDS} seeds, has {row.n}")
        if row.n:
            mean, std = mean_std(list(row.top1_per_seed))
            if not (math.isclose(mean, row.top1_mean, abs_tol=1e-6) and math.isclose(std, row.top1_std, abs_tol=1e-6)):
                problems.append(f"{where}: mean/std {row.top1_mean:.4f}/{row.top1_std:.4f} do not match the "
                                f"per-seed results ({mean:.4f}/{std:.4f})")
        if row.source:
            problems.append(f"{where}: a measured row must not carry a publication source")
        if row.budget_used_gpu_hours > row.budget_declared_gpu_hours * (1 + 1e-9) and row.search_evaluations:
            problems.append(f"{where}: used {row.budget_used_gpu_hours:.4g} of a {row.budget_declared_gpu_hours:.4g} "
                            "GPU-h budget")
    return problems
