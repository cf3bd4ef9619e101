"""The Searcher protocol: searchers ask for evaluations and are told results, nothing else.

Searchers never import the engine and never touch files: the runner owns evaluation, the journal, the
budget and resume. Results reach a searcher in the order it asked, so completion order never changes a
decision. Every searcher draws randomness only from the generator it is given.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from uniads_bench.candidate import Candidate
from uniads_bench.errors import UserError
from uniads_bench.registry import Registry
from uniads_bench.results import EvalResult, Fidelity
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
    """What every searcher is built from: the space, the constraint, the top fidelity and its generator,
    `known`: the suite's hand-designed methods as points of the space, which a searcher may start from, and
    `budget_evaluations`: how many top-fidelity evaluations of a reference-sized student the budget pays for
    (None when unknown), which a searcher may size its generations by."""

    space: Space
    param_cap: int
    max_epochs: int
    rng: np.random.Generator
    options: dict[str, Any]
    known: tuple[Candidate, ...] = ()
    budget_evaluations: float | None = None


class Searcher(Protocol):
    """Ask/tell interface of every search method."""

    def ask(self) -> list[Ask]:
        """The next batch of evaluations; an empty list means the searcher has nothing more to ask."""
        ...

    def tell(self, observations: list[Observation]) -> None:
        """Results of the last batch, in ask order."""
        ...

    def chosen(self) -> Candidate | None:
        """The candidate the search hands to the final phase (`best_feasible`: best at the highest fidelity reached)."""
        ...

    # Optional: ``unaffordable(asks) -> bool``, told which asks of the last batch did not fit what is left of
    # the budget (after the part that fitted was told); True when the searcher will ask something cheaper
    # instead, so the search goes on (halving searchers drop an upper rung and start a new bracket). A
    # searcher without it ends at its first ask that does not fit.

    def state(self) -> dict[str, Any]:
        """A JSON-ready summary of what the search has learned, journaled when it ends (for analysis).

        Resume does not restore it: the runner replays the journal through a fresh searcher, which asks the
        same sequence again because it depends only on its seed and the results it was told.
        """
        ...


SearcherFactory = Callable[[SearchSetup], Searcher]


def _check_searcher(obj: object, name: str) -> SearcherFactory:
    """The searcher contract: a class (or factory) built from a SearchSetup, with ask/tell/chosen/state."""
    missing = [m for m in ("ask", "tell", "chosen", "state") if isinstance(obj, type) and not hasattr(obj, m)]
    if not callable(obj) or missing:
        raise UserError(f"searcher {name!r} must be a class built from a SearchSetup with ask, tell, chosen and "
                        f"state{f'; it lacks {missing}' if missing else ''}")
    return obj  # type: ignore[return-value]


# In-tree searchers are entry points of the `uniads_bench.searchers` group (pyproject.toml), like any plug-in.
SEARCHERS: Registry[SearcherFactory] = Registry("searcher", "uniads_bench.searchers", _check_searcher)


def register_searcher(name: str) -> Callable[[SearcherFactory], SearcherFactory]:
    """Decorator registering a searcher class (or factory) under `name`."""
    return SEARCHERS.register(name)


def make_searcher(name: str, setup: SearchSetup) -> Searcher:
    """Build the searcher called `name` (a registered name or ``FILE.py:NAME``)."""
    return SEARCHERS.get(name)(setup)


def feasible(result: EvalResult, param_cap: int) -> bool:
    """A result counts for selection when it trained normally and respects the parameter cap."""
    return result.ok and result.params <= param_cap


def choice_order(observations: Sequence[Observation], param_cap: int) -> list[int]:
    """Positions of the feasible observations in the order the final phase picks from: highest top-1 first,
    ties to fewer parameters, then to the earlier ask. Callers compare results at one fidelity."""
    pool = [i for i, o in enumerate(observations) if feasible(o.result, param_cap)]
    return sorted(pool, key=lambda i: (-observations[i].result.top1, observations[i].result.params, i))


def best_feasible(observations: list[Observation], param_cap: int) -> Candidate | None:
    """The first of `choice_order` among feasible results at the highest fidelity any feasible result reached.

    A search usually reaches its top fidelity; when the budget ends a search before any candidate got there
    (a halving bracket cut off below its top rung), the best-trained results still make a choice, rather than
    a spent budget handing nothing to the final phase. Scores of different fidelities are never compared.
    """
    pool = [o for o in observations if feasible(o.result, param_cap)]
    if not pool:
        return None
    top = max(o.ask.fidelity.epochs for o in pool)
    at_top = [o for o in pool if o.ask.fidelity.epochs == top]
    return at_top[choice_order(at_top, param_cap)[0]].ask.candidate
