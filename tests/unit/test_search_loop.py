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


class Cheaper(Listed):
    """A `Listed` searcher that, told its asks did not fit, asks a batch of one instead (`answers` times)."""

    def __init__(self, batches: list[int], answers: int) -> None:
        super().__init__(batches)
        self.answers, self.unaffordable_told = answers, []

    def unaffordable(self, asks: list[Ask]) -> bool:
        self.unaffordable_told.append(len(asks))
        if self.answers == 0:
            return False
        self.answers -= 1
        self.batches.insert(0, 1)
        return True


def test_a_searcher_with_cheaper_asks_goes_on_after_an_ask_over_the_budget() -> None:
    budget = {"left": 4}

    def admit(asks: list[Ask]) -> int:
        fits = min(len(asks), budget["left"])
        budget["left"] -= fits
        return fits

    searcher = Cheaper([3, 3, 3], answers=5)
    end = search_loop(searcher, evaluate(), admit, max_evaluations=100)
    # 3 fit, 1 of the next 3 fits (told: 2 did not), then a batch of one fits nothing twice in a row.
    assert (len(end.history), end.stop_reason) == (4, "budget")
    assert searcher.unaffordable_told == [2, 1]


def test_a_searcher_that_declines_ends_the_search_where_the_budget_did() -> None:
    searcher = Cheaper([2, 3], answers=0)
    end = search_loop(searcher, evaluate(), lambda asks: min(len(asks), 1), max_evaluations=100)
    assert (len(end.history), end.stop_reason, searcher.unaffordable_told) == (1, "budget", [1])
