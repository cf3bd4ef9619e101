"""The Ray executor (`--executor ray`, optional extra ``uniads-bench[ray]``): one Ray task per evaluation.

Each task asks for its track's `resources` (a fraction of a GPU lets several small students share one);
the runner keeps the journal, the budget and every decision, so results are those of the local executor.
A task whose worker or node dies is submitted again, up to `MAX_RETRIES` times, and the runner journals
each retry. The resolved suite travels once through the object store; data and teachers are read by each
worker process once, from `--data-dir` and `--cache-dir`, which on a multi-node cluster must be a shared
filesystem (as on Slurm). Without `--ray-address` a private local Ray instance is started for the run: no
dashboard, no usage statistics, no auth token in the home directory, its session files in a temporary
directory, shut down at the end.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from uniads_bench.errors import UserError
from uniads_bench.results import EvalResult
from uniads_bench.runner.executors import (
    CLOSED_POLL_S,
    MAX_RETRIES,
    ExecutorClosed,
    Outcome,
    WorkerLost,
    available_cpus,
)
from uniads_bench.runner.signals import STOP_SIGNALS
from uniads_bench.runner.worker import EvalTask, WorkerSpec, evaluate_task, prepare_worker

INSTALL = "pip install 'uniads-bench[ray]'"

_prepared = False


def _evaluate_in_ray(spec: WorkerSpec, task: EvalTask) -> EvalResult:
    """The Ray task body: on a GPU when Ray granted one (it sets CUDA_VISIBLE_DEVICES), else on the CPU."""
    import ray

    global _prepared
    if not _prepared:
        prepare_worker(replace(spec, threads=spec.suite.track(task.track).resources.cpus))
        _prepared = True
    return evaluate_task(spec, task, "cuda" if ray.get_gpu_ids() else "cpu")


def import_ray() -> Any:
    # No implicit ray.init: a job thread still inside a Ray call when the run stops (and shuts Ray down) would
    # otherwise start a second, orphaned local instance and hang on it instead of ending (exit 1 after 60 s).
    os.environ.setdefault("RAY_ENABLE_AUTO_CONNECT", "0")
    try:
        import ray
    except ImportError:
        raise UserError(f"--executor ray needs Ray, which is not installed; install it with: {INSTALL}") from None
    return ray


class RayExecutor:
    """Evaluations as Ray tasks on the cluster at `address`, or on a local Ray instance started for the run."""

    def __init__(self, spec: WorkerSpec, device_type: str, address: str | None, log: Callable[[str], None],
                 max_retries: int = MAX_RETRIES) -> None:
        ray = import_ray()
        self.ray = ray
        self.spec = spec
        self.max_retries = max_retries
        self.on_gpu = device_type == "cuda"
        self._temp_dir: str | None = None
        self._closed = False
        self._in_flight = threading.Condition()  # guards `_calls`, the Ray calls job threads are inside
        self._calls = 0
        if ray.is_initialized():  # a caller (a test, a notebook) owns the connection
            self._owns = False
        else:
            self._owns = True
            self._connect(address)
        self._remote = ray.remote(_evaluate_in_ray)
        self._spec_ref = ray.put(spec)
        totals = ray.cluster_resources()
        per_task = max(self._resources(t.name)[1 if self.on_gpu else 0] for t in spec.suite.tracks)
        self.slots = max(1, int(totals.get("GPU" if self.on_gpu else "CPU", 1) / per_task))
        log(f"executor: Ray {ray.__version__} at {address or 'a local instance'}, {totals.get('CPU', 0):g} CPUs, "
            f"{totals.get('GPU', 0):g} GPUs; up to {self.slots} evaluations at once")

    def _connect(self, address: str | None) -> None:
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        quiet = {"include_dashboard": False, "log_to_driver": False, "logging_level": "warning"}
        # ray.init installs a SIGTERM handler that exits with status 15 mid-run; the run's own handlers (stop
        # cleanly, exit 143 or 130, resumable) are put back after it.
        handlers = {s: signal.getsignal(s) for s in STOP_SIGNALS}
        try:
            if address:
                self.ray.init(address=address, **quiet)
            else:
                # A private instance: no auth token written to ~/.ray, and its session in a short temp path
                # (Ray's socket paths must stay short).
                os.environ.setdefault("RAY_AUTH_MODE", "disabled")
                self._temp_dir = tempfile.mkdtemp(prefix="uniads-ray-")
                self.ray.init(num_cpus=available_cpus(), _temp_dir=self._temp_dir, **quiet)
        except ConnectionError as exc:
            raise UserError(f"cannot reach the Ray cluster at --ray-address {address}: {exc}; start it with "
                            "`ray start --head` or give its address") from exc
        finally:
            if threading.current_thread() is threading.main_thread():
                for signum, handler in handlers.items():
                    signal.signal(signum, handler)

    def _resources(self, track: str) -> tuple[int, float]:
        """(CPUs, GPUs) one evaluation of `track` asks for; no GPU when the run is on the CPU."""
        resources = self.spec.suite.track(track).resources
        return resources.cpus, resources.gpus if self.on_gpu else 0.0

    @contextmanager
    def _ray_call(self) -> Iterator[None]:
        """One Ray call of a job thread: refused once the run is stopping, and counted, so that `close` shuts
        Ray down only after the calls in flight have returned (Ray's wait spins forever on a core worker shut
        down under it: a run stopped by SIGTERM then never exited)."""
        with self._in_flight:
            if self._closed:
                raise ExecutorClosed("the run is stopping")
            self._calls += 1
        try:
            yield
        except Exception as exc:
            if self._closed:
                raise ExecutorClosed("the run is stopping") from exc
            raise
        finally:
            with self._in_flight:
                self._calls -= 1
                self._in_flight.notify_all()

    def _submit(self, task: EvalTask) -> Any:
        cpus, gpus = self._resources(task.track)
        with self._ray_call():
            return self._remote.options(num_cpus=cpus, num_gpus=gpus, max_retries=0,
                                        name=f"evaluate {task.key}").remote(self._spec_ref, task)

    def evaluate(self, tasks: Sequence[EvalTask]) -> Iterator[tuple[int, Outcome]]:
        lost = (self.ray.exceptions.WorkerCrashedError, self.ray.exceptions.NodeDiedError,
                self.ray.exceptions.ObjectLostError, self.ray.exceptions.LocalRayletDiedError)
        retries: list[list[str]] = [[] for _ in tasks]
        running = {self._submit(task): index for index, task in enumerate(tasks)}
        while running:
            if self._closed:
                raise ExecutorClosed("the run is stopping")
            with self._ray_call():
                ready, _ = self.ray.wait(list(running), num_returns=1, timeout=CLOSED_POLL_S)
            if not ready:
                continue
            [ref] = ready
            index = running.pop(ref)
            try:
                with self._ray_call():
                    result = self.ray.get(ref)
            except lost as exc:
                if self._closed:
                    raise ExecutorClosed("the run is stopping") from exc
                reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                retries[index].append(reason)
                if len(retries[index]) > self.max_retries:
                    raise WorkerLost(f"{tasks[index].key}: lost its Ray worker {len(retries[index])} times; "
                                     f"last: {reason}") from exc
                running[self._submit(tasks[index])] = index
                continue
            except self.ray.exceptions.RayTaskError as exc:
                raise exc.as_instanceof_cause() from None  # the task's own error (a UserError keeps exit 2)
            yield index, Outcome(result, tuple(retries[index]))

    def close(self) -> None:
        with self._in_flight:
            if self._closed:
                return
            self._closed = True
            # Each call in flight returns within CLOSED_POLL_S (waits are bounded, gets are of ready results).
            self._in_flight.wait_for(lambda: self._calls == 0, timeout=10 * CLOSED_POLL_S)
        if self._owns:
            self.ray.shutdown()
            if self._temp_dir:
                shutil.rmtree(self._temp_dir, ignore_errors=True)
