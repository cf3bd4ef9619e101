"""The one ask/evaluate/tell loop every search goes through, whatever evaluates its asks.

The runner passes an `evaluate` that trains (or serves from the journal) and charges the budget ledger;
the replay and synthetic evaluators pass table look-ups. The loop stops when the searcher has nothing
more to ask, when the next ask is not affordable, or after `max_evaluations`.
"""

from __future__ import annotations

from collections.abc import Callable

from uniads_bench.engine.result import EvalResult
from uniads_bench.search.base import Ask, Observation, Searcher


def search_loop(
    searcher: Searcher,
    evaluate: Callable[[Ask, int], EvalResult],
    affordable: Callable[[Ask], bool],
    max_evaluations: int,
) -> list[Observation]:
    """Drive `searcher` until it stops or the budget does; returns every observation in ask order.

    Args:
        evaluate: ``evaluate(ask, index)`` with `index` the evaluation's position in the search (the
            journal keys evaluations by it).
        affordable: whether the ask's predicted charge still fits the budget; the first unaffordable ask
            ends the search, so the budget is never overrun by more than the prediction error.
    """
    history: list[Observation] = []
    while len(history) < max_evaluations:
        asks = searcher.ask()
        if not asks:
            break
        batch: list[Observation] = []
        stop = False
        for ask in asks:
            if len(history) + len(batch) >= max_evaluations or not affordable(ask):
                stop = True
                break
            batch.append(Observation(ask, evaluate(ask, len(history) + len(batch))))
        if batch:
            searcher.tell(batch)
        history += batch
        if stop:
            break
    return history
