"""`uniads-bench leaderboard site` end to end: the real CLI renders copies of the committed boards and a board
with a user's distiller and published rows; its pages hold the boards' own cells and load nothing remote."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from uniads_bench.config import load_suite
from uniads_bench.durable import atomic_write_json
from uniads_bench.leaderboard import board_json, load_board, mean_std, reported_rows
from uniads_bench.leaderboard.compare import compare_rows, delta_cells
from uniads_bench.leaderboard.render import ranked_cells, ranked_rows, reported_cells

ROOT = Path(__file__).resolve().parents[2]
# Any load from another host: src/href/srcset/action/poster (http, https or protocol-relative), CSS url() or @import.
REMOTE = re.compile(r"""(?:\b(?:src|href|srcset|action|poster|data)\s*=\s*["']?\s*(?:https?:)?//)"""
                    r"""|(?:url\(\s*["']?\s*(?:https?:)?//)|@import""", re.IGNORECASE)


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("UNIADS_LEADERBOARD_DIR", "UNIADS_COMMITTED_BOARDS")}
    return subprocess.run([sys.executable, "-m", "uniads_bench", "leaderboard", "site", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


class Tables(HTMLParser):
    """Every <table> of a page: its class and its rows (the <tr> class and each cell's text)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tables: list[tuple[str, list[tuple[str, list[str]]]]] = []
        self._cell: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "table":
            self.tables.append((attributes.get("class") or "", []))
        elif tag == "tr" and self.tables:
            self.tables[-1][1].append((attributes.get("class") or "", []))
        elif tag in ("td", "th") and self.tables:
            self._cell = []

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][1][-1][1].append("".join(self._cell))
            self._cell = None

    def rows(self, kind: str) -> list[list[str]]:
        """The cells of the data rows (`tr.row`) of every table of class `kind`, in page order."""
        return [cells for css, rows in self.tables if kind in css.split() for row_css, cells in rows
                if "row" in row_css.split()]


def assert_nothing_remote(site: Path) -> None:
    for path in site.iterdir():
        if path.suffix == ".html":
            assert REMOTE.findall(path.read_text()) == [], path.name


def test_the_committed_boards_render_into_a_self_contained_site(tmp_path: Path) -> None:
    boards = tmp_path / "boards"
    shutil.copytree(ROOT / "leaderboards", boards)
    result = cli("--out", str(tmp_path / "site"), "--leaderboard-dir", str(boards), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    site = tmp_path / "site"
    assert {"index.html", "digits.html", "cifar10_cpu.html", "digits-cnn-equal-pareto.png",
            "cifar10_cpu-res20_res8-anytime.png"} <= {p.name for p in site.iterdir()}
    assert (site / "digits-cnn-pareto.png").read_bytes() == (boards / "digits-cnn-pareto.png").read_bytes()
    for suite in ("digits", "cifar10_cpu"):
        page = (site / f"{suite}.html").read_text()
        rows = load_board(boards / f"{suite}.json")
        for row in rows:
            assert f"{row.top1_mean:.2f} ± {row.top1_std:.2f}" in page
        # The tables hold the Markdown board's cells, track by track, in rank order, plus each row's record link.
        expected = [[str(c) for c in ranked_cells(rank, r)] + ["record"]
                    for track in sorted({r.track for r in rows})
                    for rank, r in enumerate(ranked_rows([r for r in rows if r.track == track]), start=1)]
        assert Tables(page).rows("board") == expected
        for row in rows:  # each row's record holds its exact stored numbers
            assert f"<dd>{row.top1_mean!r}</dd>" in page and f"<dd>{row.git_commit}</dd>" in page
    assert 'href="digits.html#track-cnn-equal"' in (site / "index.html").read_text()
    assert_nothing_remote(site)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["boards", "site"]  # no temp folder left


def test_a_users_distiller_and_published_numbers_are_shown_apart(tmp_path: Path) -> None:
    rows = load_board(ROOT / "leaderboards" / "digits.json")
    kd = next(r for r in rows if r.track == "cnn-equal" and r.method == "kd")
    seeds = (98.5, 97.25, 98.75, 99.0, 97.5)
    mean, std = mean_std(list(seeds))
    user = dataclasses.replace(kd, method="user:mykd", top1_per_seed=seeds, top1_mean=mean, top1_std=std)
    published = [dataclasses.replace(r, suite="digits", track="cnn-equal")
                 for r in reported_rows(load_suite("cifar100")) if r.track == "res32x4_res8x4"][:3]
    boards = tmp_path / "boards"
    atomic_write_json(boards / "digits.json", board_json("digits", [*rows, user, *published]))
    result = cli("--out", str(tmp_path / "site"), "--leaderboard-dir", str(boards), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    page = (tmp_path / "site" / "digits.html").read_text()
    tables = Tables(page)
    assert [c[1] for c in tables.rows("board")].count("user:mykd") == 1  # ranked with the others, highlighted
    assert 'class="row user"' in page
    user_part = page.split('<section class="user-distiller">')[1].split("</section>")[0]
    assert f"{mean:.2f} ± {std:.2f}" in user_part
    deltas = compare_rows(user, [*rows, user])
    assert {d.method for d in deltas} == {"vanilla", "kd", "dkd", "random", "uniads"}
    delta_rows = [cells for css, table in tables.tables if css == "deltas" for _, cells in table[1:]]
    assert delta_rows == [[str(c) for c in delta_cells(d)] for d in deltas]
    measured_part, reported_part = page.split("Published numbers (reported, not reproduced here)")
    assert tables.rows("reported") == [[str(c) for c in reported_cells(r)] for r in published]
    for row in published:
        assert f"{row.top1_mean:.2f}" in reported_part and row.source in reported_part
        assert all(f"{row.top1_mean:.2f}" not in cells for cells in tables.rows("board"))
    assert_nothing_remote(tmp_path / "site")


def test_rendering_again_replaces_an_earlier_site_as_a_whole(tmp_path: Path) -> None:
    out = tmp_path / "site"
    assert cli("--out", str(out), "--leaderboard-dir", str(ROOT / "leaderboards"), cwd=tmp_path).returncode == 0
    (out / "old-board.html").write_text("from an earlier rendering")
    result = cli("--out", str(out), "--leaderboard-dir", str(ROOT / "leaderboards"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert not (out / "old-board.html").exists() and (out / "digits.html").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]


@pytest.mark.parametrize("case", ["out-is-a-file", "out-holds-other-files", "out-below-a-file", "no-board"])
def test_bad_output_or_no_board_exits_2_and_writes_nothing(tmp_path: Path, case: str) -> None:
    boards = ROOT / "leaderboards"
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "paper.tex").write_text("mine too")
    (tmp_path / "empty-boards").mkdir()
    out, expected = {
        "out-is-a-file": (tmp_path / "notes.txt", "is a file"),
        "out-holds-other-files": (tmp_path / "docs", "does not hold a site"),
        "out-below-a-file": (tmp_path / "notes.txt" / "site", "cannot write"),
        "no-board": (tmp_path / "site", "no leaderboard"),
    }[case]
    if case == "no-board":
        boards = tmp_path / "empty-boards"
    before = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    result = cli("--out", str(out), "--leaderboard-dir", str(boards), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == before
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_without_a_board_dir_the_committed_boards_are_rendered(tmp_path: Path) -> None:
    result = cli("--out", str(tmp_path / "site"), cwd=tmp_path)  # no ./leaderboards here
    assert result.returncode == 0, result.stderr
    assert "committed boards" in result.stderr
    assert (tmp_path / "site" / "digits.html").is_file()
