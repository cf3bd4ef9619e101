"""The real CLI end to end on real CIFAR-10: prepare and verify the shared JPEG copy, run the cifar10 suite's
res20_res8 track (teacher trained by the suite) at a tiny budget, then check the board and the run directory.

Skipped where the CIFAR-10 JPEG parquet copy is absent: `$UNIADS_CIFAR10_JPEG`, by default the development
machines' shared copy beside the checkout (`../shared/data/cifar10-jpeg`, outside the project). Measured on a
2-core CPU shared with other jobs: prepare (all 60,000 images) 11-12 s, verify 5 s, run 46-50 s, the module
66-73 s, so it is not marked slow.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

CIFAR10_JPEG = Path(os.environ.get("UNIADS_CIFAR10_JPEG",
                                   Path(__file__).resolve().parents[2].parent / "shared" / "data" / "cifar10-jpeg"))
METHODS = ("vanilla", "kd", "uniads")
# 1 epoch for teacher, finals and search rungs; a search budget of 5e-6 nominal GPU-h buys about six trained
# candidates on 2,000 images (students over the parameter cap are rejected for free). With 1,000 images most
# 1-epoch students stay at chance and are rejected, so the search can end with nothing to choose.
SCALE = 5e-6
DATA_LIMIT = 2000


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    # One intra-op thread: on a CPU shared with other jobs, torch's default OpenMP threads spin against each
    # other and the run takes 3 minutes instead of 25 s (measured).
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "uniads_bench", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=900, env=env)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """All 60,000 images prepared once from the shared parquet files, then re-hashed by `data verify`."""
    if not (CIFAR10_JPEG / "train.parquet").exists() or not (CIFAR10_JPEG / "test.parquet").exists():
        pytest.skip(f"shared CIFAR-10 JPEG data not present at {CIFAR10_JPEG}")
    tmp = tmp_path_factory.mktemp("cifar10-data")
    data = tmp / "data"
    result = cli("data", "prepare", "cifar10", "--source", f"parquet:{CIFAR10_JPEG}", "--data-dir", str(data),
                 cwd=tmp)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "50000 train, 10000 test" in result.stdout
    verified = cli("data", "verify", "cifar10", "--data-dir", str(data), cwd=tmp)
    assert verified.returncode == 0, verified.stderr[-3000:]
    assert "match their sha256" in verified.stdout
    return data


@pytest.fixture(scope="module")
def finished_run(prepared: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess]:
    tmp = tmp_path_factory.mktemp("cifar10-run")
    result = cli("run", "cifar10", "--tracks", "res20_res8", "--methods", ",".join(METHODS), "--seeds", "0",
                 "--budget-scale", str(SCALE), "--data-limit", str(DATA_LIMIT), "--device", "cpu",
                 "--deterministic", "--data-dir", str(prepared), "--out", str(tmp / "runs"),
                 "--leaderboard-dir", str(tmp / "boards"), "--cache-dir", str(tmp / "cache"), cwd=tmp)
    assert result.returncode == 0, result.stderr[-3000:]
    return tmp, result


def test_board_has_one_measured_row_per_method(finished_run) -> None:
    tmp, result = finished_run
    table_methods = {cell.strip() for line in result.stdout.splitlines() if line.startswith("|")
                     for cell in line.split("|")[2:3]}
    assert set(METHODS) <= table_methods
    board = json.loads((tmp / "boards" / "cifar10.json").read_text())
    rows = [r for r in board["rows"] if r["track"] == "res20_res8"]
    assert sorted(r["method"] for r in rows) == sorted(METHODS)  # one row per method
    for row in rows:
        assert row["kind"] == "measured" and row["n"] == 1 and len(row["top1_per_seed"]) == 1
        assert math.isfinite(row["top1_mean"]) and 0.0 < row["top1_mean"] <= 100.0
        assert row["hardware"] and row["teacher"] == "resnet20" and row["seeds"] == [0]
        assert row["data_limit"] == DATA_LIMIT and row["budget_scale"] == pytest.approx(SCALE)
        assert row["config_hash"] and row["statuses"] == ["ok"]
    (uniads,) = (r for r in rows if r["method"] == "uniads")
    assert uniads["search_evaluations"] > 0
    assert 0 < uniads["budget_used_gpu_hours"] <= uniads["budget_declared_gpu_hours"]
    markdown = (tmp / "boards" / "cifar10.md").read_text()
    assert "Track `res20_res8`" in markdown and "Teacher `resnet20`" in markdown
    check = cli("leaderboard", "check", "cifar10", "--leaderboard-dir", str(tmp / "boards"), cwd=tmp)
    assert check.returncode == 0, check.stdout + check.stderr


def test_run_directory_holds_config_journal_provenance(finished_run) -> None:
    tmp, _ = finished_run
    (run_dir,) = list((tmp / "runs").iterdir())
    config = json.loads((run_dir / "config.json").read_text())
    assert config["suite"]["name"] == "cifar10" and len(config["config_hash"]) == 64
    assert config["data_limit"] == DATA_LIMIT
    lines = [json.loads(line) for line in (run_dir / "journal.jsonl").read_text().splitlines()]
    records = [r for r in lines if r["type"] == "evaluation"]
    finals = [r["key"] for r in records if r["phase"] == "final"]
    assert sorted(finals) == sorted(f"res20_res8/{m}/0/final" for m in METHODS)
    search = [r for r in records if r["phase"] == "search" and r["key"].startswith("res20_res8/uniads/0/search/")]
    assert search and any(r["result"]["status"] == "ok" and r["result"]["epochs_done"] > 0 for r in search)
    assert all(math.isfinite(r["result"]["top1"]) for r in records)
    provenance = json.loads((run_dir / "provenance.json").read_text())
    assert provenance["hardware"] and provenance["device"] == "cpu" and provenance["torch"]
