"""Rendering leaderboards as Markdown tables (tabulate), and merging new rows into a suite's board."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path

from tabulate import tabulate

from uniads_bench.errors import UserError
from uniads_bench.leaderboard.records import LeaderboardRow

HEADERS = ["rank", "method", "student", "params", "MACs", "top-1 % (mean ± std)",
           "best-epoch top-1 % (test-selected)", "n",
           "search {unit} used / declared", "evals", "HV", "measured s", "hardware"]


def budget_unit(profile: str, long: bool = False) -> str:
    """The unit of a suite's search budgets, named by its hardware profile: hours of that profile's measured or
    nominal throughput (a GPU-hour only on a GPU profile)."""
    gpu = profile.startswith("gpu")
    if long:
        return "GPU-hours" if profile == "gpu" else f"hours of {profile}"
    return "GPU-h" if gpu else f"h of {profile}"


def _count(value: int) -> str:
    if value >= 1_000_000:
        return f"{value / 1e6:.2f}M"
    if value >= 1_000:
        return f"{value / 1e3:.1f}K"
    return str(value)


def ranked_rows(rows: list[LeaderboardRow]) -> list[LeaderboardRow]:
    """The ranked rows (measured, status ok) in board order: by mean top-1, then fewer parameters, then method."""
    return sorted((r for r in rows if r.ranked), key=lambda r: (-r.top1_mean, r.params, r.method))


def ranked_cells(rank: int, r: LeaderboardRow) -> list[object]:
    """A ranked row's cells under `HEADERS`, as every rendering of the board shows them."""
    return [
        rank, r.method, r.student, _count(r.params), _count(r.macs), f"{r.top1_mean:.2f} ± {r.top1_std:.2f}",
        "-" if r.best_epoch_top1_mean is None else f"{r.best_epoch_top1_mean:.2f} ± {r.best_epoch_top1_std:.2f}",
        r.n, f"{r.budget_used_gpu_hours:.4g} / {r.budget_declared_gpu_hours:.4g}" if r.search_evaluations else "-",
        r.search_evaluations or "-", "-" if r.hypervolume is None else f"{r.hypervolume:.3f}",
        f"{r.wall_seconds:.0f}",
        r.hardware + (", bf16" if r.precision == "bf16" else ""),
    ]


def track_table(rows: list[LeaderboardRow], unit: str = "GPU-h") -> str:
    """The ranked rows of one track (measured, status ok), by mean top-1, as a Markdown table; search budgets
    in `unit` (`budget_unit`)."""
    body = [ranked_cells(rank, r) for rank, r in enumerate(ranked_rows(rows), start=1)]
    return tabulate(body, headers=[h.format(unit=unit) for h in HEADERS], tablefmt="github")


def condition_groups(rows: list[LeaderboardRow]) -> list[tuple[tuple[str, float, int, str], list[LeaderboardRow]]]:
    """`rows` split by what must match for a comparison (`LeaderboardRow.conditions`): a smoke run at a reduced
    budget scale or data limit, another machine or another precision is never ranked beside a full run. Full
    budget and full data come first, then by hardware, budget scale, data limit and precision."""
    groups: dict[tuple[str, float, int, str], list[LeaderboardRow]] = {}
    for row in rows:
        groups.setdefault(row.conditions(), []).append(row)
    order = sorted(groups, key=lambda c: (c[1] != 1.0 or c[2] != 0, c[0], -c[1], c[2], c[3]))
    return [(c, groups[c]) for c in order]


def describe_conditions(conditions: tuple[str, float, int, str]) -> str:
    """One phrase for a condition group: ``on AMD EPYC (2 cores), budget scale 0.2, first 2,000 images, fp32``."""
    hardware, scale, limit, precision = conditions
    return (f"on {hardware}, " + ("full budget" if scale == 1.0 else f"budget scale {scale:g}")
            + (f", first {limit:,} train images" if limit else "") + f", {precision}")


UNRANKED_HEADERS = ["method", "status", "student", "n", "top-1 % (not a result)", "run"]
REPORTED_HEADERS = ["method", "student", "params", "top-1 %", "source"]


def unranked_rows(rows: list[LeaderboardRow]) -> list[LeaderboardRow]:
    """Measured rows that are not results (a failed, diverged, degenerate or empty final phase), by method."""
    return sorted((r for r in rows if r.kind == "measured" and not r.ranked), key=lambda r: r.method)


def unranked_cells(r: LeaderboardRow) -> list[object]:
    """An unranked row's cells under `UNRANKED_HEADERS`."""
    return [r.method, r.status, r.student, r.n, "-" if math.isnan(r.top1_mean) else f"{r.top1_mean:.2f}", r.run_id]


def reported_cells(r: LeaderboardRow) -> list[object]:
    """A reported row's cells under `REPORTED_HEADERS`."""
    return [r.method, r.student, _count(r.params), f"{r.top1_mean:.2f}", r.source]


def unranked_table(rows: list[LeaderboardRow]) -> str:
    """Measured rows that are not results, with why."""
    return tabulate([unranked_cells(r) for r in unranked_rows(rows)], headers=UNRANKED_HEADERS, tablefmt="github")


def reported_table(rows: list[LeaderboardRow]) -> str:
    body = [reported_cells(r) for r in rows if r.kind == "reported"]
    return tabulate(body, headers=REPORTED_HEADERS, tablefmt="github")


def render_markdown(suite: str, rows: list[LeaderboardRow], header: str = "",
                    track_notes: Mapping[str, str] | None = None, unit: str = "GPU-h") -> str:
    """The whole board of a suite: one section per track (with its line of `track_notes`, if any), measured
    rows first, reported rows apart; search budgets in `unit`."""
    parts = [f"# Leaderboard: {suite}", ""]
    if header:
        parts += [header, ""]
    for track in sorted({r.track for r in rows}):
        track_rows = [r for r in rows if r.track == track]
        first = next((r for r in track_rows if r.kind == "measured"), track_rows[0])
        parts += [f"## Track `{track}`", ""]
        if first.teacher:
            parts += [f"Teacher `{first.teacher}`: test top-1 {first.teacher_top1:.2f}%.", ""]
        if track in (track_notes or {}):
            parts += [track_notes[track], ""]
        groups = condition_groups([r for r in track_rows if r.ranked])
        for conditions, group in groups:
            if len(groups) > 1:
                parts += [f"Measured {describe_conditions(conditions)} (ranked only against each other):", ""]
            parts += [track_table(group, unit), ""]
        if any(r.kind == "measured" and not r.ranked for r in track_rows):
            parts += ["Not ranked (the final phase did not produce a result):", "", unranked_table(track_rows), ""]
        if any(r.kind == "measured" for r in track_rows):
            notes = [f"- `{r.method}`: {r.note}" for r in track_rows if r.kind == "measured" and r.note]
            if notes:
                parts += ["Notes:", "", *notes, ""]
        if any(r.kind == "reported" for r in track_rows):
            parts += ["Published numbers (reported, not reproduced here):", "", reported_table(track_rows), ""]
    return "\n".join(parts)


def load_board(path: Path) -> list[LeaderboardRow]:
    """Rows of a leaderboard JSON file (empty when it does not exist)."""
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text())
        return [LeaderboardRow.from_json(r) for r in data["rows"]]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise UserError(f"leaderboard file {path} is damaged ({exc}); restore it (`git checkout` for the committed "
                        "boards) or move it away to start a new board there") from exc


def merge_rows(existing: list[LeaderboardRow], new_rows: list[LeaderboardRow]) -> list[LeaderboardRow]:
    """`existing` with `new_rows` added; a new row replaces an old one with the same key."""
    merged = {r.key(): r for r in existing}
    merged.update({r.key(): r for r in new_rows})
    return sorted(merged.values(), key=lambda r: (r.track, r.kind, -r.top1_mean, r.method))


def board_json(suite: str, rows: list[LeaderboardRow]) -> dict:
    return {"suite": suite, "rows": [r.to_json() for r in rows]}
