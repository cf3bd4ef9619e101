"""The one ask/evaluate/tell loop every search goes through, whatever evaluates its asks.

The runner passes an `evaluate` that trains a batch (in parallel when its executor has several workers,
or serves it from the journal) and charges the budget ledger; the replay and synthetic evaluators pass
table look-ups. A batch is admitted against the budget before it runs, on predicted charges, so the asks
that run never depend on how many workers there are or in which order they finish. The loop is the only
place a search ends, and it says why (`journal.STOP_REASONS`): the searcher had nothing more to ask, an ask
did not fit the budget (and the searcher had nothing cheaper), `max_evaluations` was reached, or `failing`
found too many failed evaluations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from uniads_bench.results import EvalResult
from uniads_bench.search.base import Ask, Observation, Searcher


@dataclass(frozen=True)
class LoopEnd:
    """Every observation of a search in ask order, why it stopped and, for "failures", the verdict."""

    history: list[Observation]
    stop_reason: str
    detail: str = ""


def search_loop(
    searcher: Searcher,
    evaluate: Callable[[list[Ask], int], list[EvalResult]],
    admit: Callable[[list[Ask]], int],
    max_evaluations: int,
    failing: Callable[[EvalResult], str | None] = lambda result: None,
) -> LoopEnd:
    """Drive `searcher` until it stops, the budget does, or its evaluations keep failing.

    Args:
        evaluate: ``evaluate(asks, start)`` returns the results of a batch in ask order; `start` is the
            position of its first ask in the search (the journal keys evaluations by position).
        admit: how many leading asks of a batch fit the budget together, on their predicted (full-length)
            charges, so the budget is never overrun. A batch cut short ends the search, unless the searcher,
            told which asks did not fit, says it will ask cheaper ones (`Searcher`'s optional `unaffordable`).
        failing: called with each result in ask order; a verdict (not None) ends the search after that
            batch is told, with stop reason "failures".
    """
    history: list[Observation] = []
    stalled = False  # the last batch ran nothing: a second such batch in a row ends the search
    while len(history) < max_evaluations:
        asks = searcher.ask()
        if not asks:
            return LoopEnd(history, "exhausted")
        room = max_evaluations - len(history)
        admitted = min(admit(asks[:room]), room)
        batch = asks[:admitted]
        if batch:
            results = evaluate(batch, len(history))
            observations = [Observation(ask, result) for ask, result in zip(batch, results, strict=True)]
            searcher.tell(observations)
            history += observations
            verdict = next((v for v in map(failing, results) if v is not None), None)
            if verdict is not None:
                return LoopEnd(history, "failures", verdict)
        if admitted == room < len(asks):
            return LoopEnd(history, "max_evaluations")
        if admitted < len(asks) and ((stalled and not batch) or not _goes_on(searcher, asks[admitted:])):
            return LoopEnd(history, "budget")
        stalled = not batch
    return LoopEnd(history, "max_evaluations")


def _goes_on(searcher: Searcher, unaffordable: list[Ask]) -> bool:
    """Whether a searcher told that `unaffordable` asks did not fit will ask cheaper ones (`Searcher`'s optional
    `unaffordable`); a searcher without the method ends there."""
    answer = getattr(searcher, "unaffordable", None)
    return bool(answer(unaffordable)) if answer is not None else False


def one_at_a_time(evaluate: Callable[[Ask], EvalResult]) -> Callable[[list[Ask], int], list[EvalResult]]:
    """A batch `evaluate` for `search_loop` from a function of one ask (table look-ups, tests)."""
    return lambda asks, start: [evaluate(ask) for ask in asks]


def admit_all(asks: list[Ask]) -> int:
    """An `admit` for searches without a budget (golden tests of search decisions)."""
    return len(asks)
