"""The recipes of docs/extending.md, run as written: the searcher file and its one entry point are installed
into a scratch directory the way pip would (a dist-info with entry_points.txt) and the offline search runs
through the real CLI in a fresh process."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

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
