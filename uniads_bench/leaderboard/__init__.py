"""Leaderboards: rows with provenance, aggregation over seeds, Markdown rendering and merging."""

from uniads_bench.leaderboard.records import LeaderboardRow, mean_std
from uniads_bench.leaderboard.render import board_json, load_board, merge_rows, render_markdown, track_table

__all__ = ["LeaderboardRow", "load_board", "mean_std", "render_markdown", "track_table", "board_json", "merge_rows"]
