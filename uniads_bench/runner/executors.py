"""Executors: where a run's evaluations are trained. The runner keeps the journal, the budget and every
decision; an executor only turns a batch of tasks into results.

- `InlineExecutor`: in the runner's process, one task at a time (the default, `--workers 1`).
- `ProcessExecutor`: `--workers N` processes per device, one device per worker, the CPU's cores split
  between them; a worker that dies mid-task (killed, out of host memory) costs a bounded retry.
- `RayExecutor` (`--executor ray`, in `ray_executor.py`): one Ray task per evaluation on a cluster.

Every executor reports the retries a task needed, and the runner journals them.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from uniads_bench.results import EvalResult
from uniads_bench.runner.worker import EvalTask, WorkerSpec, evaluate_task, prepare_worker

if TYPE_CHECKING:
    import torch

    from uniads_bench.runner.options import RunOptions

MAX_RETRIES = 2
CLOSED_POLL_S = 1.0  # how often a waiting `evaluate` checks whether the executor was closed


@dataclass(frozen=True)
class Outcome:
    """A task's result and why earlier attempts of it were lost (empty when the first attempt finished)."""

    result: EvalResult
    retries: tuple[str, ...] = ()


class WorkerLost(RuntimeError):
    """A task lost its worker more often than the retry bound allows."""


class ExecutorClosed(RuntimeError):
    """The executor was closed (the run is stopping) while tasks were still waiting for it."""


class Executor(Protocol):
    """Turns tasks into outcomes. `slots` is how many tasks it runs at once (the runner runs that many
    searches side by side); `evaluate` may be called from several threads."""

    slots: int

    def evaluate(self, tasks: Sequence[EvalTask]) -> Iterator[tuple[int, Outcome]]:
        """Run `tasks`, yielding (position in `tasks`, outcome) as each finishes, in any order."""
        ...

    def close(self) -> None:
        """Stop running tasks and release the workers; waiting `evaluate` calls raise `ExecutorClosed`."""
        ...


class InlineExecutor:
    """Tasks run in the calling process on the run's device, reusing the runner's track contexts."""

    slots = 1

    def __init__(self, spec: WorkerSpec, device: str) -> None:
        self.spec = spec
        self.device = device

    def evaluate(self, tasks: Sequence[EvalTask]) -> Iterator[tuple[int, Outcome]]:
        for index, task in enumerate(tasks):
            yield index, Outcome(evaluate_task(self.spec, task, self.device))

    def close(self) -> None:
        pass


def worker_devices(device: str, workers_per_device: int) -> list[str]:
    """One entry per worker: every visible GPU `workers_per_device` times for ``cuda``, else the device."""
    import torch

    if device == "cuda":
        gpus = [f"cuda:{i}" for i in range(torch.cuda.device_count())]
        return [gpu for gpu in gpus for _ in range(workers_per_device)]
    return [device] * workers_per_device


def available_cpus() -> int:
    """The cores this process may run on (its CPU affinity: a container's or Slurm job's cpuset, not the host's)."""
    return len(os.sched_getaffinity(0))


def threads_per_worker(workers: int) -> int:
    """An even share of the available cores for each of `workers` processes (at least one)."""
    return max(1, available_cpus() // workers)


# The device of this worker process, set by `_start_worker`.
_DEVICE = "cpu"


def _start_worker(spec: WorkerSpec, devices: list[str], counter: Any) -> None:
    """Pool initializer: the n-th worker started takes the n-th device (`counter` is a shared integer)."""
    global _DEVICE
    with counter.get_lock():
        index = counter.value
        counter.value += 1
    _DEVICE = devices[index % len(devices)]
    prepare_worker(spec)


def _run_in_worker(spec: WorkerSpec, task: EvalTask) -> EvalResult:
    return evaluate_task(spec, task, _DEVICE)


class ProcessExecutor:
    """A pool of spawned worker processes (spawn: CUDA cannot be forked). A worker death breaks the whole
    pool in `concurrent.futures`, so the pool is rebuilt and every task it held is retried."""

    def __init__(self, spec: WorkerSpec, devices: list[str], max_retries: int = MAX_RETRIES) -> None:
        self.spec = spec
        self.devices = devices
        self.slots = len(devices)
        self.max_retries = max_retries
        self._lock = threading.Lock()
        self._closed = False
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        context = multiprocessing.get_context("spawn")
        return ProcessPoolExecutor(self.slots, mp_context=context, initializer=_start_worker,
                                   initargs=(self.spec, self.devices, context.Value("i", 0)))

    def _submit(self, task: EvalTask) -> tuple[Future[EvalResult], ProcessPoolExecutor]:
        with self._lock:
            if self._closed:
                raise ExecutorClosed("the run is stopping")
            try:
                return self._pool.submit(_run_in_worker, self.spec, task), self._pool
            # A worker died while idle, or while this submit was starting a worker (the breaking pool closes
            # its queues under the spawn: OSError 'handle is closed'). No task was lost: start a fresh pool.
            except (BrokenProcessPool, OSError):
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = self._new_pool()
                return self._pool.submit(_run_in_worker, self.spec, task), self._pool

    def _replace_broken(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is broken and not self._closed:
                broken.shutdown(wait=False, cancel_futures=True)
                self._pool = self._new_pool()

    def evaluate(self, tasks: Sequence[EvalTask]) -> Iterator[tuple[int, Outcome]]:
        retries: list[list[str]] = [[] for _ in tasks]
        running: dict[Future[EvalResult], tuple[int, ProcessPoolExecutor]] = {}
        for index, task in enumerate(tasks):
            future, pool = self._submit(task)
            running[future] = (index, pool)
        while running:
            done, _ = wait(running, timeout=CLOSED_POLL_S, return_when=FIRST_COMPLETED)
            if not done and self._closed:
                # A future cancelled by the pool's shutdown never wakes `wait` (concurrent.futures notifies
                # waiters of a cancellation only when the pool would have started the task), so look.
                raise ExecutorClosed("the run is stopping")
            for future in done:
                index, pool = running.pop(future)
                try:
                    result = future.result()
                except BrokenProcessPool as exc:
                    if self._closed:
                        raise ExecutorClosed("the run is stopping") from exc
                    retries[index].append(f"worker process died ({exc})")
                    if len(retries[index]) > self.max_retries:
                        raise WorkerLost(f"{tasks[index].key}: lost its worker {len(retries[index])} times; "
                                         f"last: {exc}") from exc
                    self._replace_broken(pool)
                    retry, pool = self._submit(tasks[index])
                    running[retry] = (index, pool)
                    continue
                yield index, Outcome(result, tuple(retries[index]))

    def close(self) -> None:
        with self._lock:
            self._closed = True
            pool = self._pool
        # Stop the trainings in flight now rather than after they finish (the pool has no public way to). Their
        # tasks fail with BrokenProcessPool, queued ones are cancelled; `evaluate` calls notice either way.
        for process in list((pool._processes or {}).values()):
            process.terminate()
        pool.shutdown(wait=True, cancel_futures=True)


def make_executor(options: RunOptions, spec: WorkerSpec, device: torch.device,
                  log: Callable[[str], None]) -> Executor:
    """The executor `options` ask for: Ray, a pool of `--workers` processes per device, or this process."""
    if options.executor == "ray":
        from uniads_bench.runner.ray_executor import RayExecutor

        return RayExecutor(spec, device.type, options.ray_address, log)
    if options.workers <= 1:
        return InlineExecutor(spec, str(device))
    devices = worker_devices(device.type if device.index is None else str(device), options.workers)
    log(f"executor: {len(devices)} worker processes on {', '.join(sorted(set(devices)))}")
    return ProcessExecutor(dataclasses.replace(spec, threads=threads_per_worker(len(devices))), devices)
