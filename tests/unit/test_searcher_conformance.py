"""Every registered searcher keeps the searcher contract, found through the registry (a new searcher is
tested without being listed here): it is deterministic under a seed, asks only candidates of its space at
fidelities it may ask, and through `search_loop` + `BudgetLedger` never overruns the budget
(`test_search_budget.py` runs the last over the same registry with hypothesis-drawn costs)."""

from __future__ import annotations

import numpy as np
import pytest

from uniads_bench.search.base import SEARCHERS, Ask, SearchSetup, make_searcher
from uniads_bench.search.evaluators import make_evaluator
from uniads_bench.search.loop import one_at_a_time, search_loop

# Options that keep a conformance run small; a searcher without an entry runs with its defaults.
SMALL = {"uniads": {"pop_size": 6}}


def registered() -> list[str]:
    names = SEARCHERS.names()
    assert {"random", "random+halving", "uniads", "nevergrad"} <= set(names)
    return names


def drive(name: str, seed: int, evaluations: int = 24) -> list[Ask]:
    evaluator = make_evaluator("synthetic:rugged", 0)
    setup = SearchSetup(evaluator.space, evaluator.param_cap, evaluator.max_epochs, np.random.default_rng(seed),
                        dict(SMALL.get(name, {})))
    end = search_loop(make_searcher(name, setup), one_at_a_time(evaluator.evaluate), lambda asks: len(asks),
                      max_evaluations=evaluations)
    return [o.ask for o in end.history]


@pytest.mark.parametrize("name", registered())
def test_same_seed_same_asks_and_another_seed_other_asks(name: str) -> None:
    first, again, other = drive(name, 5), drive(name, 5), drive(name, 6)
    assert len(first) == 24
    assert first == again
    assert first != other


@pytest.mark.parametrize("name", registered())
def test_asks_only_candidates_of_its_space_at_fidelities_up_to_the_top(name: str) -> None:
    space = make_evaluator("synthetic:rugged", 0).space
    options = {g.name: set(g.options) for g in space.genes}
    for ask in drive(name, 1):
        values = space.values(ask.candidate)
        assert all(values[gene] in options[gene] for gene in values), ask.candidate.describe()
        assert space.candidate({**{g.name: g.options[0] for g in space.genes}, **values}) == ask.candidate
        assert 1 <= ask.fidelity.epochs <= make_evaluator("synthetic:rugged", 0).max_epochs


def test_an_unknown_searcher_names_the_known_ones_and_the_nearest() -> None:
    from uniads_bench.errors import UserError

    with pytest.raises(UserError, match=r"unknown searcher 'randon'. Did you mean 'random'\? Known: nevergrad"):
        SEARCHERS.get("randon")
