"""The leaderboards as a static site (`uniads-bench leaderboard site --out DIR`), to browse offline.

One page per suite board and an index: per track the teacher, a sortable table per measurement condition
(the Markdown board's tables, cell for cell), the rows that are not results, the `user:` rows a user's
`compare` added with their deltas against the board, the published (`reported`) numbers apart, the track's
Pareto and anytime plots, and every measured row's full record one click away. The pages are plain HTML with
inline CSS and a few lines of inline JavaScript (sorting, opening a record); the plots are copied beside them,
and a Content-Security-Policy forbids every other load, so the folder works from disk, from any static host or
from an archive, and viewing it sends no request off the machine. The output depends only on the boards (no
date, no absolute path), so a committed site can be checked against a fresh rendering.
"""

from __future__ import annotations

import dataclasses
import html
import math
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from uniads_bench.config import known_suites, load_suite
from uniads_bench.durable import replaced_directory
from uniads_bench.errors import UserError
from uniads_bench.leaderboard.compare import DELTA_HEADERS, compare_rows, delta_cells, is_user_row
from uniads_bench.leaderboard.publish import board_header, track_notes
from uniads_bench.leaderboard.records import LeaderboardRow
from uniads_bench.leaderboard.render import (
    HEADERS,
    REPORTED_HEADERS,
    UNRANKED_HEADERS,
    budget_unit,
    condition_groups,
    describe_conditions,
    load_board,
    ranked_cells,
    ranked_rows,
    reported_cells,
    unranked_cells,
    unranked_rows,
)

GENERATOR = "uniads-bench leaderboard site"
PLOTS = (("pareto", "accuracy against parameters: every feasible top-fidelity search evaluation (validation) and "
          "each seed's final student (test)"),
         ("anytime", "anytime hypervolume against the search budget spent, mean ± std over seeds"))
# Nothing but the page itself, its plots beside it and inline data may load: no font, script or beacon.
CSP = "default-src 'none'; img-src 'self' file: data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"

SortKey = Callable[[int, LeaderboardRow], "float | int | str | None"]
# How each column of `HEADERS` sorts: the record's own number (never the rounded text), or text.
RANKED_SORT: tuple[tuple[str, SortKey], ...] = (
    ("number", lambda rank, r: rank),
    ("text", lambda rank, r: r.method),
    ("text", lambda rank, r: r.student),
    ("number", lambda rank, r: r.params),
    ("number", lambda rank, r: r.macs),
    ("number", lambda rank, r: r.top1_mean),
    ("number", lambda rank, r: r.best_epoch_top1_mean),
    ("number", lambda rank, r: r.n),
    ("number", lambda rank, r: r.budget_used_gpu_hours if r.search_evaluations else None),
    ("number", lambda rank, r: r.search_evaluations or None),
    ("number", lambda rank, r: r.hypervolume),
    ("number", lambda rank, r: r.wall_seconds),
    ("text", lambda rank, r: r.hardware),
)


@dataclass(frozen=True)
class Board:
    """One suite's board as found on disk: its rows and the folder its plots are in."""

    suite: str
    rows: list[LeaderboardRow]
    directory: Path


def find_boards(directory: Path) -> list[Board]:
    """Every suite board (``SUITE.json``) in `directory`, by suite name; empty when there is none.

    Raises:
        UserError: a board file is damaged (`load_board`).
    """
    return [Board(path.stem, load_board(path), directory) for path in sorted(directory.glob("*.json"))]


def site_files(boards: list[Board]) -> dict[str, bytes]:
    """The site's files by name: ``index.html``, one ``SUITE.html`` per board and the plots they show."""
    files: dict[str, bytes] = {"index.html": _index(boards).encode()}
    for board in boards:
        plots = {p.name: p for track in _tracks(board.rows) for p in _plot_paths(board, track)}
        files[f"{board.suite}.html"] = _suite_page(board, sorted(plots)).encode()
        files.update({name: path.read_bytes() for name, path in plots.items()})
    return files


def write_site(out: Path, boards: list[Board]) -> list[str]:
    """Render `boards` into `out` as a whole: the site is built beside `out` and renamed into place, so a
    failure leaves `out` as it was. Returns the names of the files written.

    Raises:
        UserError: `out` is a file, or a directory holding anything but a site this command wrote (it is
            never deleted), or cannot be written.
    """
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file; pass a directory for the site (created, or replaced when it "
                        "holds a site written by this command)")
    if out.is_dir() and any(out.iterdir()) and not _is_site(out):
        raise UserError(f"--out {out} is a directory that does not hold a site written by `{GENERATOR}`; it is "
                        "left alone: pass a new or empty directory, or the folder of an earlier site")
    files = site_files(boards)
    with replaced_directory(out) as tmp:
        for name, data in files.items():
            (tmp / name).write_bytes(data)
    return sorted(files)


def _is_site(directory: Path) -> bool:
    index = directory / "index.html"
    return index.is_file() and f'<meta name="generator" content="{GENERATOR}">' in index.read_text(errors="replace")


def _tracks(rows: list[LeaderboardRow]) -> list[str]:
    return sorted({r.track for r in rows})


def _plot_paths(board: Board, track: str) -> list[Path]:
    paths = [board.directory / f"{board.suite}-{track}-{kind}.png" for kind, _ in PLOTS]
    return [p for p in paths if p.is_file()]


@dataclass(frozen=True)
class _SuiteInfo:
    """What the suite file adds to its board, when this installation knows the suite (as `show` renders it)."""

    header: str
    notes: dict[str, str]
    unit: str
    description: str


def _suite_info(name: str) -> _SuiteInfo:
    if name not in known_suites():
        return _SuiteInfo("", {}, "GPU-h", "")
    suite = load_suite(name, check=False)
    return _SuiteInfo(board_header(suite), track_notes(suite), budget_unit(suite.hardware_profile), suite.description)


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _code(text: str) -> str:
    """Markdown's `code` spans of the board's header and notes as <code>, the rest escaped."""
    return re.sub(r"`([^`]*)`", r"<code>\1</code>", _e(text))


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "x"


def _sort_value(value: float | int | str | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):  # missing or NaN: sorted last
        return ""
    return value if isinstance(value, str) else repr(value)


def _page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="generator" content="{GENERATOR}">\n'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n{body}\n"
            f"<script>{_JS}</script>\n</body>\n</html>\n")


def _index(boards: list[Board]) -> str:
    parts = ['<header><h1>uniads-bench leaderboards</h1>',
             "<p>Measured rows come from <code>uniads-bench run</code> (or <code>compare</code>) with their full "
             "record: hardware, commit, seeds, budget, wall time and run. Rows measured under different conditions "
             "(hardware, budget scale, data limit, precision) are ranked in separate tables; published numbers "
             "are listed apart and never ranked. Click a column to sort it and a row's <em>record</em> to open "
             "it.</p></header>", "<main>"]
    for board in boards:
        info = _suite_info(board.suite)
        parts += [f'<section class="card"><h2><a href="{_e(board.suite)}.html">{_e(board.suite)}</a></h2>',
                  f"<p>{_e(info.description)}</p>" if info.description else ""]
        body = []
        for track in _tracks(board.rows):
            rows = [r for r in board.rows if r.track == track]
            groups = condition_groups([r for r in rows if r.ranked])
            leader = ranked_rows(groups[0][1])[0] if groups else None
            body.append(
                f'<tr><td><a href="{_e(board.suite)}.html#track-{_slug(track)}">{_e(track)}</a></td>'
                f"<td>{sum(r.kind == 'measured' for r in rows)}</td><td>{sum(r.kind == 'reported' for r in rows)}</td>"
                + (f"<td>{_e(leader.method)}</td><td>{_e(ranked_cells(1, leader)[5])}</td>"
                   f"<td>{_e(describe_conditions(leader.conditions()))}</td>" if leader else
                   '<td colspan="3">no ranked row yet</td>') + "</tr>")
        parts += ['<table class="summary"><thead><tr><th>track</th><th>measured rows</th><th>reported rows</th>'
                  "<th>first</th><th>top-1 % (mean ± std)</th><th>measured</th></tr></thead><tbody>",
                  *body, "</tbody></table></section>"]
    parts += ["</main>", _FOOTER]
    return _page("uniads-bench leaderboards", "\n".join(p for p in parts if p))


def _suite_page(board: Board, plots: list[str]) -> str:
    info = _suite_info(board.suite)
    tracks = _tracks(board.rows)
    ids = _Ids()
    parts = ['<nav><a href="index.html">all leaderboards</a></nav>',
             f"<header><h1>Leaderboard: {_e(board.suite)}</h1>",
             f"<p>{_code(info.header)}</p>" if info.header else "",
             '<p class="tracks">Tracks: ' + ", ".join(f'<a href="#track-{_slug(t)}">{_e(t)}</a>' for t in tracks)
             + "</p></header>", "<main>"]
    for track in tracks:
        parts.append(_track_section(board, track, [r for r in board.rows if r.track == track], info, plots, ids))
    parts += ["</main>", _FOOTER]
    return _page(f"uniads-bench: {board.suite}", "\n".join(p for p in parts if p))


class _Ids:
    """Unique, readable element ids within one page."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def new(self, *parts: str) -> str:
        base = "-".join(_slug(p) for p in parts)
        candidate, n = base, 1
        while candidate in self.used:
            n += 1
            candidate = f"{base}-{n}"
        self.used.add(candidate)
        return candidate


def _track_section(board: Board, track: str, rows: list[LeaderboardRow], info: _SuiteInfo, plots: list[str],
                   ids: _Ids) -> str:
    first = next((r for r in rows if r.kind == "measured"), rows[0])
    parts = [f'<section class="track" id="track-{_slug(track)}"><h2>Track <code>{_e(track)}</code></h2>']
    if first.teacher:
        parts.append(f'<p class="teacher">Teacher <code>{_e(first.teacher)}</code>: test top-1 '
                     f"{first.teacher_top1:.2f}%.</p>")
    if track in info.notes:
        parts.append(f'<p class="note">{_code(info.notes[track])}</p>')
    headers = [h.format(unit=info.unit) for h in HEADERS]
    groups = condition_groups([r for r in rows if r.ranked])
    for conditions, group in groups:
        apart = " (ranked only against each other)" if len(groups) > 1 else ""
        parts.append(f"<h3>Measured {_e(describe_conditions(conditions))}{apart}</h3>")
        lines = [(ranked_cells(rank, r), [key(rank, r) for _, key in RANKED_SORT], r)
                 for rank, r in enumerate(ranked_rows(group), start=1)]
        parts.append(_table("board", headers, [kind for kind, _ in RANKED_SORT], lines, ids, track))
    unranked = unranked_rows(rows)
    if unranked:
        parts.append("<h3>Not ranked (the final phase did not produce a result)</h3>")
        lines = [(unranked_cells(r), [r.method, r.status, r.student, r.n, r.top1_mean, r.run_id], r) for r in unranked]
        parts.append(_table("unranked", UNRANKED_HEADERS, ["text", "text", "text", "number", "number", "text"], lines,
                            ids, track))
    notes = [r for r in rows if r.kind == "measured" and r.note]
    if notes:
        parts.append('<h3>Notes</h3><ul class="notes">' + "".join(
            f"<li><code>{_e(r.method)}</code>: {_e(r.note)}</li>" for r in notes) + "</ul>")
    parts += [_user_section(r, board.rows) for r in rows if r.ranked and is_user_row(r)]
    reported = [r for r in rows if r.kind == "reported"]
    if reported:
        parts.append('<section class="reported"><h3>Published numbers (reported, not reproduced here)</h3>')
        lines = [(reported_cells(r), [r.method, r.student, r.params, r.top1_mean, r.source], None) for r in reported]
        parts += [_table("reported", REPORTED_HEADERS, ["text", "text", "number", "number", "text"], lines, ids,
                         track, sorted_by_first=False), "</section>"]
    figures = [(name, caption) for kind, caption in PLOTS
               if (name := f"{board.suite}-{track}-{kind}.png") in plots]
    if figures:
        parts.append('<div class="plots">' + "".join(
            f'<figure><a href="{_e(name)}"><img src="{_e(name)}" alt="{_e(track)}: {_e(caption)}"></a>'
            f"<figcaption>{_e(caption)}</figcaption></figure>" for name, caption in figures) + "</div>")
    parts.append("</section>")
    return "\n".join(parts)


_Line = tuple[list[object], list["float | int | str | None"], "LeaderboardRow | None"]


def _table(css: str, headers: list[str], kinds: list[str], lines: list[_Line], ids: _Ids, track: str,
           sorted_by_first: bool = True) -> str:
    """A table sortable by every column (`kinds`: "number" or "text"), each line's cells with the values they
    sort by; a line with a row gets a last cell that opens that row's record beneath it."""
    records = any(row is not None for _, _, row in lines)
    head = "".join(f'<th scope="col" data-type="{kind}"' + (' aria-sort="ascending"' if i == 0 and sorted_by_first
                                                            else "") + f'><button type="button">{_e(h)}</button></th>'
                   for i, (h, kind) in enumerate(zip(headers, kinds, strict=True)))
    head += '<th scope="col">record</th>' if records else ""
    body = []
    for cells, keys, row in lines:
        tds = "".join(f'<td data-sort="{_e(_sort_value(k))}">{_e(c)}</td>' for c, k in zip(cells, keys, strict=True))
        if row is None:
            body.append(f'<tr class="row">{tds}</tr>')
            continue
        rid = ids.new("record", track, row.method)
        user = " user" if is_user_row(row) else ""
        body.append(f'<tr class="row{user}" data-record="{rid}">{tds}<td><a class="record-toggle" href="#{rid}" '
                    f'aria-controls="{rid}" aria-expanded="false">record</a></td></tr>')
        body.append(f'<tr class="record" id="{rid}" hidden><td colspan="{len(headers) + 1}">{_record(row)}</td></tr>')
    return (f'<div class="scroll"><table class="sortable {css}"><thead><tr>{head}</tr></thead>'
            f"<tbody>\n" + "\n".join(body) + "\n</tbody></table></div>")


def remeasure_command(row: LeaderboardRow) -> str:
    """The command that measures `row` again under its conditions (track, method, seeds, budget scale, data
    limit, precision), rebuilt from the record: the run's own command line is not part of it."""
    flags = ["--tracks", row.track, "--seeds", ",".join(map(str, row.seeds))]
    flags += ["--budget-scale", f"{row.budget_scale:g}"] if row.budget_scale != 1.0 else []
    flags += ["--data-limit", str(row.data_limit)] if row.data_limit else []
    flags += ["--precision", "bf16"] if row.precision == "bf16" else []
    if is_user_row(row):
        name = row.method.split(":", 1)[1]
        return shlex.join(["uniads-bench", "compare", row.suite, "--distiller", name, *flags])
    return shlex.join(["uniads-bench", "run", row.suite, "--methods", row.method, *flags])


def _record(row: LeaderboardRow) -> str:
    """Every field of the row's record, as stored (exact numbers), after how to measure it again."""
    how = ("with the distiller's file or package and the --hparams it was compared with (neither is in the record)"
           if is_user_row(row) else "rebuilt from the record's conditions")
    fields = "".join(f"<div><dt>{_e(f.name)}</dt><dd>{_e(_field(getattr(row, f.name)))}</dd></div>"
                     for f in dataclasses.fields(row))
    return (f'<p>Measure again at commit <code>{_e(row.git_commit[:12] or "?")}</code> ({_e(how)}):</p>'
            f'<pre><code>{_e(remeasure_command(row))}</code></pre>'
            f"<p>Run directory on the machine that measured it: <code>runs/{_e(row.run_id)}</code> (its "
            "<code>journal.jsonl</code>, <code>config.json</code> and <code>provenance.json</code>).</p>"
            f'<dl class="fields">{fields}</dl>')


def _field(value: object) -> str:
    if isinstance(value, tuple):
        return ", ".join(map(str, value)) or "-"
    if value is None or value == "":
        return "-"
    return repr(value) if isinstance(value, float) else str(value)


def _user_section(row: LeaderboardRow, board: list[LeaderboardRow]) -> str:
    """A user's distiller (`compare`) against every ranked row of its track under the same conditions."""
    deltas = compare_rows(row, board)
    head = (f'<section class="user-distiller"><h3>Your distiller <code>{_e(row.method)}</code>: '
            f"{row.top1_mean:.2f} ± {row.top1_std:.2f} (n={row.n}), "
            f"{_e(describe_conditions(row.conditions()))}</h3>")
    if not deltas:
        return (head + "<p>No measured row of this track under the same conditions to compare with: measure the "
                "suite's baselines under them (<code>compare --with-baselines</code>).</p></section>")
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in delta_cells(d)) + "</tr>" for d in deltas)
    return (head + '<p>Its mean top-1 minus each method\'s, with Welch\'s t-test over seeds, as '
            "<code>uniads-bench compare</code> prints it.</p>"
            '<div class="scroll"><table class="deltas"><thead><tr>'
            + "".join(f"<th>{_e(h)}</th>" for h in DELTA_HEADERS) + f"</tr></thead><tbody>{body}</tbody></table></div>"
            "</section>")


_FOOTER = ("<footer>Rendered from the boards' records (<code>SUITE.json</code> of a leaderboard folder) by "
           f"<code>{GENERATOR}</code>; the pages load nothing from the network.</footer>")

_CSS = """
:root{--fg:#1d232a;--muted:#5b6570;--line:#d8dee4;--head:#f3f5f7;--accent:#0b5cad;--user:#fff4d6;--rec:#f8fafc}
*{box-sizing:border-box}
body{margin:0 auto;max-width:1380px;padding:1.2rem 1.5rem 3rem;color:var(--fg);
font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Liberation Sans",sans-serif}
a{color:var(--accent)}
h1{font-size:1.6rem;margin:.4rem 0}h2{font-size:1.3rem;margin:2rem 0 .4rem;border-bottom:2px solid var(--line)}
h3{font-size:1rem;margin:1.2rem 0 .4rem}
header p,.note,.teacher{max-width:110ch;color:var(--muted)}
code{font:.86em/1.3 ui-monospace,"DejaVu Sans Mono",monospace;background:var(--head);padding:0 .2em;border-radius:3px}
.scroll{overflow-x:auto}
table{border-collapse:collapse;font-size:.88rem;margin:.3rem 0 .8rem}
th,td{border-bottom:1px solid var(--line);padding:.32rem .55rem;text-align:left;vertical-align:top}
tr.row td:not(:nth-child(2)):not(:nth-child(3)){white-space:nowrap}
thead th{background:var(--head);position:sticky;top:0}
th button{all:unset;cursor:pointer;font-weight:600}
th button:focus-visible{outline:2px solid var(--accent)}
th[aria-sort] button::after{content:" \\25B2";font-size:.7em;color:var(--accent)}
th[aria-sort=descending] button::after{content:" \\25BC"}
tr.row:hover{background:#eef4fb}
tr.user{background:var(--user)}
tr.user td:nth-child(2)::after{content:"yours";display:inline-block;white-space:nowrap;margin-left:.4em;
padding:0 .35em;font-size:.75em;border-radius:3px;background:#9a6700;color:#fff}
tr.record td{background:var(--rec)}
tr.record:target{display:table-row}
tr.record pre{margin:.2rem 0 .5rem;white-space:pre-wrap}
dl.fields{display:grid;grid-template-columns:repeat(auto-fill,minmax(410px,1fr));gap:.2rem 1.2rem;margin:.4rem 0}
dl.fields div{display:grid;grid-template-columns:15em minmax(0,1fr);gap:.5rem}dl.fields dt{color:var(--muted)}
dl.fields dd{margin:0;overflow-wrap:anywhere;font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:.85em}
.reported{border-left:4px solid var(--line);padding-left:.8rem;margin-top:1rem}
.user-distiller{border-left:4px solid #e0a800;padding-left:.8rem;background:#fffbeb}
.card{border:1px solid var(--line);border-radius:6px;padding:.2rem 1rem .6rem;margin:1rem 0}
.card h2{border:0;margin-top:.6rem}
.plots{display:flex;flex-wrap:wrap;gap:1rem}
figure{margin:0;flex:1 1 560px;max-width:860px}figure img{width:100%;border:1px solid var(--line)}
figcaption{font-size:.85rem;color:var(--muted)}
footer{margin-top:2.5rem;font-size:.85rem;color:var(--muted)}
"""

_JS = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th[data-type] button").forEach(function (button) {
    button.addEventListener("click", function () { sortBy(table, button.parentElement); });
  });
});
function sortBy(table, th) {
  var column = Array.prototype.indexOf.call(th.parentElement.children, th);
  var descending = th.getAttribute("aria-sort") === "ascending";
  var numeric = th.dataset.type === "number";
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.querySelectorAll("tr.row"));
  rows.sort(function (a, b) {
    var x = a.cells[column].dataset.sort, y = b.cells[column].dataset.sort;
    if (x === "" || y === "") { return (x === "") - (y === ""); }
    var order = numeric ? Number(x) - Number(y) : x.localeCompare(y);
    return descending ? -order : order;
  });
  rows.forEach(function (row) {
    body.appendChild(row);
    var record = row.dataset.record && document.getElementById(row.dataset.record);
    if (record) { body.appendChild(record); }
  });
  th.parentElement.querySelectorAll("th").forEach(function (h) { h.removeAttribute("aria-sort"); });
  th.setAttribute("aria-sort", descending ? "descending" : "ascending");
}
document.querySelectorAll("a.record-toggle").forEach(function (link) {
  link.addEventListener("click", function (event) {
    event.preventDefault();
    var record = document.getElementById(link.getAttribute("aria-controls"));
    record.hidden = !record.hidden;
    link.setAttribute("aria-expanded", String(!record.hidden));
  });
});
"""
