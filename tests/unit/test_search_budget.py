"""The budget invariant, for every searcher: charges through `search_loop` + `BudgetLedger` never exceed the
declared budget, whatever the cost table (hypothesis draws per-option MAC tables, teacher costs, early stops,
budgets of 0.1 to 12 full evaluations)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.test_searcher_conformance import SMALL
from uniads_bench.budget import BudgetLedger, FlopCost, PlannedEvaluation
from uniads_bench.results import EvalResult
from uniads_bench.search.base import SEARCHERS as SEARCHER_REGISTRY
from uniads_bench.search.base import Ask, SearchSetup, make_searcher
from uniads_bench.search.loop import one_at_a_time, search_loop
from uniads_bench.space.space import Gene, Space

SPACE = Space((Gene("w", "arch", (1, 2, 3, 4)), Gene("d", "arch", (1, 2, 3, 4)), Gene("t", "distill", (1, 4, 8)),
               Gene("lr_mult", "optim", (0.5, 1.0, 2.0))), "fake")
# Every registered searcher with the options of its conformance run, and a second nevergrad optimizer.
SEARCHERS = [(name, SMALL.get(name, {})) for name in SEARCHER_REGISTRY.names()] + [
    ("nevergrad", {"variant": "TwoPointsDE"})]
TRAIN, EVAL = 1000, 100


@pytest.mark.parametrize(("name", "options"), SEARCHERS, ids=[f"{n}-{o.get('variant', '')}" for n, o in SEARCHERS])
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    macs=st.lists(st.integers(1, 10**7), min_size=10, max_size=10),
    teacher_macs=st.integers(0, 10**7),
    full_evaluations=st.floats(0.1, 12.0),
    stop_fraction=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**16),
)
def test_spent_never_exceeds_budget(name: str, options: dict, macs: list[int], teacher_macs: int,
                                    full_evaluations: float, stop_fraction: float, seed: int) -> None:
    cost = FlopCost(1e12, teacher_macs)
    budget = full_evaluations * cost.charge(3 * int(np.mean(macs)), 9, TRAIN, EVAL, 9)
    ledger = BudgetLedger(budget, cost)
    setup = SearchSetup(SPACE, param_cap=10**9, max_epochs=9, rng=np.random.default_rng(seed), options=options)
    searcher = make_searcher(name, setup)

    def student_macs(ask: Ask) -> int:
        genes = SPACE.values(ask.candidate)
        return macs[genes["w"]] + macs[genes["d"] + 4] + macs[genes["t"] % 3 + 7]

    def views(ask: Ask) -> list[str]:
        return [f"view{e}" for e in range(ask.fidelity.epochs)]

    def evaluate(ask: Ask, index: int) -> EvalResult:
        rejected = SPACE.values(ask.candidate)["t"] == 8 and ask.guard
        done = ask.fidelity.epochs * (stop_fraction if rejected else 1.0)
        result = EvalResult(ask.candidate.id, "rejected" if rejected else "ok", "", 50.0 + index % 7, 1000,
                            student_macs(ask), done, tuple(views(ask)[: int(np.ceil(done))]), 0.0)
        ledger.charge(result.macs, result.epochs_done, TRAIN, EVAL, result.teacher_views)
        return result

    def admit(asks: list[Ask]) -> int:
        return ledger.admit([PlannedEvaluation(student_macs(a), a.fidelity.epochs, TRAIN, EVAL, tuple(views(a)))
                             for a in asks])

    history = search_loop(searcher, one_at_a_time(lambda ask: evaluate(ask, ledger.evaluations)), admit,
                          max_evaluations=80).history
    assert ledger.spent_gpu_hours <= budget * (1 + 1e-9)
    assert ledger.evaluations == len(history)


@pytest.mark.parametrize("name", ["uniads", "random+halving"])
def test_halving_searches_spend_what_their_top_rung_cannot_use_on_lower_rungs(name: str) -> None:
    # Teacher views dominate, as on the digits tables: the budget pays for the 1- and 3-epoch views and many
    # students but not for the views 3..8 a 9-epoch training needs, so no top-rung ask ever fits.
    cost = FlopCost(1e12, teacher_macs=10**7)
    student = cost.charge(1000, 1, TRAIN, EVAL, 0)
    budget = cost.charge(0, 0, TRAIN, 0, 3) + 80 * student
    ledger = BudgetLedger(budget, cost)
    setup = SearchSetup(SPACE, param_cap=10**9, max_epochs=9, rng=np.random.default_rng(0), options={"r_min": 1})
    views = {ask_epochs: tuple(f"view{e}" for e in range(ask_epochs)) for ask_epochs in (1, 3, 9)}

    def evaluate(ask: Ask) -> EvalResult:
        result = EvalResult(ask.candidate.id, "ok", "", 50.0 + SPACE.values(ask.candidate)["w"], 1000, 1000,
                            ask.fidelity.epochs, views[ask.fidelity.epochs], 0.0)
        ledger.charge(1000, ask.fidelity.epochs, TRAIN, EVAL, result.teacher_views)
        return result

    def admit(asks: list[Ask]) -> int:
        return ledger.admit([PlannedEvaluation(1000, a.fidelity.epochs, TRAIN, EVAL, views[a.fidelity.epochs])
                             for a in asks])

    end = search_loop(make_searcher(name, setup), one_at_a_time(evaluate), admit, max_evaluations=10**4)
    epochs = [o.ask.fidelity.epochs for o in end.history]
    assert 9 not in epochs and epochs.count(3) > 3  # brackets went on after their first unaffordable top rung
    assert end.stop_reason == "budget" and budget - ledger.spent_gpu_hours < 3 * student


def test_a_ledger_says_how_many_evaluations_its_budget_pays_for_with_teacher_views_charged_once() -> None:
    cost = FlopCost(flops_per_second=1e9, teacher_macs=1000)
    plan = PlannedEvaluation(student_macs=500, epochs=2, train_samples=TRAIN, eval_samples=EVAL, views=("e0", "e1"))
    first = cost.charge(500, 2, TRAIN, EVAL, 2)
    later = cost.charge(500, 2, TRAIN, EVAL, 0)
    ledger = BudgetLedger(first + 3 * later, cost)
    assert ledger.affordable(plan) == pytest.approx(4.0)
    # Spending them one by one agrees: four fit, a fifth does not.
    assert ledger.admit([plan] * 5) == 4
    assert BudgetLedger(first * 0.99, cost).affordable(plan) == 0.0
