"""Random search: uniform samples of the joint space, at the top fidelity (`random`) or through successive
halving brackets (`random+halving`, the same halving code as `uniads`)."""

from __future__ import annotations

from typing import Any

from uniads_bench.candidate import Candidate
from uniads_bench.results import Fidelity
from uniads_bench.search.base import Ask, Observation, SearchSetup, best_feasible, register_searcher
from uniads_bench.search.halving import Bracket, HalvingSchedule, drop_unaffordable

MAX_RESAMPLES = 1000


def fresh_samples(setup: SearchSetup, seen: set[str], n: int) -> list[Candidate]:
    """Up to `n` uniform samples not in `seen` (added to it); fewer when the space is (practically) exhausted."""
    out: list[Candidate] = []
    for _ in range(MAX_RESAMPLES * n):
        if len(out) == n:
            break
        candidate = setup.space.sample(setup.rng)
        if candidate.id not in seen:
            seen.add(candidate.id)
            out.append(candidate)
    return out


@register_searcher("random")
class RandomSearch:
    """Asks one new, not yet evaluated candidate at a time until the space or the budget runs out."""

    def __init__(self, setup: SearchSetup) -> None:
        self.setup = setup
        self.seen: set[str] = set()
        self.history: list[Observation] = []

    def ask(self) -> list[Ask]:
        return [Ask(c, Fidelity(self.setup.max_epochs), guard=True) for c in fresh_samples(self.setup, self.seen, 1)]

    def tell(self, observations: list[Observation]) -> None:
        self.history.extend(observations)

    def chosen(self) -> Candidate | None:
        return best_feasible(self.history, self.setup.param_cap)

    def state(self) -> dict[str, Any]:
        return {"evaluated": len(self.history), "sampled": len(self.seen)}


@register_searcher("random+halving")
class RandomHalving:
    """Brackets of ``eta**(rungs-1)`` fresh uniform samples (option ``bracket_size`` overrides), one after
    another, each run through successive halving; options ``eta`` and ``r_min`` as in `HalvingSchedule`."""

    def __init__(self, setup: SearchSetup) -> None:
        self.setup = setup
        self.schedule = HalvingSchedule.from_options(setup.options, setup.max_epochs)
        self.bracket_size = int(setup.options.get("bracket_size", self.schedule.bracket_size))
        self.seen: set[str] = set()
        self.history: list[Observation] = []
        self.brackets: list[Bracket] = []

    def ask(self) -> list[Ask]:
        if not self.brackets or self.brackets[-1].done:
            candidates = fresh_samples(self.setup, self.seen, self.bracket_size)
            if not candidates:
                return []
            self.brackets.append(Bracket(candidates, self.schedule, self.setup.param_cap))
        return self.brackets[-1].asks()

    def tell(self, observations: list[Observation]) -> None:
        self.history.extend(observations)
        self.brackets[-1].tell(observations)

    def unaffordable(self, asks: list[Ask]) -> bool:
        return drop_unaffordable(self.brackets[-1] if self.brackets else None, asks)

    def chosen(self) -> Candidate | None:
        return best_feasible(self.history, self.setup.param_cap)

    def state(self) -> dict[str, Any]:
        return {"evaluated": len(self.history), "sampled": len(self.seen), "brackets": len(self.brackets),
                "rungs": list(self.schedule.rungs)}
