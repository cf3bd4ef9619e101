"""The budget ledger of one (track, search method, seed): what was declared, what was charged.

Charges come from the engine's deterministic cost model. Teacher work is charged once per epoch view
within a ledger, to the first evaluation that needed it, whichever cache served it in reality: every
method pays for its own teacher views, so methods are charged alike and the charge never depends on
the order in which methods or workers ran. A batch of evaluations is admitted only as far as its predicted
(full-length) charges fit the budget together, so a search never overruns it, however its batch is run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from uniads_bench.engine.cost import CostModel


@dataclass(frozen=True)
class PlannedEvaluation:
    """What an evaluation would cost if it ran to the end (a student over the parameter cap: zero MACs)."""

    student_macs: int
    epochs: float
    train_samples: int
    eval_samples: int
    views: tuple[str, ...] = ()


@dataclass
class BudgetLedger:
    """Declared budget and charges so far, in GPU-hours of the suite's hardware profile."""

    declared_gpu_hours: float
    cost: CostModel
    spent_gpu_hours: float = 0.0
    evaluations: int = 0
    charged_views: set[str] = field(default_factory=set)

    def admit(self, planned: list[PlannedEvaluation]) -> int:
        """How many leading evaluations of `planned` fit the budget together if each ran to the end; a teacher
        view shared by several of them is predicted once, as it will be charged once."""
        views = set(self.charged_views)
        total = self.spent_gpu_hours
        for count, plan in enumerate(planned):
            new = set(plan.views) - views
            total += self.cost.charge(plan.student_macs, plan.epochs, plan.train_samples, plan.eval_samples, len(new))
            if total > self.declared_gpu_hours:
                return count
            views |= new
        return len(planned)

    def charge(self, student_macs: int, epochs_done: float, train_samples: int, eval_samples: int,
               views: tuple[str, ...]) -> float:
        """Record an evaluation's charge and return it."""
        new = set(views) - self.charged_views
        self.charged_views |= new
        amount = self.cost.charge(student_macs, epochs_done, train_samples, eval_samples, len(new))
        self.spent_gpu_hours += amount
        self.evaluations += 1
        return amount
