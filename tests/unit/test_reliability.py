"""Reliability in-process: signals never tear a journal record, one writer per run directory, concurrent or killed
leaderboard updates keep every row, a full disk keeps the old file and stops with a clear message, and
the failure budget trips on crashes but not on rejections."""

from __future__ import annotations

import itertools
import json
import multiprocessing
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_leaderboard import measured

from uniads_bench.cli import main
from uniads_bench.config import load_suite
from uniads_bench.durable import atomic_write_json
from uniads_bench.errors import UserError
from uniads_bench.journal import RetryRecord
from uniads_bench.leaderboard import load_board, publish_rows
from uniads_bench.locks import run_lock
from uniads_bench.results import EvalResult
from uniads_bench.runner.failures import FailureBudget
from uniads_bench.runner.journal import Journal
from uniads_bench.runner.options import RunOptions, resolve_suite
from uniads_bench.runner.rundir import config_record
from uniads_bench.runner.signals import RunInterrupted, stop_on_signals

ENOSPC = OSError(28, "No space left on device")


def run_main(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    """`uniads-bench ARGS` in this process; returns the exit code."""
    monkeypatch.setattr(sys, "argv", ["uniads-bench", *args])
    with pytest.raises(SystemExit) as info:
        main()
    return info.value.code


def test_signal_raises_run_interrupted_and_restores_the_handler() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(RunInterrupted) as info, stop_on_signals():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
    assert info.value.exit_code == 143
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_signal_during_a_journal_append_waits_for_the_record(tmp_path, monkeypatch) -> None:
    journal = Journal(tmp_path / "journal.jsonl")
    real_fsync = os.fsync

    def fsync_after_a_signal(fd: int) -> None:
        os.kill(os.getpid(), signal.SIGINT)  # arrives mid-append
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync_after_a_signal)
    with pytest.raises(RunInterrupted) as info, stop_on_signals():
        journal.append(RetryRecord("a", 1, "x" * 10_000))
    assert info.value.exit_code == 130
    assert journal.read() == [RetryRecord("a", 1, "x" * 10_000)]


def test_run_lock_is_exclusive_and_released(tmp_path) -> None:
    with run_lock(tmp_path):
        owner = json.loads((tmp_path / "run.lock").read_text())
        assert owner == {"pid": os.getpid(), "host": socket.gethostname()}
        with pytest.raises(UserError, match=f"in use by process {os.getpid()}"), run_lock(tmp_path):
            pass
    assert not (tmp_path / "run.lock").exists()


def test_stale_lock_is_taken_over_with_a_warning(tmp_path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    (tmp_path / "run.lock").write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname()}))
    with pytest.warns(UserWarning, match=f"stale lock of process {dead.pid}"), run_lock(tmp_path):
        assert json.loads((tmp_path / "run.lock").read_text())["pid"] == os.getpid()


def test_lock_of_another_host_is_respected(tmp_path) -> None:
    (tmp_path / "run.lock").write_text(json.dumps({"pid": 1, "host": "elsewhere"}))
    with pytest.raises(UserError, match="process 1 on elsewhere.*if elsewhere crashed, delete .*run.lock"), \
            run_lock(tmp_path):
        pass


def test_second_writer_of_a_run_directory_exits_2_naming_the_holder(tmp_path, monkeypatch, capsys) -> None:
    options = RunOptions(budget_scale=0.1, seeds=(0,), out_dir=tmp_path, resume=tmp_path / "run")
    (tmp_path / "run").mkdir()
    atomic_write_json(tmp_path / "run" / "config.json",
                      config_record(resolve_suite(load_suite("digits"), options), options))
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / "run" / "run.lock").write_text(json.dumps({"pid": holder.pid, "host": socket.gethostname()}))
        code = run_main(monkeypatch, "digits", "--budget-scale", "0.1", "--seeds", "0", "--resume",
                        str(tmp_path / "run"), "--leaderboard-dir", str(tmp_path / "boards"))
    finally:
        holder.kill()
        holder.wait()
    assert code == 2
    assert f"in use by process {holder.pid}" in capsys.readouterr().err
    assert not (tmp_path / "run" / "journal.jsonl").exists()


def _publish_some(directory: str, worker: int, count: int) -> None:
    suite = load_suite("digits")
    for i in range(count):
        publish_rows(Path(directory), suite, [measured(method=f"w{worker}-{i}", suite="digits")])


def test_concurrent_publishers_keep_every_row_exactly_once(tmp_path) -> None:
    workers, count = 6, 8
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=_publish_some, args=(str(tmp_path), w, count)) for w in range(workers)]
    for p in processes:
        p.start()
    for p in processes:
        p.join(timeout=120)
        assert p.exitcode == 0
    methods = [r.method for r in load_board(tmp_path / "digits.json") if r.kind == "measured"]
    assert sorted(methods) == sorted(f"w{w}-{i}" for w in range(workers) for i in range(count))
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def _publish_forever(directory: str, prefix: str) -> None:
    suite = load_suite("digits")
    for i in itertools.count():
        publish_rows(Path(directory), suite, [measured(method=f"{prefix}-{i:04d}", suite="digits")])


def test_kill_9_mid_publish_never_loses_or_tears_a_board(tmp_path) -> None:
    """Publishers killed with SIGKILL inside a board write: the board always parses and holds every row of
    earlier publishes exactly once; the next publish removes the killed writers' temp files."""
    context = multiprocessing.get_context("fork")
    draw = random.Random(0)
    publish_rows(tmp_path, load_suite("digits"), [measured(method="first", suite="digits")])  # imports done
    kept, torn_writes = ["first"], 0
    for round_ in range(12):
        publisher = context.Process(target=_publish_forever, args=(str(tmp_path), f"r{round_:02d}"))
        publisher.start()
        time.sleep(draw.uniform(0.05, 0.3))
        deadline = time.monotonic() + 30
        while not any(p.name.endswith(".tmp") for p in tmp_path.iterdir()) and time.monotonic() < deadline:
            pass  # kill while a board write is under way
        os.kill(publisher.pid, signal.SIGKILL)
        publisher.join(timeout=60)
        assert publisher.exitcode == -signal.SIGKILL
        torn_writes += any(p.name.endswith(".tmp") for p in tmp_path.iterdir())
        methods = [r.method for r in load_board(tmp_path / "digits.json") if r.kind == "measured"]
        fresh = sorted(set(methods) - set(kept))
        assert fresh == [f"r{round_:02d}-{i:04d}" for i in range(len(fresh))]  # a prefix: no row skipped
        assert sorted(methods) == sorted(kept + fresh)  # none twice
        kept = sorted(kept + fresh)
    assert torn_writes > 0, "no kill landed inside a write: the test proved nothing"
    publish_rows(tmp_path, load_suite("digits"), [measured(method="last", suite="digits")])
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    board = (tmp_path / "digits.md").read_text()
    assert all(method in board for method in [*kept, "last"])


def test_disk_full_keeps_the_old_summary_and_says_so(tmp_path, monkeypatch) -> None:
    target = tmp_path / "summary.json"
    atomic_write_json(target, {"old": True})

    def no_space(fd: int) -> None:
        raise ENOSPC

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(UserError, match="no space left on the device writing .*summary.json.*--resume"):
        atomic_write_json(target, {"new": True})
    monkeypatch.undo()
    assert json.loads(target.read_text()) == {"old": True}
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_disk_full_during_a_journal_append_is_a_user_error(tmp_path, monkeypatch) -> None:
    journal = Journal(tmp_path / "journal.jsonl")
    journal.append(RetryRecord("a", 1, "x"))

    def no_space(fd: int) -> None:
        raise ENOSPC

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(UserError, match="no space left"):
        journal.append(RetryRecord("b", 1, "x"))
    monkeypatch.undo()
    assert journal.read()[0] == RetryRecord("a", 1, "x")


def test_disk_full_while_publishing_exits_2_and_keeps_the_board(tmp_path, monkeypatch, capsys) -> None:
    publish_rows(tmp_path, load_suite("digits"), [measured(method="kept", suite="digits")])
    before = (tmp_path / "digits.json").read_bytes()
    monkeypatch.setattr(os, "replace", lambda src, dst: (_ for _ in ()).throw(ENOSPC))
    code = run_main(monkeypatch, "leaderboard", "render", "digits", "--leaderboard-dir", str(tmp_path))
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no space left on the device writing") and "Traceback" not in err
    assert (tmp_path / "digits.json").read_bytes() == before


def result(status: str) -> EvalResult:
    return EvalResult(candidate_id="c", status=status, reason=f"{status} here", top1=0.0, params=1, macs=1,
                      epochs_done=1.0, teacher_views=(), wall_seconds=0.0)


@pytest.mark.parametrize(
    ("statuses", "trips"),
    [
        (["ok", "failed", "failed", "ok"], False),  # 2 of 4: not more than half
        (["ok", "failed", "oom", "failed"], True),
        (["rejected", "rejected", "rejected", "diverged"], False),  # search outcomes, not failures
        (["failed", "failed", "failed"], False),  # the window is not full yet
        (["failed", "failed", "failed", "ok", "ok", "ok", "ok"], False),  # old failures slid out
    ],
)
def test_failure_budget(statuses: list[str], trips: bool) -> None:
    budget = FailureBudget(max_share=0.5, window=4)
    verdicts = [budget.record(result(s)) for s in statuses]
    assert (verdicts[-1] is not None) == trips
    if trips:
        assert "3 of the last 4 evaluations failed (failed: 2, oom: 1" in verdicts[-1]


def test_ownerless_lock_is_respected_while_fresh_then_taken_over(tmp_path) -> None:
    lock = tmp_path / "run.lock"
    lock.write_text("")
    with pytest.raises(UserError, match="being locked by another process"), run_lock(tmp_path):
        pass
    os.utime(lock, (time.time() - 60, time.time() - 60))
    with pytest.warns(UserWarning, match="stale lock"), run_lock(tmp_path):
        pass


def test_a_run_whose_rows_failed_ends_with_exit_4_naming_each_row(tmp_path, monkeypatch, capsys) -> None:
    import uniads_bench.runner.run as run_module

    rows = [measured(suite="digits", track="cnn"),
            measured("vanilla", suite="digits", track="cnn", status="diverged (3 of 3 seeds)")]
    done = run_module.RunResult(tmp_path / "run", rows, "table", tmp_path / "digits.md")
    monkeypatch.setattr(run_module, "run_suite", lambda *args, **kwargs: done)
    code = run_main(monkeypatch, "digits", "--seeds", "0", "--out", str(tmp_path))
    err = capsys.readouterr().err
    assert code == 4
    assert err.startswith("error: 1 of 2 rows are not results") and "cnn/vanilla: diverged (3 of 3 seeds)" in err
