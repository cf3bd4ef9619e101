"""The recipes of docs/extending.md, run as written: the searcher file and its one entry point are installed
into a scratch directory the way pip would (a dist-info with entry_points.txt) and the offline search runs
through the real CLI in a fresh process."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "extending.md"


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.S)


def test_the_searcher_recipe_installs_with_one_file_and_one_entry(tmp_path: Path) -> None:
    [searcher_file] = [b for b in code_blocks("python") if b.startswith("# my_searcher.py")]
    [entry] = [b for b in code_blocks("toml") if "uniads_bench.methods" in b]
    (tmp_path / "my_searcher.py").write_text(searcher_file)
    dist_info = tmp_path / "my_searcher-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: my-searcher\nVersion: 0.1\n")
    groups = tomllib.loads(entry)["project"]["entry-points"]  # as pip writes them: INI, one section per group
    (dist_info / "entry_points.txt").write_text("".join(
        f"[{group}]\n" + "".join(f"{name} = {value}\n" for name, value in items.items())
        for group, items in groups.items()))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-m", "uniads_bench", "search", "digits", "cnn", "--method", "sample-n",
                             "--evaluator", "synthetic:smooth", "--budget", "20"],
                            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "sample-n on synthetic:smooth, seed 0: 8 evaluations" in result.stdout
    plugins = subprocess.run([sys.executable, "-m", "uniads_bench", "plugins"], capture_output=True, text=True,
                             env=env, cwd=tmp_path, timeout=300, check=True).stdout
    assert re.search(r"\| method +\| sample-n +\| entry point my_searcher:METHOD", plugins)
    assert re.search(r"\| searcher +\| sample-n +\| module my_searcher", plugins)


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "uniads_bench", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600)


def _suite_with_family(tmp_path: Path, family_spec: str) -> Path:
    """The digits suite, its track's family replaced by `family_spec` as the recipe's TOML line does."""
    from importlib import resources

    [line] = [b.strip() for b in code_blocks("toml") if b.startswith("student_family")]
    text = resources.files("uniads_bench.suites").joinpath("digits.toml").read_text()
    suite = text.replace('student_family = "digits_cnn"', line.replace("my_family.py:NARROW_CNN", family_spec))
    assert suite != text
    path = tmp_path / "narrow.toml"
    path.write_text(suite)
    return path


def test_the_family_recipe_is_searched_and_trained_from_one_file(tmp_path: Path) -> None:
    [family_file] = [b for b in code_blocks("python") if b.startswith("# my_family.py")]
    (tmp_path / "my_family.py").write_text(family_file)
    suite = _suite_with_family(tmp_path, "my_family.py:NARROW_CNN")
    space = _cli("space", str(suite), "cnn", cwd=tmp_path)
    assert space.returncode == 0, space.stderr[-2000:]
    assert re.search(r"\| width +\| arch +\| 3, 5, 8 +\|", space.stdout), space.stdout
    run = _cli("run", str(suite), "--tracks", "cnn", "--methods", "random", "--seeds", "0", "--budget-scale", "0.3",
               "--out", "runs", "--leaderboard-dir", "boards", "--cache-dir", "cache", "--deterministic", cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    [row] = json.loads((tmp_path / "boards" / "digits.json").read_text())["rows"]
    assert row["method"] == "random" and row["status"] == "ok"
    [journal] = (tmp_path / "runs").glob("*/journal.jsonl")
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    widths = {r["candidate"]["arch"]["width"] for r in records if r["type"] == "evaluation"}
    assert widths and widths <= {3, 5, 8}  # every search and final training is of the file's family
    plugins = _cli("plugins", cwd=tmp_path).stdout
    assert "narrow_cnn" not in plugins  # a file family is loaded where a suite names it, not listed globally


@pytest.mark.parametrize(("spec", "message"), [
    ("missing.py:NARROW_CNN", "student family plug-in file missing.py does not exist"),
    ("my_family.py:WIDE", "has no class or object 'WIDE'"),
    ("my_family.py:build", "must be a uniads_bench.models.family.StudentFamily, got function"),
])
def test_a_bad_family_file_exits_2_naming_it(tmp_path: Path, spec: str, message: str) -> None:
    [family_file] = [b for b in code_blocks("python") if b.startswith("# my_family.py")]
    (tmp_path / "my_family.py").write_text(family_file)
    result = _cli("space", str(_suite_with_family(tmp_path, spec)), "cnn", cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr, result.stderr
