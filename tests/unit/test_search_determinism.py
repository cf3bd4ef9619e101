"""Same seed -> identical sequence of asked candidates (and fidelities) for every search method; another seed
gives another sequence."""

from __future__ import annotations

import pytest

from uniads_bench.search.evaluators import SearchTrace, run_offline_search

METHODS = ["random", "random+halving", "uniads", "nevergrad:DiscreteOnePlusOne",
           "nevergrad:PortfolioDiscreteOnePlusOne", "nevergrad:DE", "nevergrad:TwoPointsDE", "nevergrad:NGOpt"]


def asked(trace: SearchTrace) -> list[tuple[str, int, bool]]:
    return [(o.ask.candidate.id, o.ask.fidelity.epochs, o.ask.guard) for o in trace.observations]


@pytest.mark.parametrize("method", METHODS)
def test_same_seed_same_sequence(method: str) -> None:
    first = run_offline_search(method, "synthetic:rugged", budget=6, seed=11)
    again = run_offline_search(method, "synthetic:rugged", budget=6, seed=11)
    other = run_offline_search(method, "synthetic:rugged", budget=6, seed=12)
    assert len(first.observations) > 3
    assert asked(first) == asked(again)
    assert [o.result for o in first.observations] == [o.result for o in again.observations]
    assert first.chosen == again.chosen
    assert asked(first) != asked(other)
