"""UniADS: NSGA-II over (validation error, params) under the parameter cap, accelerated by successive
halving with loss rejection, and by search-space shrinking.

One generation works like this:

1. pymoo's NSGA-II (mixed-variable mating with binary tournament on rank and crowding, duplicate
   elimination in mating) proposes offspring as option indices (`space.adapters`).
2. Shrinking repair: each gene of each offspring is resampled, with probability ``1 - w / max(w)``, from
   the gene's option weights ``w`` (see `ShrinkWeights`); a repair step over pymoo's offspring rather than
   our own mutation, so pymoo's operators stay stock. The first generation (uniform sampling) is untouched
   because all weights start at 1. A repair that would copy a member of the population or an earlier
   offspring (as a candidate: settings that differ only in inactive genes are one candidate) is redrawn up
   to `MAX_REPAIRS` times, then the unrepaired offspring is kept, and an offspring that is a copy even so
   is dropped: mating's duplicate check ran before the repair, so without this, copies reached survival.
3. Offspring already evaluated earlier reuse their archived result (no new training); the rest form one
   successive-halving `Bracket`. The lowest rung applies the loss-rejection guards.
4. NSGA-II is told, for every offspring, its result **at the highest rung it reached** (the most-trained
   estimate we have): objectives ``F = (1 - top1/100, params)``, constraint ``G = (params - cap) / cap``.
   Rejected, diverged, OOM or failed candidates get ``F = (1, params)`` and ``G = 1 + max(0, G)``, so
   they lose by constraint dominance to every feasible and every merely over-cap candidate. A low-rung
   score under-estimates a full run, so promoted candidates are favoured in survival, which is the intent.
5. Shrinking update: options of infeasible rung-0 candidates (only the architecture options of one over
   the cap) and of the bottom ``1/eta`` feasible rung-0 candidates lose weight ``w *= 1 - shrink_rate``
   down to ``shrink_floor``; options of candidates promoted from rung 0 in the same generation are spared.

Population size: ``pop_size = "auto"`` sizes the generation to the budget. The largest population in
[`MIN_POP_SIZE`, `MAX_POP_SIZE`] whose bracket `TARGET_GENERATIONS` times fits the budget's top-fidelity
evaluations (`SearchSetup.budget_evaluations`, counting every member as trained, as if none were over the cap),
so that several generations evolve; a budget that affords fewer gets the smallest population. The plan is in
`state()`. An integer fixes it.

The search never ends by itself (no generation count): the budget or pymoo's exhaustion (``ask()`` returns
None or only already-seen candidates) stops it. When the budget cannot afford a bracket's next rung, the
bracket ends there and the next generation starts (`halving.drop_unaffordable`); the search ends when a
generation's lowest rung does not fit. `chosen()` is the best feasible result at the top fidelity
in the archive of every evaluation (at the highest rung reached, when the budget ended the search below the
top rung); ties go to fewer parameters, then to the earlier ask.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from pymoo.algorithms.moo.nsga2 import NSGA2, binary_tournament
from pymoo.core.mixed import MixedVariableDuplicateElimination, MixedVariableMating, MixedVariableSampling
from pymoo.core.population import Population
from pymoo.core.problem import Problem
from pymoo.core.termination import NoTermination
from pymoo.operators.selection.tournament import TournamentSelection
from pymoo.problems.static import StaticProblem

from uniads_bench.candidate import Candidate
from uniads_bench.search.base import Ask, Observation, SearchSetup, best_feasible, feasible, register_searcher
from uniads_bench.search.halving import Bracket, HalvingSchedule, drop_unaffordable, rank_order
from uniads_bench.space.adapters import candidate_to_indices, indices_to_candidate, pymoo_variables
from uniads_bench.space.space import Space

DEFAULT_POP_SIZE = 12
# Generation sizing (`pop_size = "auto"`): ours, the paper publishes no population size. A binary tournament
# over a population of 4 still mixes two pairs; 48 keeps a generation's bracket affordable on a GPU suite.
TARGET_GENERATIONS = 4
MIN_POP_SIZE, MAX_POP_SIZE = 4, 48
DEFAULT_SHRINK_RATE = 0.3
DEFAULT_SHRINK_FLOOR = 0.2
# Generations in a row whose offspring were all evaluated before; then the space is treated as exhausted.
MAX_STALE_GENERATIONS = 8
# Redraws of a shrinking repair that copies a candidate already in the population or the offspring.
MAX_REPAIRS = 10


def population_size(option: int | str, schedule: HalvingSchedule, budget_evaluations: float | None) -> int:
    """`option` as an int, or for ``"auto"`` the generation sized to the budget (module docstring); ``"auto"``
    without a known budget is `DEFAULT_POP_SIZE`."""
    if option != "auto":
        return int(option)
    if budget_evaluations is None:
        return DEFAULT_POP_SIZE
    fitting = [n for n in range(MIN_POP_SIZE, MAX_POP_SIZE + 1)
               if TARGET_GENERATIONS * schedule.bracket_cost(n) <= budget_evaluations]
    return max(fitting, default=MIN_POP_SIZE)


class ShrinkWeights:
    """Per-gene sampling weights of options, shrunk for options seen in bad candidates, floored."""

    def __init__(self, space: Space, rate: float, floor: float) -> None:
        if not 0.0 <= rate < 1.0 or not 0.0 < floor <= 1.0:
            raise ValueError(f"shrink_rate must be in [0, 1) and shrink_floor in (0, 1]; got {rate}, {floor}")
        self.space, self.rate, self.floor = space, rate, floor
        self.weights = {g.name: np.ones(len(g.options)) for g in space.genes}

    def penalise(self, bad: Sequence[Candidate], spared: Sequence[Candidate],
                 groups: frozenset[str] = frozenset({"arch", "distill", "optim"})) -> None:
        """Shrink the weight of every option of a gene in `groups` that some `bad` candidate uses and no
        `spared` candidate uses."""
        names = {g.name for g in self.space.genes if g.group in groups}
        keep = {(name, i) for c in spared for name, i in candidate_to_indices(self.space, c).items()}
        hit = {(name, i) for c in bad for name, i in candidate_to_indices(self.space, c).items()
               if name in names} - keep
        for name, i in sorted(hit):
            self.weights[name][i] = max(self.floor, self.weights[name][i] * (1.0 - self.rate))

    def resample(self, indices: dict[str, int], rng: np.random.Generator) -> dict[str, int]:
        """Each gene keeps its option with probability ``w / max(w)``, else is redrawn in proportion to `w`."""
        out = {}
        for gene in self.space.genes:
            w = self.weights[gene.name]
            i = int(indices[gene.name])
            if rng.random() >= w[i] / w.max():
                i = int(rng.choice(len(w), p=w / w.sum()))
            out[gene.name] = i
        return out


@register_searcher("uniads")
class UniADSSearch:
    """NSGA-II + successive halving + shrinking (module docstring). Options: ``pop_size`` (12), ``eta`` (3),
    ``r_min`` (``max_epochs // eta**2``), ``shrink_rate`` (0.3), ``shrink_floor`` (0.2)."""

    def __init__(self, setup: SearchSetup) -> None:
        self.setup = setup
        opts = setup.options
        self.schedule = HalvingSchedule.from_options(opts, setup.max_epochs)
        self.shrink = ShrinkWeights(setup.space, float(opts.get("shrink_rate", DEFAULT_SHRINK_RATE)),
                                    float(opts.get("shrink_floor", DEFAULT_SHRINK_FLOOR)))
        self.start_from_known = bool(opts.get("start_from_known", True))
        self.problem = Problem(vars=pymoo_variables(setup.space), n_obj=2, n_ieq_constr=1)
        dedup = MixedVariableDuplicateElimination()
        self.pop_size = population_size(opts.get("pop_size", DEFAULT_POP_SIZE), self.schedule,
                                        setup.budget_evaluations)
        self.algorithm = NSGA2(
            pop_size=self.pop_size,
            sampling=MixedVariableSampling(),
            mating=MixedVariableMating(selection=TournamentSelection(func_comp=binary_tournament),
                                       eliminate_duplicates=dedup),
            eliminate_duplicates=dedup,
        )
        # pymoo builds its own Generator from this seed (never the global numpy RNG).
        self.algorithm.setup(self.problem, termination=NoTermination(), seed=int(setup.rng.integers(2**31 - 1)),
                             verbose=False)
        self.archive: list[Observation] = []
        self.reached: dict[str, Observation] = {}
        self.brackets: list[Bracket] = []
        self.bracket: Bracket | None = None
        self.offspring: Population | None = None
        self.offspring_candidates: list[Candidate] = []
        self.exhausted = False

    def ask(self) -> list[Ask]:
        if self.bracket is not None and not self.bracket.done:
            return self.bracket.asks()
        if self.offspring is not None:
            self._finish_generation()
        for _ in range(MAX_STALE_GENERATIONS):
            if self.exhausted or not self._next_offspring():
                break
            new = list({c.id: c for c in self.offspring_candidates if c.id not in self.reached}.values())
            if new:
                self.bracket = Bracket(new, self.schedule, self.setup.param_cap)
                self.brackets.append(self.bracket)
                return self.bracket.asks()
            self._finish_generation()  # every offspring was evaluated before: tell from the archive, go on
        self.exhausted = True
        return []

    def tell(self, observations: list[Observation]) -> None:
        self.archive.extend(observations)
        for obs in observations:
            previous = self.reached.get(obs.ask.candidate.id)
            if previous is None or obs.ask.fidelity.epochs >= previous.ask.fidelity.epochs:
                self.reached[obs.ask.candidate.id] = obs
        assert self.bracket is not None
        self.bracket.tell(observations)

    def unaffordable(self, asks: list[Ask]) -> bool:
        return drop_unaffordable(self.bracket, asks)

    def chosen(self) -> Candidate | None:
        return best_feasible(self.archive, self.setup.param_cap)

    def state(self) -> dict[str, Any]:
        weights = {gene.name: {str(option): round(float(w), 4) for option, w in
                               zip(gene.options, self.shrink.weights[gene.name], strict=True)}
                   for gene in self.setup.space.genes}
        budget = self.setup.budget_evaluations
        return {"generations": int(self.algorithm.n_gen or 0), "pop_size": self.pop_size,
                "budget_evaluations": round(budget, 3) if budget is not None and math.isfinite(budget) else None,
                "evaluated": len(self.archive),
                "candidates": len(self.reached), "rungs": list(self.schedule.rungs), "exhausted": self.exhausted,
                "known": [c.describe() for c in self.setup.known] if self.start_from_known else [],
                "sampling_weights": weights}

    def _next_offspring(self) -> bool:
        """Ask pymoo for the next offspring and apply the shrinking repair; False when pymoo has none."""
        pop = self.algorithm.ask()
        if pop is None or len(pop) == 0:
            self.exhausted = True
            return False
        members = self.algorithm.pop
        taken = ({indices_to_candidate(self.setup.space, x).id for x in members.get("X")}
                 if members is not None and len(members) else set())
        X = list(pop.get("X"))
        if not self.brackets:  # the initial population
            X = self._start_from_known(X)
        rows = [self._repair(x, taken) for x in X]
        keep = np.array([row is not None for row in rows], dtype=bool)
        pop = pop[keep]
        rows = [row for row in rows if row is not None]
        pop.set("X", np.array(rows, dtype=object))
        self.offspring = pop
        self.offspring_candidates = [indices_to_candidate(self.setup.space, x) for x in rows]
        return True

    def _start_from_known(self, X: list[dict[str, int]]) -> list[dict[str, int]]:
        """The first generation with the setup's known points (the suite's hand-designed methods) in place of
        as many sampled members, so the search starts at the baselines' level; they then survive halving and
        NSGA-II on their merit like any other member (option ``start_from_known``, on by default)."""
        if not self.start_from_known:
            return X
        known = [candidate_to_indices(self.setup.space, c) for c in self.setup.known[:len(X)]]
        ids = {indices_to_candidate(self.setup.space, x).id for x in known}
        rest = [x for x in X if indices_to_candidate(self.setup.space, x).id not in ids]
        return known + rest[:len(X) - len(known)]

    def _repair(self, indices: dict[str, int], taken: set[str]) -> dict[str, int] | None:
        """The shrinking repair of one offspring that copies no candidate in `taken` (added to it), else the
        offspring unrepaired, else None (module docstring, step 2)."""
        tries = (self.shrink.resample(indices, self.setup.rng) if k < MAX_REPAIRS else dict(indices)
                 for k in range(MAX_REPAIRS + 1))
        for row in tries:
            candidate_id = indices_to_candidate(self.setup.space, row).id
            if candidate_id not in taken:
                taken.add(candidate_id)
                return row
        return None

    def _finish_generation(self) -> None:
        """Tell NSGA-II every offspring's highest-rung result, then shrink by the bracket's lowest rung."""
        assert self.offspring is not None
        cap = self.setup.param_cap
        known = [c for c in self.offspring_candidates if c.id in self.reached]
        if len(known) < len(self.offspring_candidates):
            # The budget stopped the bracket mid-rung: drop the never-evaluated offspring.
            self.offspring = self.offspring[np.array([c.id in self.reached for c in self.offspring_candidates])]
            self.offspring_candidates = known
        F, G = [], []
        for c in self.offspring_candidates:
            r = self.reached[c.id].result
            overflow = (r.params - cap) / cap
            if r.ok:
                F.append([1.0 - r.top1 / 100.0, float(r.params)])
                G.append([overflow])
            else:
                F.append([1.0, float(r.params)])
                G.append([1.0 + max(0.0, overflow)])
        if self.offspring_candidates:
            static = StaticProblem(self.problem, F=np.array(F), G=np.array(G))
            self.algorithm.evaluator.eval(static, self.offspring)
            self.algorithm.tell(infills=self.offspring)
        if self.bracket is not None and self.bracket.observed:
            self._shrink(self.bracket.observed[0])
        self.offspring, self.offspring_candidates, self.bracket = None, [], None

    def _shrink(self, lowest: list[Observation]) -> None:
        """Penalise the options of the rung's infeasible and bottom ``1/eta`` feasible candidates, sparing
        those of its top ``1/eta`` (the ones promoted, when there was a next rung). A student rejected for
        its size says nothing about its distiller: only its architecture options are penalised."""
        cap = self.setup.param_cap
        order = rank_order(lowest, cap)
        n_tail = self.schedule.survivors(len(order)) if len(order) > 1 else 0
        spared = [lowest[i].ask.candidate for i in order[:n_tail]]
        oversized = [o.ask.candidate for o in lowest if o.result.params > cap]
        bad = [o.ask.candidate for o in lowest if not feasible(o.result, cap) and o.result.params <= cap]
        bad += [lowest[i].ask.candidate for i in order[len(order) - n_tail:]]
        self.shrink.penalise(oversized, spared, frozenset({"arch"}))
        self.shrink.penalise(bad, spared)
