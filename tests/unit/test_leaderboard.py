"""Leaderboard rows: merging replaces by key, reported rows stay apart, `check` catches bad boards."""

from __future__ import annotations

import dataclasses
import re

from uniads_bench.config import load_suite
from uniads_bench.leaderboard import check_rows, merge_rows, render_markdown, reported_rows
from uniads_bench.leaderboard.records import LeaderboardRow, mean_std
from uniads_bench.leaderboard.rows import SeedOutcome, row_status
from uniads_bench.results import EvalResult


def measured(method: str = "kd", top1=(70.0, 71.0, 72.0), **changes) -> LeaderboardRow:
    mean, std = mean_std(list(top1))
    row = LeaderboardRow(
        suite="s", track="t", method=method, kind="measured", student="ref", params=1000, macs=5000,
        top1_mean=mean, top1_std=std, n=len(top1), top1_per_seed=tuple(top1), seeds=tuple(range(len(top1))),
        hardware="cpu", config_hash="abc", git_commit="deadbeef", package_version="0.1.0", torch="2.14.1",
        run_id="run",
    )
    return dataclasses.replace(row, **changes)


def test_good_board_passes_and_merge_replaces_same_key() -> None:
    old = measured(top1=(60.0, 61.0, 62.0))
    new = measured()
    merged = merge_rows([old, measured("vanilla")], [new])
    assert len(merged) == 2 and new in merged and old not in merged
    assert check_rows(merged) == []


def test_check_finds_every_problem() -> None:
    rows = [
        measured(top1_mean=99.0),
        measured("vanilla", top1=(70.0,)),
        measured("dkd", git_commit=""),
        measured("dist", seeds=(0, 0, 1)),
        dataclasses.replace(reported_rows(load_suite("cifar100"))[0], source=""),
    ]
    problems = check_rows(rows)
    assert any("do not match the per-seed" in p for p in problems)
    assert any("at least 3 seeds" in p for p in problems)
    assert any("missing provenance field git_commit" in p for p in problems)
    assert any("duplicate seeds" in p for p in problems)
    assert any("needs its source" in p for p in problems)


def test_reported_rows_render_apart_from_measured() -> None:
    reported = [r for r in reported_rows(load_suite("cifar100")) if r.track == "res32x4_res8x4"]
    assert {r.method for r in reported} >= {"kd", "dkd", "dist", "vanilla"}
    assert next(r for r in reported if r.method == "dkd").top1_mean == 76.32
    row = dataclasses.replace(measured(), suite="cifar100", track="res32x4_res8x4")
    text = render_markdown("cifar100", [row, *reported])
    measured_part, reported_part = text.split("Published numbers (reported, not reproduced here):")
    assert "76.32" in reported_part and "76.32" not in measured_part
    assert "mdistiller README" in reported_part


def test_a_row_note_is_shown_under_its_track_table() -> None:
    """A note that says a row predates a fix must reach the reader, not stay in the JSON."""
    rows = [measured(), measured("random", note="measured before the warm-up fix; not re-measured")]
    text = render_markdown("s", rows)
    assert "- `random`: measured before the warm-up fix; not re-measured" in text
    assert "`kd`:" not in text


def test_committed_boards_pass_check() -> None:
    """Every board under leaderboards/ passes `uniads-bench leaderboard check` (schema, seeds, provenance)."""
    from pathlib import Path

    from uniads_bench.leaderboard import load_board

    boards = sorted((Path(__file__).resolve().parents[2] / "leaderboards").glob("*.json"))
    assert boards, "no committed leaderboard found"
    for path in boards:
        rows = load_board(path)
        assert rows and check_rows(rows) == [], path.name
        assert any(r.kind == "measured" for r in rows), path.name


def seed(top1: float | None, status: str = "ok") -> SeedOutcome:
    final = None if top1 is None else EvalResult("c", status, "", top1, 1000, 5000, 30.0, (), 1.0)
    return SeedOutcome(final, None, 0, 1.0)


def test_a_row_is_a_result_only_when_every_seed_trained_above_chance() -> None:
    assert row_status([seed(70.0), seed(71.0), seed(69.0)], chance_top1=15.0) == "ok"
    assert row_status([seed(70.0), seed(None), seed(69.0)], 15.0) == "no feasible candidate (1 of 3 seeds)"
    assert row_status([seed(10.0, "diverged"), seed(71.0), seed(10.0, "diverged")], 15.0) == "diverged (2 of 3 seeds)"
    assert row_status([seed(9.72), seed(10.0), seed(71.0)], 15.0) == "at chance (2 of 3 seeds at or below 15.0%)"


def test_rows_that_are_not_results_are_shown_apart_and_never_ranked() -> None:
    failed = measured("vanilla", top1=(10.0, 10.0, 10.0), status="diverged (3 of 3 seeds)")
    text = render_markdown("s", [measured(), failed])
    ranked, unranked = text.split("Not ranked (the final phase did not produce a result):")
    assert "| kd " in ranked and "vanilla" not in ranked
    assert "vanilla" in unranked and "diverged (3 of 3 seeds)" in unranked
    assert check_rows([measured(), dataclasses.replace(failed, n=1, top1_per_seed=(10.0,), seeds=(0,),
                                                       top1_mean=10.0, top1_std=0.0)]) == []


def test_a_smoke_run_is_ranked_apart_from_full_budget_rows() -> None:
    """A `--budget-scale 0.2` row of the same track never outranks (or is ranked beside) full-budget rows."""
    rows = merge_rows([], [measured("kd", (70.0, 71.0, 72.0)), measured("vanilla", (60.0, 61.0, 62.0)),
                           measured("kd", (90.0, 90.0, 90.0), budget_scale=0.2)])
    text = render_markdown("digits", rows)
    full, smoke = text.split("Measured on ")[1:]
    assert full.startswith("cpu, full budget, fp32")
    assert re.search(r"\|\s+1 \| kd ", full) and re.search(r"\|\s+2 \| vanilla ", full)
    assert smoke.startswith("cpu, budget scale 0.2, fp32") and re.search(r"\|\s+1 \| kd ", smoke)
    assert "vanilla" not in smoke and "90.00" not in full
    full_only = [r for r in rows if r.budget_scale == 1.0]
    assert "Measured on" not in render_markdown("digits", full_only)  # one condition set: one table, as before


def test_the_budget_column_names_its_unit_by_the_suites_profile() -> None:
    from uniads_bench.leaderboard.render import budget_unit

    rows = [measured("random", search_evaluations=12, budget_used_gpu_hours=0.4, budget_declared_gpu_hours=0.5)]
    cpu = render_markdown("digits", rows, unit=budget_unit("cpu-2core-reference"))
    assert "search h of cpu-2core-reference used / declared" in cpu and "GPU-h" not in cpu
    assert "search GPU-h used / declared" in render_markdown("cifar100", rows, unit=budget_unit("gpu-a100"))


def test_plot_legends_say_which_split_and_fidelity_each_mark_is() -> None:
    from uniads_bench.leaderboard.plots import final_label, search_label

    assert search_label("uniads", 40, 477, 10) == "uniads: search, val @10 ep (40 of 477 evaluations)"
    assert final_label("kd", 3) == "kd: final, test (3 seeds)" and final_label("kd", 1).endswith("(1 seed)")
