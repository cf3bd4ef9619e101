"""Nevergrad optimizers as searchers: ``nevergrad:NAME`` runs optimizer NAME over the joint space.

Every evaluation is at the top fidelity with the loss guards on. Our loop owns the budget (nevergrad's
``budget`` is only a planning hint, passed through option ``budget_hint``). The two objectives are
scalarised into one loss, since nevergrad's multi-objective mode is documented as unstable and most of
its optimizers reduce it to one scalar anyway:

- feasible: ``error + params_weight * params / cap`` (``params_weight`` defaults to 0: the leaderboard
  ranks by accuracy under the cap, and the cap is what bounds size);
- trained but over the cap: ``1 + (params - cap) / cap`` (worse than any feasible, graded by overflow);
- rejected, diverged, OOM or failed: ``2``.

A candidate nevergrad proposes again is told its cached loss without retraining; after `MAX_REPEATS`
repeats in a row the space is treated as exhausted. Seeding: the parametrisation's ``random_state`` is
seeded from the search generator, which every optimizer draws from.
"""

from __future__ import annotations

from typing import Any

import nevergrad as ng

from uniads_bench.candidate import Candidate
from uniads_bench.errors import UserError
from uniads_bench.results import EvalResult, Fidelity
from uniads_bench.search.base import Ask, Observation, SearchSetup, best_feasible, feasible, register_searcher
from uniads_bench.space.adapters import indices_to_candidate, nevergrad_parametrization

# Checked with nevergrad 1.0.12 and numpy 2.4 on our discrete spaces (NGOpt picks a discrete (1+1) here).
VARIANTS = ("DiscreteOnePlusOne", "PortfolioDiscreteOnePlusOne", "DE", "TwoPointsDE", "NGOpt")
DEFAULT_VARIANT = "DiscreteOnePlusOne"
MAX_REPEATS = 200
REJECTED_LOSS = 2.0


def scalar_loss(result: EvalResult, param_cap: int, params_weight: float = 0.0) -> float:
    """The single loss nevergrad minimises (module docstring)."""
    if feasible(result, param_cap):
        return 1.0 - result.top1 / 100.0 + params_weight * result.params / param_cap
    if result.ok:
        return 1.0 + (result.params - param_cap) / param_cap
    return REJECTED_LOSS


@register_searcher("nevergrad")
class NevergradSearch:
    """One nevergrad optimizer, asked one candidate at a time. Options: ``variant`` (one of `VARIANTS`),
    ``params_weight`` (0.0), ``budget_hint`` (None: no hint)."""

    def __init__(self, setup: SearchSetup) -> None:
        self.setup = setup
        variant = str(setup.options.get("variant", DEFAULT_VARIANT))
        if variant not in VARIANTS:
            raise UserError(f"unsupported nevergrad optimizer {variant!r}; supported: {', '.join(VARIANTS)}")
        self.params_weight = float(setup.options.get("params_weight", 0.0))
        hint = setup.options.get("budget_hint")
        self.optimizer = ng.optimizers.registry[variant](
            parametrization=nevergrad_parametrization(setup.space, setup.rng),
            budget=None if hint is None else int(hint), num_workers=1)
        self.losses: dict[str, float] = {}
        self.pending: ng.p.Parameter | None = None
        self.history: list[Observation] = []

    def ask(self) -> list[Ask]:
        for _ in range(MAX_REPEATS):
            proposal = self.optimizer.ask()
            candidate = indices_to_candidate(self.setup.space, proposal.value)
            if candidate.id in self.losses:
                self.optimizer.tell(proposal, self.losses[candidate.id])
                continue
            self.pending = proposal
            return [Ask(candidate, Fidelity(self.setup.max_epochs), guard=True)]
        return []

    def tell(self, observations: list[Observation]) -> None:
        (obs,) = observations
        loss = scalar_loss(obs.result, self.setup.param_cap, self.params_weight)
        self.losses[obs.ask.candidate.id] = loss
        assert self.pending is not None
        self.optimizer.tell(self.pending, loss)
        self.pending = None
        self.history.append(obs)

    def chosen(self) -> Candidate | None:
        return best_feasible(self.history, self.setup.param_cap)

    def state(self) -> dict[str, Any]:
        # NGOpt delegates to an optimizer it picks; record which, since a benchmark must say what ran.
        inner = getattr(self.optimizer, "optim", None)
        return {"evaluated": len(self.history), "optimizer": type(self.optimizer).__name__,
                "delegate": type(inner).__name__ if inner is not None else None}
