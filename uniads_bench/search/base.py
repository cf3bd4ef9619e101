"""The Searcher protocol: searchers ask for evaluations and are told results, nothing else.

Searchers never import the engine and never touch files: the runner owns evaluation, the journal, the
budget and resume. Results reach a searcher in the order it asked, so completion order never changes a
decision. Every searcher draws randomness only from the generator it is given.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from uniads_bench.engine.result import EvalResult, Fidelity
from uniads_bench.errors import UserError
from uniads_bench.space.candidate import Candidate
from uniads_bench.space.space import Space


@dataclass(frozen=True)
class Ask:
    """One evaluation a searcher wants: a candidate, a fidelity, and whether the loss guards apply in full."""

    candidate: Candidate
    fidelity: Fidelity
    guard: bool


@dataclass(frozen=True)
class Observation:
    """An ask together with its result."""

    ask: Ask
    result: EvalResult


@dataclass(frozen=True)
class SearchSetup:
    """What every searcher is built from: the space, the constraint, the top fidelity and its generator."""

    space: Space
    param_cap: int
    max_epochs: int
    rng: np.random.Generator
    options: dict[str, Any]


class Searcher(Protocol):
    """Ask/tell interface of every search method."""

    def ask(self) -> list[Ask]:
        """The next batch of evaluations; an empty list means the searcher has nothing more to ask."""
        ...

    def tell(self, observations: list[Observation]) -> None:
        """Results of the last batch, in ask order."""
        ...

    def chosen(self) -> Candidate | None:
        """The candidate the search hands to the final phase (best feasible at the top fidelity)."""
        ...

    def state(self) -> dict[str, Any]:
        """A JSON-ready summary of what the search has learned, journaled when it ends (for analysis).

        Resume does not restore it: the runner replays the journal through a fresh searcher, which asks the
        same sequence again because it depends only on its seed and the results it was told.
        """
        ...


_SEARCHERS: dict[str, Callable[[SearchSetup], Searcher]] = {}


def register_searcher(name: str) -> Callable[[Callable[[SearchSetup], Searcher]], Callable[[SearchSetup], Searcher]]:
    """Decorator registering a searcher factory (usually the class) under `name`."""

    def decorate(factory: Callable[[SearchSetup], Searcher]) -> Callable[[SearchSetup], Searcher]:
        if name in _SEARCHERS:
            raise ValueError(f"searcher {name!r} registered twice")
        _SEARCHERS[name] = factory
        return factory

    return decorate


def make_searcher(name: str, setup: SearchSetup) -> Searcher:
    """Build the searcher called `name`."""
    import uniads_bench.search.nevergrad  # noqa: F401  (these imports register the in-tree searchers)
    import uniads_bench.search.random  # noqa: F401
    import uniads_bench.search.uniads  # noqa: F401

    if name not in _SEARCHERS:
        raise UserError(f"unknown searcher {name!r}; known: {', '.join(sorted(_SEARCHERS))}")
    return _SEARCHERS[name](setup)


def feasible(result: EvalResult, param_cap: int) -> bool:
    """A result counts for selection when it trained normally and respects the parameter cap."""
    return result.ok and result.params <= param_cap


def best_feasible(observations: list[Observation], param_cap: int, epochs: int) -> Candidate | None:
    """Highest top-1 among feasible results at `epochs`; ties go to fewer parameters, then to the earlier ask."""
    pool = [
        (-o.result.top1, o.result.params, i, o.ask.candidate)
        for i, o in enumerate(observations)
        if o.ask.fidelity.epochs == epochs and feasible(o.result, param_cap)
    ]
    return min(pool)[3] if pool else None
