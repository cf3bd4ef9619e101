"""What an executor runs: one evaluation task, in whichever process or machine the executor chose.

A worker builds a track's context (data on its device, the verified teacher, its own teacher-output cache)
the first time a task of that track reaches it and keeps it for the track's later tasks, so data and teacher
weights are loaded once per worker process and track, never per task. Tasks carry everything that decides their result
(candidate, fidelity, seed, phase), so a result does not depend on which worker ran it.
"""

from __future__ import annotations

import os
import signal
import threading
from dataclasses import dataclass
from pathlib import Path

import torch

from uniads_bench.candidate import Candidate
from uniads_bench.config import Suite
from uniads_bench.engine.train import TrackContext, train_candidate
from uniads_bench.results import EvalResult, Fidelity


@dataclass(frozen=True)
class WorkerSpec:
    """How a worker rebuilds a run's track contexts: the resolved suite and where data and teachers live.

    `threads` is the worker's torch CPU thread count (0 leaves torch's default): workers sharing a machine
    split its cores instead of oversubscribing them. `compile_final` compiles students in final trainings;
    `precision` is the candidates' numeric precision (`engine.train.use_bf16`).
    """

    suite: Suite
    data_dir: Path
    cache_dir: Path
    data_limit: int | None
    deterministic: bool
    threads: int = 0
    compile_final: bool = False
    precision: str = "auto"

    @property
    def key(self) -> tuple[str, int | None]:
        return self.suite.config_hash(), self.data_limit


@dataclass(frozen=True)
class EvalTask:
    """One evaluation: train `candidate` for `epochs` in `phase` with `seed` (journal key `key`); `score_test`
    also scores a search-phase training on the test split (tabular benchmarks)."""

    key: str
    track: str
    candidate: Candidate
    epochs: int
    seed: int
    phase: str
    guard: bool
    param_cap: int | None
    score_test: bool = False


# The track context this process works on. Tracks run one after another, so one is kept: a task of another
# track replaces it, closing the old teacher cache and freeing its device memory.
_current: tuple[tuple[object, ...], TrackContext] | None = None


def adopt_context(spec: WorkerSpec, ctx: TrackContext) -> None:
    """Make a context built elsewhere in this process (the runner's own) the one tasks here run in."""
    _replace_current((*spec.key, ctx.name, str(ctx.device)), ctx)


def _replace_current(key: tuple[object, ...], ctx: TrackContext) -> None:
    global _current
    if _current is not None and _current[1] is not ctx:
        _current[1].cache.close()
    _current = (key, ctx)


def prepare_worker(spec: WorkerSpec) -> None:
    """Process-wide settings of a worker: thread count, deterministic algorithms, signals left to the runner.

    SIGINT reaches every process of the terminal's group; the runner decides what an interrupt stops, so
    workers ignore it (the runner ends them when it stops).
    """
    from uniads_bench.runner.options import set_deterministic

    if spec.threads:
        torch.set_num_threads(spec.threads)
    set_deterministic(spec.deterministic)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def evaluate_task(spec: WorkerSpec, task: EvalTask, device: str) -> EvalResult:
    """Run `task` on `device` with this process's context of its track (built on first use)."""
    ctx = _context(spec, task.track, torch.device(device))
    return train_candidate(ctx, task.candidate, Fidelity(task.epochs), task.seed, task.phase, guard=task.guard,
                           param_cap=task.param_cap, score_test=task.score_test)


def _context(spec: WorkerSpec, track: str, device: torch.device) -> TrackContext:
    key = (*spec.key, track, str(device))
    if _current is None or _current[0] != key:
        from uniads_bench.runner.context import build_context, load_arrays

        data = load_arrays(spec.suite, spec.data_dir, spec.data_limit)
        ctx, _ = build_context(spec.suite, spec.suite.track(track), data, device, spec.cache_dir, spec.data_dir,
                               log=lambda line: print(f"[worker {os.getpid()}] {line}", flush=True),
                               compile_final=spec.compile_final, precision=spec.precision)
        _replace_current(key, ctx)
    assert _current is not None
    return _current[1]
