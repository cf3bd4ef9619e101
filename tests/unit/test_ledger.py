"""Budget ledger: charges are deterministic, teacher views are paid once per ledger, overrun is bounded."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from uniads_bench.budget import BudgetLedger, FlopCost, PlannedEvaluation

FLOPS = 1e9


def test_teacher_views_charged_once() -> None:
    ledger = BudgetLedger(1.0, FlopCost(FLOPS, teacher_macs=1000))
    first = ledger.charge(100, 2, 50, 10, ("s/0/0", "s/0/1"))
    second = ledger.charge(100, 2, 50, 10, ("s/0/0", "s/0/1"))
    assert first > second
    assert second == FlopCost(FLOPS, 1000).charge(100, 2, 50, 10, 0)


@given(st.lists(st.tuples(st.integers(1, 10**6), st.integers(1, 20)), min_size=1, max_size=60), st.floats(1e-6, 1e-2))
def test_budget_never_overrun_when_runner_checks_predictions(costs, budget) -> None:
    """The runner's rule: run a batch only as far as its predicted full-length charges fit; actual <= predicted."""
    ledger = BudgetLedger(budget, FlopCost(FLOPS, teacher_macs=10))
    planned = [PlannedEvaluation(macs, epochs, 100, 10, (f"v{epochs}",)) for macs, epochs in costs]
    for macs, epochs in costs[: ledger.admit(planned)]:
        ledger.charge(macs, epochs, 100, 10, (f"v{epochs}",))
    assert ledger.spent_gpu_hours <= budget * (1 + 1e-12)


def test_admit_predicts_a_shared_teacher_view_once() -> None:
    cost = FlopCost(FLOPS, teacher_macs=10**6)
    one = PlannedEvaluation(100, 1, 100, 10, ("s/0/0",))
    alone = cost.charge(100, 1, 100, 10, 1)
    shared = cost.charge(100, 1, 100, 10, 0)
    assert BudgetLedger(alone + shared, cost).admit([one, one, one]) == 2
    assert BudgetLedger(alone + shared * 0.99, cost).admit([one, one, one]) == 1
    assert BudgetLedger(alone * 0.99, cost).admit([one]) == 0
