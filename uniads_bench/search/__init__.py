"""Search methods over a track's space: the Searcher protocol, method definitions and searchers."""

from uniads_bench.search.base import Ask, Observation, Searcher, SearchSetup, make_searcher, register_searcher
from uniads_bench.search.methods import FixedMethod, SearchMethod, get_method, method_names

__all__ = [
    "Ask",
    "FixedMethod",
    "Observation",
    "SearchMethod",
    "SearchSetup",
    "Searcher",
    "get_method",
    "method_names",
    "make_searcher",
    "register_searcher",
]
