"""The process executor's pool decisions, on fake pools: a pool that breaks while a task is being submitted
costs a fresh pool, not the run; a pool that keeps failing to submit is an error the run reports."""

from __future__ import annotations

from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from types import SimpleNamespace

import pytest

from uniads_bench.results import EvalResult
from uniads_bench.runner.executors import ProcessExecutor

RESULT = EvalResult("c0", "ok", "", 90.0, 100, 1000, 1.0, (), 0.1)


class FakePool:
    """A pool whose submit raises `error` (if any), else returns a finished future holding RESULT."""

    def __init__(self, error: Exception | None) -> None:
        self.error = error
        self.shut_down = False
        self._processes: dict[int, object] = {}

    def submit(self, *args: object) -> Future[EvalResult]:
        if self.error is not None:
            raise self.error
        future: Future[EvalResult] = Future()
        future.set_result(RESULT)
        return future

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        self.shut_down = True


def executor_over(monkeypatch: pytest.MonkeyPatch, pools: list[FakePool]) -> ProcessExecutor:
    made = iter(pools)
    monkeypatch.setattr(ProcessExecutor, "_new_pool", lambda self: next(made))
    return ProcessExecutor(spec=None, devices=["cpu", "cpu"])  # type: ignore[arg-type]


@pytest.mark.parametrize("error", [BrokenProcessPool("a worker died while idle"),
                                   OSError("handle is closed")], ids=["broken", "closed-handle"])
def test_a_pool_that_breaks_during_a_submit_is_replaced(monkeypatch, error) -> None:
    broken, fresh = FakePool(error), FakePool(None)
    executor = executor_over(monkeypatch, [broken, fresh])
    [(index, outcome)] = list(executor.evaluate([SimpleNamespace(key="t0")]))  # type: ignore[list-item]
    assert (index, outcome.result, outcome.retries) == (0, RESULT, ())  # no task was lost, so no retry
    assert broken.shut_down and executor._pool is fresh


def test_a_pool_that_cannot_submit_even_when_fresh_fails_the_run(monkeypatch) -> None:
    executor = executor_over(monkeypatch, [FakePool(OSError("too many open files")),
                                           FakePool(OSError("too many open files"))])
    with pytest.raises(OSError, match="too many open files"):
        list(executor.evaluate([SimpleNamespace(key="t0")]))  # type: ignore[list-item]
