"""The static leaderboard site: the committed copy is the committed boards' rendering, tables show the board's
own cells, and writing it replaces a whole earlier site or nothing."""

from __future__ import annotations

import dataclasses
import errno
from pathlib import Path

import pytest

from uniads_bench.errors import UserError
from uniads_bench.leaderboard.render import HEADERS
from uniads_bench.leaderboard.site import RANKED_SORT, Board, find_boards, site_files, write_site

ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_site_is_the_rendering_of_the_committed_boards() -> None:
    committed = {p.name: p.read_bytes() for p in (ROOT / "docs" / "site").iterdir() if p.is_file()}
    fresh = site_files(find_boards(ROOT / "leaderboards"))
    stale = sorted(name for name in fresh.keys() | committed.keys() if fresh.get(name) != committed.get(name))
    assert stale == [], "docs/site is out of date with leaderboards/: run `make site`"


def test_every_board_column_has_a_sort_key() -> None:
    assert len(RANKED_SORT) == len(HEADERS)


def test_a_failed_write_leaves_the_earlier_site_and_no_temp_dir(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    boards = find_boards(ROOT / "leaderboards")
    out = tmp_path / "site"
    write_site(out, boards)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    real = Path.write_bytes
    calls = []

    def fill_the_disk(self: Path, data: bytes) -> int:
        calls.append(self)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", fill_the_disk)
    with pytest.raises(UserError, match="no space left.*nothing was replaced"):
        write_site(out, boards)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]


def test_a_board_without_plots_or_known_suite_still_renders(tmp_path: Path) -> None:
    [digits] = [b for b in find_boards(ROOT / "leaderboards") if b.suite == "digits"]
    files = site_files([Board("someone_elses", [r for r in digits.rows if r.track == "cnn"], tmp_path)])
    assert sorted(files) == ["index.html", "someone_elses.html"]
    assert "99.11 ± 0.63" in files["someone_elses.html"].decode()


def test_smoke_rows_are_ranked_apart_and_failed_rows_listed_with_why(tmp_path: Path) -> None:
    [digits] = [b for b in find_boards(ROOT / "leaderboards") if b.suite == "digits"]
    rows = [r for r in digits.rows if r.track == "cnn"]
    smoke = dataclasses.replace(rows[0], budget_scale=0.2, top1_mean=12.5, top1_std=0.5)
    failed = dataclasses.replace(rows[1], method="dist", status="diverged (2 of 5 seeds)", run_id="run-that-failed")
    page = site_files([Board("digits", [*rows, smoke, failed], tmp_path)])["digits.html"].decode()
    full, reduced = page.split("budget scale 0.2, fp32 (ranked only against each other)</h3>")
    assert "full budget, fp32 (ranked only against each other)</h3>" in full
    assert "12.50 ± 0.50" in reduced.split("Not ranked")[0] and "12.50 ± 0.50" not in full
    not_ranked = reduced.split("Not ranked (the final phase did not produce a result)")[1]
    assert "diverged (2 of 5 seeds)" in not_ranked and "run-that-failed" in not_ranked
