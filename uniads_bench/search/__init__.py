"""Searchers over a track's space: the Searcher protocol (ask/tell/state), the registry and the searchers.

This layer imports no torch: it sees candidates, fidelities and results, never a model (see docs/architecture.md).
"""

from uniads_bench.search.base import Ask, Observation, Searcher, SearchSetup, make_searcher, register_searcher

__all__ = [
    "Ask",
    "Observation",
    "SearchSetup",
    "Searcher",
    "make_searcher",
    "register_searcher",
]
