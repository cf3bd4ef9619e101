"""`uniads-bench table build/info/verify` end to end on a tiny digits grid, and the promise tables make:
a search replayed on a table asks, sees and spends exactly what a real search of the same space, seed and
budget does."""

from __future__ import annotations

import csv
import json
import re
import signal
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

import pytest

from uniads_bench.journal import EvaluationRecord, read_journal
from uniads_bench.search.evaluators import run_offline_search

SEARCHERS = ["uniads", "random", "random+halving", "nevergrad:TwoPointsDE"]
LIMIT = ["--data-limit", "400", "--deterministic"]


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "uniads_bench", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=900)


def tiny_suite(tmp: Path, table: str = "genes = {}\nseeds = [0]") -> Path:
    """Digits with a space of 48 points (every width and depth, two temperatures), 1- and 3-epoch rungs, a
    budget that ends every search before it has seen the whole space, and a table grid over all of it."""
    text = resources.files("uniads_bench.suites").joinpath("digits.toml").read_text()
    for old, new in [("budget_gpu_hours = 0.0005 ", "budget_gpu_hours = 0.00004 "), ("epochs = 10 ", "epochs = 3 "),
                     ('methods = ["vanilla", "kd", "dkd", "random", "uniads"]', f"methods = {json.dumps(SEARCHERS)}"),
                     ("temperature = [1.0, 2.0, 4.0, 8.0, 16.0]", "temperature = [1.0, 4.0]"),
                     ("kd_weight = [0.1, 0.5, 0.9, 2.0, 5.0]", "kd_weight = [0.5]"),
                     ("ce_weight = [0.1, 0.5, 1.0]", "ce_weight = [1.0]")]:
        assert old in text, old
        text = text.replace(old, new)
    text = text.split("\n[tracks.table]")[0]  # the suite's own grid, replaced by this one
    path = tmp / "tiny.toml"
    path.write_text(text + f"\n[tracks.table]\n{table}\n")
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory, digits_cache) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("table")
    suite = tiny_suite(tmp)
    result = cli("table", "build", str(suite), "cnn", "--out", str(tmp / "table"), "--cache-dir", str(digits_cache),
                 *LIMIT, cwd=tmp)
    assert result.returncode == 0, result.stderr[-3000:]
    return tmp, tmp / "table"


def table_rows(directory: Path) -> list[dict]:
    with (directory / "table.csv").open(newline="") as handle:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(handle)]


def test_a_build_tabulates_every_point_fidelity_and_seed_and_verifies(built) -> None:
    tmp, table = built
    manifest = json.loads((table / "manifest.json").read_text())
    assert manifest["points"] == 48 and manifest["fidelities"] == [1, 3] and manifest["seeds"] == [0]
    rows = table_rows(table)
    guarded = [r for r in rows if r["guard"] == "True"]
    assert len(guarded) == 48 * 2
    assert any(r["status"] == "rejected" and "exceed the cap" in r["reason"] for r in rows)  # over-cap: free
    assert all((r["test_top1"] != "") == (r["status"] == "ok") for r in rows)
    verify = cli("table", "verify", str(table), cwd=tmp)
    assert verify.returncode == 0 and "OK" in verify.stdout
    info = cli("table", "info", str(table), cwd=tmp)
    assert info.returncode == 0 and "Spearman" in info.stdout and "48 points" in info.stdout


def test_a_replayed_search_makes_the_asks_of_a_real_search(built, digits_cache) -> None:
    tmp, table = built
    run = cli("run", str(tiny_suite(tmp)), "--seeds", "0", "--out", str(tmp / "runs"), "--leaderboard-dir",
              str(tmp / "boards"), "--cache-dir", str(digits_cache), *LIMIT, cwd=tmp)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "search done (budget)" in run.stderr  # the budget, not the space, ends the searches
    (journal,) = (tmp / "runs").glob("*/journal.jsonl")
    records = [r for r in read_journal(journal) if isinstance(r, EvaluationRecord) and r.phase == "search"]
    budget = json.loads((table / "manifest.json").read_text())["budget_gpu_hours"]
    for method in SEARCHERS:
        real = [(r.candidate.id, r.epochs, r.guard, r.result.status, round(r.result.top1, 6), r.charge_gpu_hours)
                for r in records if r.method == method]
        trace = run_offline_search(method, f"table:{table}?seed=0", budget, seed=0)
        replayed = [(o.ask.candidate.id, o.ask.fidelity.epochs, o.ask.guard, o.result.status, round(o.result.top1, 6),
                     charge) for o, charge in zip(trace.observations, trace.charges, strict=True)]
        assert len(real) > 5 and replayed == real, method


def test_a_build_killed_mid_way_resumes_to_the_same_table(built, digits_cache, tmp_path) -> None:
    tmp, reference = built
    suite = tiny_suite(tmp_path)
    args = [sys.executable, "-m", "uniads_bench", "table", "build", str(suite), "cnn", "--out",
            str(tmp_path / "table"), "--cache-dir", str(digits_cache), *LIMIT]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    journal = tmp_path / "table" / "journal.jsonl"
    deadline = time.monotonic() + 300
    while process.poll() is None and time.monotonic() < deadline:
        if journal.exists() and len(journal.read_text().splitlines()) >= 30:
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL, "the build finished before the kill point"
    assert not (tmp_path / "table" / "table.csv").exists()
    resumed = subprocess.run(args, capture_output=True, text=True, timeout=900)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert table_rows(tmp_path / "table") == table_rows(reference)


def test_a_changed_table_fails_verification(built, tmp_path) -> None:
    tmp, table = built
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("manifest.json", "table.csv"):
        (copy / name).write_bytes((table / name).read_bytes())
    text = (copy / "table.csv").read_text().splitlines(keepends=True)
    (copy / "table.csv").write_text("".join(text[:1] + text[2:]))  # the first row lost
    result = cli("table", "verify", str(copy), cwd=tmp_path)
    assert result.returncode == 2 and "sha256" in result.stderr
    assert "95 distinct guarded (point, fidelity, seed) rows of 96" in result.stderr


@pytest.mark.parametrize(("table", "args", "message"), [
    (None, [], "declares no table grid"),
    ("genes = { width = [5] }", [], "are not options of the gene"),
    ("genes = { nosuch = [1] }", [], "not a gene of the track's space"),
])
def test_bad_table_requests_exit_2_and_write_nothing(tmp_path, table, args, message) -> None:
    suite = tiny_suite(tmp_path, table) if table else tiny_suite(tmp_path)
    if table is None:
        suite.write_text(suite.read_text().split("\n[tracks.table]")[0])
    result = cli("table", "build", str(suite), "cnn", "--out", str(tmp_path / "out"), *args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_build_refuses_a_directory_of_another_table(built, digits_cache, tmp_path) -> None:
    tmp, table = built
    other = tiny_suite(tmp_path, "genes = { width = [4, 8] }\nseeds = [0]")
    result = cli("table", "build", str(other), "cnn", "--out", str(table), "--cache-dir", str(digits_cache), *LIMIT,
                 cwd=tmp_path)
    assert result.returncode == 2 and "holds the build of another table" in result.stderr


def test_the_python_example_of_the_docs_runs_on_a_table(built, capsys) -> None:
    _, table = built
    doc = (Path(__file__).resolve().parents[2] / "docs" / "tables.md").read_text()
    [example] = re.findall(r"```python\n(.*?)```", doc, flags=re.S)
    exec(compile(example, "docs/tables.md", "exec"), {"TABLE": str(table)})  # noqa: S102
    printed = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in printed[-3:]] == ["0", "1", "2"] and "regret" in printed[-1]
