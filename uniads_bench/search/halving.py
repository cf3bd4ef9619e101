"""Synchronous successive halving, the one implementation shared by `uniads` and `random+halving`.

A bracket trains a fixed set of candidates at the lowest rung, promotes the best ``1/eta`` of them to the
next rung, and so on up to the top fidelity. Rungs are ``r_min * eta**k`` epochs, with the top rung always
``max_epochs`` (the rung before it is the last ``r_min * eta**k`` that still leaves a factor ``eta``).
Each rung retrains from scratch with a schedule that completes within the rung, so a rung's result is an
honest short-schedule score and results are comparable only at equal fidelity.

Promotion into an intermediate rung is multi-objective: feasible results (status ok, params within the
cap) are ordered by non-dominated rank on (validation error, params), then by crowding distance (larger
first, so the promoted set stays spread along the front), then by ask order. Promotion into the top rung
serves the final choice instead: the top rung is where the searcher's choice is made, by accuracy
(`choice_order`), and ranking by the front there let the smallest candidate take a single top-rung slot
as often as the most accurate one (both ends of a front have infinite crowding distance; issue 19).
Infeasible results are never promoted.
A bracket whose next rung the budget cannot afford ends where it is (`drop_unaffordable`), so the search
can go on with cheaper lowest-rung asks instead of ending with budget left.
The lowest rung asks with ``guard=True`` so the engine applies the full loss-rejection protocol there;
promoted candidates already passed it, so higher rungs ask with ``guard=False``. Options ``halving = false``
(one rung at full fidelity) and ``loss_rejection = false`` (no rung guarded) exist for ablations.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pymoo.operators.survival.rank_and_crowding.metrics import calc_crowding_distance
from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

from uniads_bench.candidate import Candidate
from uniads_bench.results import Fidelity
from uniads_bench.search.base import Ask, Observation, choice_order, feasible

DEFAULT_ETA = 3


def rung_epochs(r_min: int, eta: int, max_epochs: int) -> tuple[int, ...]:
    """Rungs ``r_min * eta**k`` for as long as a further factor ``eta`` fits within ``max_epochs``, then ``max_epochs``.

    Example: ``rung_epochs(1, 3, 10) == (1, 3, 10)``, ``rung_epochs(3, 3, 27) == (3, 9, 27)``.
    """
    if eta < 2 or r_min < 1 or max_epochs < 1:
        raise ValueError(f"halving needs eta >= 2, r_min >= 1, max_epochs >= 1; got {eta}, {r_min}, {max_epochs}")
    if r_min >= max_epochs:
        return (max_epochs,)
    # Integer arithmetic avoids float log rounding (log_3(27) = 2.9999...).
    steps, r = 0, r_min
    while r * eta <= max_epochs:
        steps, r = steps + 1, r * eta
    return tuple(r_min * eta**k for k in range(steps)) + (max_epochs,)


@dataclass(frozen=True)
class HalvingSchedule:
    """Rung epochs and the reduction factor of successive halving."""

    rungs: tuple[int, ...]
    eta: int = DEFAULT_ETA
    loss_rejection: bool = True

    @classmethod
    def from_options(cls, options: Mapping[str, Any], max_epochs: int) -> HalvingSchedule:
        """Options ``eta`` (default 3), ``r_min`` (default ``max(1, max_epochs // eta**2)``, i.e. three rungs
        when the top fidelity allows it), ``halving`` (default true; false: ``max_epochs`` only) and
        ``loss_rejection`` (default true: the lowest rung is guarded)."""
        eta = int(options.get("eta", DEFAULT_ETA))
        r_min = int(options.get("r_min", max(1, max_epochs // eta**2))) if options.get("halving", True) else max_epochs
        return cls(rung_epochs(r_min, eta, max_epochs), eta, bool(options.get("loss_rejection", True)))

    @property
    def bracket_size(self) -> int:
        """Candidates a bracket needs so that exactly one reaches the top rung."""
        return self.eta ** (len(self.rungs) - 1)

    def survivors(self, n: int) -> int:
        """How many of `n` results at a rung are promoted: ``n // eta``, at least one."""
        return max(1, n // self.eta)

    def bracket_cost(self, n: int) -> float:
        """Top-fidelity evaluations a bracket of `n` candidates costs when each is trained and promoted as the
        rungs allow (a rung of m epochs counts m / top)."""
        cost, alive = 0.0, n
        for rung in self.rungs:
            cost += alive * rung / self.rungs[-1]
            alive = self.survivors(alive)
        return cost


def objectives(observations: Sequence[Observation]) -> np.ndarray:
    """(validation error in [0, 1], params) per observation, the two minimised objectives."""
    return np.array([[1.0 - o.result.top1 / 100.0, float(o.result.params)] for o in observations]).reshape(-1, 2)


def rank_order(observations: Sequence[Observation], param_cap: int) -> list[int]:
    """Positions of the feasible observations, best first: non-dominated rank, then crowding distance
    (larger first), then ask order. Raises ValueError when fidelities differ, since a 3-epoch score and a
    27-epoch score are not comparable."""
    if len({o.ask.fidelity.epochs for o in observations}) > 1:
        raise ValueError("rank_order compares results at one fidelity only")
    pool = [i for i, o in enumerate(observations) if feasible(o.result, param_cap)]
    if not pool:
        return []
    points = objectives([observations[i] for i in pool])
    fronts = NonDominatedSorting().do(points)
    keys: dict[int, tuple[int, float, int]] = {}
    for rank, front in enumerate(fronts):
        crowding = calc_crowding_distance(points[front])
        for local, dist in zip(front, crowding, strict=True):
            keys[pool[local]] = (rank, -float(dist), pool[local])
    return sorted(pool, key=lambda i: keys[i])


def promote(observations: Sequence[Observation], keep: int, param_cap: int, into_top: bool = False) -> list[Candidate]:
    """The best `keep` feasible candidates of one rung: by `choice_order` when they go to the top rung, else by
    `rank_order` (module docstring)."""
    order = choice_order(observations, param_cap) if into_top else rank_order(observations, param_cap)
    return [observations[i].ask.candidate for i in order[:keep]]


@dataclass
class Bracket:
    """Successive halving of a fixed set of candidates; each rung is one batch of asks.

    Attributes:
        reached: per candidate id, the observation at the highest rung it reached (the result a searcher
            should use for the candidate: the most trained one).
        promotions: per rung transition, the ids promoted, in promotion order.
        observed: per rung, the observations told, in ask order.
    """

    candidates: list[Candidate]
    schedule: HalvingSchedule
    param_cap: int
    rung: int = 0
    reached: dict[str, Observation] = field(default_factory=dict)
    promotions: list[list[str]] = field(default_factory=list)
    observed: list[list[Observation]] = field(default_factory=list)
    done: bool = False

    def __post_init__(self) -> None:
        self.active = list(self.candidates)
        self.done = self.done or not self.active

    def asks(self) -> list[Ask]:
        """The current rung's asks; empty once the bracket is done."""
        if self.done:
            return []
        fidelity = Fidelity(self.schedule.rungs[self.rung])
        return [Ask(c, fidelity, guard=self.rung == 0 and self.schedule.loss_rejection) for c in self.active]

    def tell(self, observations: list[Observation]) -> None:
        """Record the current rung's results and promote. A partial batch (the budget ran out) still
        promotes among what was observed, so the bracket never waits for results that will not come."""
        self.observed.append(list(observations))
        for obs in observations:
            self.reached[obs.ask.candidate.id] = obs
        if self.rung == len(self.schedule.rungs) - 1:
            self.done = True
            return
        into_top = self.rung + 1 == len(self.schedule.rungs) - 1
        promoted = promote(observations, self.schedule.survivors(len(self.active)), self.param_cap, into_top)
        self.promotions.append([c.id for c in promoted])
        self.active = promoted
        self.rung += 1
        self.done = not promoted


def drop_unaffordable(bracket: Bracket | None, asks: Sequence[Ask]) -> bool:
    """A halving searcher's answer to asks the budget could not run (`Searcher.unaffordable`). Lowest-rung asks
    that do not fit end the search (False): a new bracket would start with the same. Above it, the bracket
    ends where it is, unless it has already moved past those asks (a partly run rung promotes among what ran),
    and the search goes on with a new bracket (True)."""
    if bracket is None or any(a.fidelity.epochs == bracket.schedule.rungs[0] for a in asks):
        return False
    pending = {(a.candidate.id, a.fidelity.epochs) for a in bracket.asks()}
    if pending & {(a.candidate.id, a.fidelity.epochs) for a in asks}:
        bracket.done = True
    return True
