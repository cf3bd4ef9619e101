"""Publishing a suite's board: merge new rows under the board's lock, write records and rendering atomically."""

from __future__ import annotations

from pathlib import Path

from uniads_bench.config import Suite
from uniads_bench.durable import atomic_write_json, atomic_write_text, remove_stale_temps
from uniads_bench.leaderboard.records import LeaderboardRow, reported_rows
from uniads_bench.leaderboard.render import board_json, budget_unit, load_board, merge_rows, render_markdown
from uniads_bench.locks import board_lock


def board_header(suite: Suite) -> str:
    """What every number of the board means (split, epoch, statistics, provenance)."""
    return (f"Suite `{suite.name}` ({suite.description}). Top-1 on the test split at the last epoch of the final "
            "phase, mean ± sample std over seeds; search decisions used only the validation split. The best-epoch "
            "column is the best test top-1 over the final phase's epochs (selected on the test set, as mdistiller's "
            "README reports; `-` for rows measured before it was recorded): read it only beside published best-epoch "
            "numbers. Measured rows come from `uniads-bench run` on the hardware named in each row; published "
            "numbers are listed apart.")


def track_notes(suite: Suite) -> dict[str, str]:
    """A line per track whose parameter cap is not its reference student's size, saying why."""
    return {t.name: f"Parameter cap {t.param_cap:,}: {t.cap_note}." for t in suite.tracks if t.cap_note}


def publish_rows(directory: Path, suite: Suite, rows: list[LeaderboardRow]) -> None:
    """Merge `rows` into the suite's leaderboard under its lock, so concurrent runs never drop a row."""
    path = directory / f"{suite.name}.json"
    with board_lock(path):
        write_board(directory, suite, merge_rows(load_board(path), rows + reported_rows(suite)))


def write_board(directory: Path, suite: Suite, rows: list[LeaderboardRow]) -> None:
    """Write a suite's leaderboard records (JSON) and their rendering (Markdown), each atomically. Callers hold
    the board's lock, so temp files of these two files can only be a killed writer's and are removed."""
    for name in (f"{suite.name}.json", f"{suite.name}.md"):
        remove_stale_temps(directory, name)
    atomic_write_json(directory / f"{suite.name}.json", board_json(suite.name, rows))
    text = render_markdown(suite.name, rows, board_header(suite), track_notes(suite),
                           budget_unit(suite.hardware_profile))
    atomic_write_text(directory / f"{suite.name}.md", text)
