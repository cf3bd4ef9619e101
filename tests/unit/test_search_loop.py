"""The search loop is the only place a search ends, and it says why (the search-end record journals it)."""

from __future__ import annotations

from uniads_bench.candidate import Candidate
from uniads_bench.results import EvalResult, Fidelity
from uniads_bench.search.base import Ask, Observation
from uniads_bench.search.loop import search_loop


class Listed:
    """A searcher that asks the given batches in order, then nothing."""

    def __init__(self, batches: list[int]) -> None:
        self.batches = list(batches)
        self.told: list[Observation] = []
        self.n = 0

    def ask(self) -> list[Ask]:
        if not self.batches:
            return []
        asks = [Ask(Candidate.make({"w": self.n + i}, "kd"), Fidelity(3), False) for i in range(self.batches.pop(0))]
        self.n += len(asks)
        return asks

    def tell(self, observations: list[Observation]) -> None:
        self.told += observations


def evaluate(status: str = "ok"):
    return lambda asks, start: [EvalResult(a.candidate.id, status, "", 50.0, 10, 1, 3, (), 0.1) for a in asks]


def test_a_searcher_with_nothing_left_to_ask_ends_exhausted() -> None:
    end = search_loop(Listed([2, 3]), evaluate(), lambda asks: len(asks), max_evaluations=100)
    assert (len(end.history), end.stop_reason) == (5, "exhausted")


def test_an_ask_over_the_budget_ends_the_search_with_what_fitted_told() -> None:
    searcher = Listed([2, 3])
    end = search_loop(searcher, evaluate(), lambda asks: min(len(asks), 1), max_evaluations=100)
    assert (len(end.history), end.stop_reason, len(searcher.told)) == (1, "budget", 1)


def test_max_evaluations_ends_the_search_at_exactly_that_count() -> None:
    end = search_loop(Listed([4, 4]), evaluate(), lambda asks: len(asks), max_evaluations=6)
    assert (len(end.history), end.stop_reason) == (6, "max_evaluations")


def test_failing_evaluations_end_the_search_with_the_verdict() -> None:
    end = search_loop(Listed([2, 3, 3]), evaluate("failed"), lambda asks: len(asks), max_evaluations=100,
                      failing=lambda result: "too many failures" if result.status == "failed" else None)
    assert (len(end.history), end.stop_reason, end.detail) == (2, "failures", "too many failures")
