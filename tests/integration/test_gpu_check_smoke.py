"""The prepared GPU call, dry-run here: `benchmarks/gpu_check.sh --smoke` runs every step at toy size on the
CPU, so a device call can fail on nothing but the GPU itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_every_step_of_the_gpu_check_passes_at_toy_size_and_writes_its_figures(tmp_path) -> None:
    # The interpreter running the tests, not the script's `.venv` default: CI keeps its venv outside the checkout.
    env = {**os.environ, "OUT": str(tmp_path), "PYTHON": sys.executable}
    done = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--smoke"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert [s["step"] for s in summary["steps"]] == ["0_env", "1_digits", "2_cifar10", "3_precision", "4_engine",
                                                     "5_cifar100", "6_compile"]
    assert all(s["rc"] == 0 for s in summary["steps"]), summary
    digits = json.loads((tmp_path / "1_digits.json").read_text())
    assert digits["ok"] and {r["method"] for r in digits["rows"]} == {"kd", "uniads"}
    cifar10 = json.loads((tmp_path / "2_cifar10.json").read_text())
    assert cifar10["ok"] and {r["method"] for r in cifar10["rows"]} == {"kd", "uniads"}
    assert json.loads((tmp_path / "5_cifar100.json").read_text())["hours"]["ours_cold"] > 0
    compiled = json.loads((tmp_path / "6_compile.json").read_text())
    assert compiled["ok"] and set(compiled["seconds"]) == {"eager", "compiled"}
