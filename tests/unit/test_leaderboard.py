"""Leaderboard rows: merging replaces by key, reported rows stay apart, `check` catches bad boards."""

from __future__ import annotations

import dataclasses

from uniads_bench.config import load_suite
from uniads_bench.leaderboard import check_rows, merge_rows, render_markdown, reported_rows
from uniads_bench.leaderboard.records import LeaderboardRow, mean_std


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
