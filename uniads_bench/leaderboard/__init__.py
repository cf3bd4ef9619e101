"""Leaderboards: rows with provenance, reported rows apart, aggregation over seeds, rendering and checks."""

from uniads_bench.leaderboard.check import check_rows
from uniads_bench.leaderboard.publish import publish_rows, write_board
from uniads_bench.leaderboard.records import LeaderboardRow, mean_std, reported_rows
from uniads_bench.leaderboard.render import board_json, load_board, merge_rows, render_markdown, track_table

__all__ = [
    "LeaderboardRow",
    "board_json",
    "check_rows",
    "load_board",
    "mean_std",
    "merge_rows",
    "publish_rows",
    "render_markdown",
    "reported_rows",
    "track_table",
    "write_board",
]
