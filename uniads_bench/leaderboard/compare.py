"""`compare`: a new distiller's rows against every measured method of the same track, with Welch's t-test."""

from __future__ import annotations

from dataclasses import dataclass

from scipy import stats

from uniads_bench.leaderboard.records import LeaderboardRow

# `compare` names a user's distiller's rows `user:NAME`, so boards and the site can tell them from the suite's.
USER_PREFIX = "user:"
DELTA_HEADERS = ["method", "top-1 %", "n", "delta", "Welch p"]


@dataclass(frozen=True)
class Delta:
    """The new method minus one existing method on a track, with Welch's t-test over seeds."""

    track: str
    method: str
    top1_mean: float
    top1_std: float
    n: int
    delta: float
    p_value: float | None


def compare_rows(new: LeaderboardRow, board: list[LeaderboardRow]) -> list[Delta]:
    """Deltas of `new` against the measured rows of its track measured under the same conditions (hardware,
    budget scale, data limit, precision); a p-value needs at least two seeds on each side."""
    conditions = new.conditions()
    out = []
    for row in board:
        if (not row.ranked or row.track != new.track or row.method == new.method
                or row.conditions() != conditions):
            continue
        p_value = None
        if new.n >= 2 and row.n >= 2:
            p_value = float(stats.ttest_ind(new.top1_per_seed, row.top1_per_seed, equal_var=False).pvalue)
        out.append(Delta(row.track, row.method, row.top1_mean, row.top1_std, row.n, new.top1_mean - row.top1_mean,
                         p_value))
    return sorted(out, key=lambda d: -d.top1_mean)


def is_user_row(row: LeaderboardRow) -> bool:
    """Whether `row` was measured by `uniads-bench compare` for a user's distiller."""
    return row.method.startswith(USER_PREFIX)


def delta_cells(delta: Delta) -> list[object]:
    """A delta's cells under `DELTA_HEADERS`, as `compare` prints them."""
    return [delta.method, f"{delta.top1_mean:.2f} ± {delta.top1_std:.2f}", delta.n, f"{delta.delta:+.2f}",
            "-" if delta.p_value is None else f"{delta.p_value:.3g}"]
