"""Every searcher's `state()` is a JSON-ready summary of what it has learned, journaled when a search ends."""

from __future__ import annotations

import json

import numpy as np
import pytest

from uniads_bench.methods import get_method
from uniads_bench.search import SearchSetup, make_searcher
from uniads_bench.search.evaluators import make_evaluator
from uniads_bench.search.loop import admit_all, one_at_a_time, search_loop


@pytest.mark.parametrize("method", ["random", "random+halving", "uniads", "nevergrad:NGOpt"])
def test_state_is_json_and_reflects_the_search(method: str) -> None:
    evaluator = make_evaluator("synthetic:smooth", seed=0)
    spec = get_method(method)
    searcher = make_searcher(spec.searcher, SearchSetup(evaluator.space, evaluator.param_cap, evaluator.max_epochs,
                                                        np.random.default_rng(0), dict(spec.options)))
    history = search_loop(searcher, one_at_a_time(evaluator.evaluate), admit_all, max_evaluations=30).history
    state = json.loads(json.dumps(searcher.state()))
    assert state["evaluated"] == len(history) == 30
    if method == "uniads":
        weights = state["sampling_weights"]
        assert set(weights) == {g.name for g in evaluator.space.genes}
        assert any(w < 1.0 for gene in weights.values() for w in gene.values())  # shrinking happened
    if method.startswith("nevergrad"):
        assert state["optimizer"] == "NGOpt" and state["delegate"]
