"""Executors end to end on a small digits run: `--workers 2` processes and `--executor ray` give the same
leaderboard (deterministic mode, one torch thread per worker in both), a worker killed mid-evaluation is
retried and the retry journaled, an interrupted multi-worker run resumes to the same board, and Ray
missing is a clear exit 2."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

OPTIONS = ["digits", "--tracks", "cnn", "--budget-scale", "0.1", "--seeds", "0,1", "--methods", "kd,uniads",
           "--deterministic"]


def command(out: Path, cache: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "uniads_bench", *OPTIONS, "--out", str(out / "runs"),
            "--leaderboard-dir", str(out / "boards"), "--cache-dir", str(cache), *extra]


def comparable(out: Path) -> list[tuple]:
    """The board's rows without measured fields."""
    rows = json.loads((out / "boards" / "digits.json").read_text())["rows"]
    return sorted((r["method"], r["top1_per_seed"], r["params"], r["macs"], r["budget_used_gpu_hours"],
                   r["search_evaluations"], r["statuses"]) for r in rows)


def journal(out: Path) -> list[dict]:
    [path] = (out / "runs").glob("*/journal.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines()]


def two_cores() -> None:
    """Runs pinned to two cores: `--workers 2` then gives each worker one torch thread, as Ray's one-CPU tasks
    have, so both executors compute with the same thread count on any machine."""
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:2])


def start(out: Path, cache: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(command(out, cache, *extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=two_cores)


def run(out: Path, cache: Path, *extra: str) -> subprocess.CompletedProcess:
    done = subprocess.run(command(out, cache, *extra), capture_output=True, text=True, timeout=900,
                          preexec_fn=two_cores)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def descendants(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of every process below `pid`, read from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], list(children.get(pid, []))
    while todo:
        child = todo.pop()
        try:
            cmdline = (Path("/proc") / str(child) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        found.append((child, cmdline))
        todo += children.get(child, [])
    return found


def retried(out: Path) -> bool:
    return bool(list((out / "runs").glob("*/journal.jsonl"))) and any(r["type"] == "retry" for r in journal(out))


def kill_workers_until_retried(process: subprocess.Popen, out: Path, marker: str, patience: float = 120.0) -> int:
    """Kill -9 a worker process whose command line contains `marker`, then wait up to `patience` seconds for
    the retry to be journaled (on a loaded machine the retried evaluation can take a while to be booked); kill
    another only if none comes (a pool worker may have been idle). Returns how many were killed."""
    killed = 0
    while process.poll() is None and not retried(out):
        victims = [pid for pid, cmdline in descendants(process.pid) if marker in cmdline]
        if not victims:
            time.sleep(0.02)
            continue
        os.kill(victims[0], signal.SIGKILL)
        killed += 1
        deadline = time.monotonic() + patience
        while process.poll() is None and time.monotonic() < deadline and not retried(out):
            time.sleep(0.2)
    return killed


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory, digits_cache) -> list[tuple]:
    out = tmp_path_factory.mktemp("workers")
    done = run(out, digits_cache, "--workers", "2")
    assert "executor: 2 worker processes on cpu" in done.stderr
    return comparable(out)


def test_ray_executor_gives_the_leaderboard_of_local_workers(tmp_path, digits_cache, two_workers) -> None:
    pytest.importorskip("ray")
    done = run(tmp_path, digits_cache, "--executor", "ray")
    assert "executor: Ray" in done.stderr
    assert comparable(tmp_path) == two_workers
    assert not (Path.home() / ".ray" / "auth_token").exists() or "RAY_AUTH_MODE" in os.environ


@pytest.mark.parametrize(("extra", "marker"), [(("--workers", "2"), "spawn_main"),
                                               (("--executor", "ray"), "ray::evaluate")], ids=["local", "ray"])
def test_a_worker_killed_mid_evaluation_is_retried(tmp_path, digits_cache, two_workers, extra, marker) -> None:
    if "ray" in extra:
        pytest.importorskip("ray")
    process = start(tmp_path, digits_cache, *extra)
    killed = kill_workers_until_retried(process, tmp_path, marker)
    _, stderr = process.communicate(timeout=900)
    assert process.returncode == 0, stderr[-3000:]
    assert killed >= 1
    retries = [r for r in journal(tmp_path) if r["type"] == "retry"]
    assert retries and all(r["attempt"] >= 1 and r["reason"] for r in retries)
    assert "retried after" in stderr
    assert comparable(tmp_path) == two_workers  # the retried evaluation trained again to the same result


@pytest.mark.parametrize("executor", [("--workers", "2"), ("--executor", "ray")], ids=["workers", "ray"])
def test_interrupted_multi_worker_run_resumes_to_the_same_board(tmp_path, digits_cache, two_workers,
                                                                executor) -> None:
    if "ray" in executor:
        pytest.importorskip("ray")
    process = start(tmp_path, digits_cache, *executor)
    while process.poll() is None and not (list((tmp_path / "runs").glob("*/journal.jsonl"))
                                          and len(journal(tmp_path)) >= 10):
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 143, stderr[-3000:]
    assert not [p for p, _ in descendants(process.pid)]  # no worker left behind
    [run_dir] = (tmp_path / "runs").iterdir()
    done = run(tmp_path, digits_cache, *executor, "--resume", str(run_dir))
    assert re.search(r"resuming: \d+ evaluations are served from the journal", done.stderr), done.stderr[-2000:]
    assert comparable(tmp_path) == two_workers


def test_ray_executor_without_ray_installed_exits_2(tmp_path) -> None:
    code = ("import sys; sys.modules['ray'] = None; from uniads_bench.cli import main; "
            f"sys.argv = ['uniads-bench', 'digits', '--executor', 'ray', '--out', {str(tmp_path)!r}]; main()")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert "pip install 'uniads-bench[ray]'" in done.stderr
    assert not any(tmp_path.iterdir())  # nothing written
