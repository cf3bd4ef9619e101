"""The leaderboard site in a real browser (Debian's Chromium, headless): the committed boards' page loads from
disk, a click on a column header sorts the rows by the record's numbers, a row's record opens, the plots load,
and not one request leaves the machine.

With UNIADS_SITE_SCREENSHOT=PATH the test also copies its screenshot there once every check has passed; `make
site-screenshot` makes `docs/leaderboard-site.png` that way.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from headless import LOCAL_SCHEMES, Chromium, chromium_binary

from uniads_bench.leaderboard.render import ranked_cells, ranked_rows
from uniads_bench.leaderboard.site import find_boards, write_site

ROOT = Path(__file__).resolve().parents[2]
BINARY = chromium_binary()
pytestmark = pytest.mark.skipif(BINARY is None, reason="needs Debian's chromium on PATH (`make browser` installs it "
                                "as root; .ci/run does)")
TABLE = "#track-cnn table.board"
PARAMS_COLUMN, TOP1_COLUMN = 4, 6  # 1-based, as CSS's :nth-child counts (`HEADERS`)


def shown_rows(page: Chromium) -> list[list[str]]:
    """The cells of the table's data rows as the browser lays them out, in their current order."""
    return page.evaluate(f"Array.from(document.querySelectorAll({json.dumps(TABLE + ' tr.row')}))"
                         ".map(r => Array.from(r.cells).map(c => c.textContent))")


def test_the_site_sorts_opens_records_and_sends_no_request(tmp_path: Path) -> None:
    boards = find_boards(ROOT / "leaderboards")
    write_site(tmp_path / "site", boards)
    rows = [r for r in next(b for b in boards if b.suite == "digits").rows if r.track == "cnn"]
    ranked = ranked_rows(rows)
    cells = {r.method: [str(c) for c in ranked_cells(rank, r)] + ["record"] for rank, r in enumerate(ranked, 1)}

    assert BINARY is not None
    with Chromium(BINARY, width=1360, height=1000) as page:
        page.navigate((tmp_path / "site" / "index.html").as_uri())
        assert page.evaluate("document.querySelectorAll('section.card').length") == 2
        since = len(page.events)
        page.click("a[href='digits.html']")
        page.wait_for_event("Page.loadEventFired", since)
        assert page.evaluate("location.pathname").endswith("/digits.html")
        assert shown_rows(page) == [cells[r.method] for r in ranked]  # board order, the board's cells

        page.click(f"{TABLE} th:nth-child({PARAMS_COLUMN}) button")
        by_params = sorted(ranked, key=lambda r: r.params)  # stable: ties keep the board's order
        assert [r.method for r in by_params] != [r.method for r in ranked]
        assert shown_rows(page) == [cells[r.method] for r in by_params]
        assert page.evaluate(f"document.querySelector('{TABLE} th:nth-child({PARAMS_COLUMN})')"
                             ".getAttribute('aria-sort')") == "ascending"
        page.click(f"{TABLE} th:nth-child({TOP1_COLUMN}) button")
        page.click(f"{TABLE} th:nth-child({TOP1_COLUMN}) button")  # again: descending, ties as they stood
        by_top1 = sorted(sorted(by_params, key=lambda r: r.top1_mean), key=lambda r: -r.top1_mean)
        assert shown_rows(page) == [cells[r.method] for r in by_top1]

        page.click(f"{TABLE} th:nth-child({PARAMS_COLUMN}) button")
        first = sorted(by_top1, key=lambda r: r.params)[0]
        record = f"{TABLE} tr.row:first-child + tr.record"
        assert page.evaluate(f"document.querySelector('{record}').hidden") is True
        page.click(f"{TABLE} tr.row:first-child a.record-toggle")
        assert page.evaluate(f"document.querySelector('{record}').hidden") is False
        text = page.evaluate(f"document.querySelector('{record}').innerText")
        assert first.git_commit in text and first.run_id in text and repr(first.top1_mean) in text
        assert page.evaluate("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
        assert page.evaluate("document.images.length") == 4  # Pareto and anytime of both tracks

        page.evaluate(f"window.scrollTo(0, document.querySelector('{TABLE}').getBoundingClientRect().top"
                      " + window.scrollY - 190)")
        shot = page.screenshot(tmp_path / "leaderboard-site.png")

        local = list(page.requests)
        # The observer sees a remote load when a page tries one (the page's policy blocks it before it is sent).
        page.evaluate("new Promise(done => { const probe = new Image(); probe.onload = probe.onerror = done; "
                      "probe.src = 'http://uniads-bench.invalid/probe.png'; })")
    assert any(url.endswith("/digits.html") for url in local) and any(url.endswith(".png") for url in local)
    assert [url for url in local if not url.startswith(LOCAL_SCHEMES)] == []
    assert "http://uniads-bench.invalid/probe.png" in page.requests
    assert page.remote_requests == []  # the page's Content-Security-Policy stopped it before the browser's guard
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    if os.environ.get("UNIADS_SITE_SCREENSHOT"):
        shutil.copyfile(shot, os.environ["UNIADS_SITE_SCREENSHOT"])
