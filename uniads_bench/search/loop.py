"""The one ask/evaluate/tell loop every search goes through, whatever evaluates its asks.

The runner passes an `evaluate` that trains a batch (in parallel when its executor has several workers,
or serves it from the journal) and charges the budget ledger; the replay and synthetic evaluators pass
table look-ups. A batch is admitted against the budget before it runs, on predicted charges, so the asks
that run never depend on how many workers there are or in which order they finish. The loop stops when
the searcher has nothing more to ask, when an ask does not fit the budget, or after `max_evaluations`.
"""

from __future__ import annotations

from collections.abc import Callable

from uniads_bench.engine.result import EvalResult
from uniads_bench.search.base import Ask, Observation, Searcher


def search_loop(
    searcher: Searcher,
    evaluate: Callable[[list[Ask], int], list[EvalResult]],
    admit: Callable[[list[Ask]], int],
    max_evaluations: int,
) -> list[Observation]:
    """Drive `searcher` until it stops or the budget does; returns every observation in ask order.

    Args:
        evaluate: ``evaluate(asks, start)`` returns the results of a batch in ask order; `start` is the
            position of its first ask in the search (the journal keys evaluations by position).
        admit: how many leading asks of a batch fit the budget together, on their predicted (full-length)
            charges; a batch cut short ends the search, so the budget is never overrun.
    """
    history: list[Observation] = []
    while len(history) < max_evaluations:
        asks = searcher.ask()
        if not asks:
            break
        room = max_evaluations - len(history)
        admitted = min(admit(asks[:room]), room)
        batch = asks[:admitted]
        if batch:
            results = evaluate(batch, len(history))
            observations = [Observation(ask, result) for ask, result in zip(batch, results, strict=True)]
            searcher.tell(observations)
            history += observations
        if admitted < len(asks):
            break
    return history


def one_at_a_time(evaluate: Callable[[Ask], EvalResult]) -> Callable[[list[Ask], int], list[EvalResult]]:
    """A batch `evaluate` for `search_loop` from a function of one ask (table look-ups, tests)."""
    return lambda asks, start: [evaluate(ask) for ask in asks]


def admit_all(asks: list[Ask]) -> int:
    """An `admit` for searches without a budget (golden tests of search decisions)."""
    return len(asks)
