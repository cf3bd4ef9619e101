"""Interrupting a real digits run (SIGTERM, SIGINT, kill -9 at several points, a full disk) and resuming it
gives the leaderboard of an uninterrupted run with the same options (deterministic mode, measured seconds
aside).

Runs are small (one seed, KD and random search, a tenth of the budget, about 45 journal records) and
share the session's teacher cache.
"""

from __future__ import annotations

import json
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

OPTIONS = ["--tracks", "cnn", "--budget-scale", "0.1", "--seeds", "0", "--methods", "kd,random", "--deterministic"]
Records = list[dict]


def command(out: Path, cache: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "uniads_bench", "digits", *OPTIONS, "--out", str(out / "runs"),
            "--leaderboard-dir", str(out / "boards"), "--cache-dir", str(cache), *extra]


def comparable(out: Path) -> list[tuple]:
    """The board's rows without measured fields: per-seed top-1, size, charges, evaluations, statuses."""
    rows = json.loads((out / "boards" / "digits.json").read_text())["rows"]
    return sorted((r["method"], r["top1_per_seed"], r["params"], r["macs"], r["budget_used_gpu_hours"],
                   r["search_evaluations"], r["statuses"]) for r in rows)


def records(journal: Path) -> Records:
    if not journal.exists():
        return []
    return [json.loads(line) for line in journal.read_text().splitlines(keepends=True) if line.endswith("\n")]


@pytest.fixture(scope="module")
def reference(tmp_path_factory, digits_cache) -> tuple[Path, list[tuple]]:
    """The teacher cache and the board of one uninterrupted run."""
    out = tmp_path_factory.mktemp("reference")
    done = subprocess.run(command(out, digits_cache), capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return digits_cache, comparable(out)


def interrupt(out: Path, cache: Path, when: Callable[[Records], bool], signum: int) -> tuple[int, str, Path]:
    """Start a run, send `signum` once its journal satisfies `when`; returns exit code, stderr, run directory."""
    process = subprocess.Popen(command(out, cache), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 600
    try:
        while process.poll() is None and time.monotonic() < deadline:
            journals = list((out / "runs").glob("*/journal.jsonl"))
            if journals and when(records(journals[0])):
                process.send_signal(signum)
                break
            time.sleep(0.05)
        _, stderr = process.communicate(timeout=600)
    finally:
        process.kill()
    assert process.returncode != 0, "the run finished before the kill point"
    (run_dir,) = list((out / "runs").iterdir())
    return process.returncode, stderr, run_dir


def resume_matches(out: Path, cache: Path, run_dir: Path, expected: list[tuple]) -> str:
    done = subprocess.run(command(out, cache, "--resume", str(run_dir)), capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert comparable(out) == expected
    assert not (run_dir / "run.lock").exists()
    return done.stderr


def journal_is_whole(run_dir: Path) -> None:
    text = (run_dir / "journal.jsonl").read_text()
    assert text.endswith("\n")
    for line in text.splitlines():
        json.loads(line)


def first_record(rs: Records) -> bool:
    return len(rs) >= 1


def mid_search(rs: Records) -> bool:
    return sum(r.get("phase") == "search" for r in rs) >= 10


def final_phase(rs: Records) -> bool:
    return any(r["type"] == "search" for r in rs)  # random's search ended; its final training is under way


def after_record(k: int) -> Callable[[Records], bool]:
    return lambda rs: len(rs) >= k


@pytest.mark.parametrize("signum", [signal.SIGTERM, pytest.param(signal.SIGINT, marks=pytest.mark.slow)])
def test_signal_stops_cleanly_and_resume_finishes(reference, tmp_path, signum) -> None:
    cache, expected = reference
    code, stderr, run_dir = interrupt(tmp_path, cache, after_record(2), signum)
    assert code == 128 + signum, stderr[-3000:]
    assert f"--resume {run_dir}" in stderr and "Traceback" not in stderr
    journal_is_whole(run_dir)
    assert not (run_dir / "run.lock").exists()
    stderr = resume_matches(tmp_path, cache, run_dir, expected)
    assert "torn last line" not in stderr


# Random kill points: the k-th journal record, drawn once from a fixed seed (a run writes about 50 records).
RANDOM_POINTS = [pytest.param(after_record(k), id=f"record-{k}", marks=pytest.mark.slow)
                 for k in sorted(random.Random(0).sample(range(2, 45), 3))]


@pytest.mark.parametrize("when", [
    pytest.param(first_record, id="first-record"),
    pytest.param(mid_search, id="mid-search", marks=pytest.mark.slow),
    pytest.param(final_phase, id="final-phase", marks=pytest.mark.slow),
    *RANDOM_POINTS,
])
def test_kill_9_then_resume_gives_the_same_leaderboard(reference, tmp_path, when) -> None:
    cache, expected = reference
    code, _, run_dir = interrupt(tmp_path, cache, when, signal.SIGKILL)
    assert code == -signal.SIGKILL
    assert (run_dir / "run.lock").exists()  # kill -9 leaves its lock behind; resume takes it over
    (run_dir / ".summary.json.k1ll3d.tmp").write_text("{")  # as a kill inside an atomic write leaves it
    stderr = resume_matches(tmp_path, cache, run_dir, expected)
    assert "stale lock" in stderr
    assert not list(run_dir.glob("*.tmp"))


# Runs the command on a tiny tmpfs (a user namespace makes the mount possible without privileges), then
# gives the filesystem room and resumes; copies of the run directory after each step are kept for the test.
FULL_DISK = r"""
set -u
runs=$1; shift
mount -t tmpfs -o size=24k tmpfs "$runs" || exit 90
"$@" > /dev/null 2> "$runs/../full.err"; echo $? > "$runs/../full.rc"
cp -a "$runs/." "$runs/../after-full"
mount -o remount,size=16m tmpfs "$runs"
"$@" --resume "$(ls -d "$runs"/*/)" > /dev/null 2> "$runs/../resume.err"; echo $? > "$runs/../resume.rc"
cp -a "$runs/." "$runs/../after-resume"
"""


def can_mount_tmpfs() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
                            'mount -t tmpfs -o size=4k tmpfs "$(mktemp -d)"'], capture_output=True)
    return probe.returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(not can_mount_tmpfs(), reason="needs unshare and user namespaces to mount a tiny tmpfs")
def test_a_really_full_disk_stops_the_run_and_resume_finishes(reference, tmp_path) -> None:
    """Not a simulated error: the run directory lives on a 24 KiB filesystem that fills up mid-search."""
    cache, expected = reference
    (tmp_path / "runs").mkdir()
    subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", FULL_DISK, "sh",
                    str(tmp_path / "runs"), *command(tmp_path, cache)], check=True, timeout=1800)
    full_err = (tmp_path / "full.err").read_text()
    assert (tmp_path / "full.rc").read_text().strip() == "2", full_err[-3000:]
    assert full_err.splitlines()[-1].startswith("error: no space left on the device writing")
    assert "Traceback" not in full_err
    (stopped,) = list((tmp_path / "after-full").iterdir())
    assert not (stopped / "run.lock").exists() and not list(stopped.glob(".*.tmp"))
    assert 0 < len(records(stopped / "journal.jsonl")) < 45  # it stopped mid-run, its records whole
    assert (tmp_path / "resume.rc").read_text().strip() == "0", (tmp_path / "resume.err").read_text()[-3000:]
    assert comparable(tmp_path) == expected
    (finished,) = list((tmp_path / "after-resume").iterdir())
    journal_is_whole(finished)
