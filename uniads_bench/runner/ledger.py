"""The budget ledger of one (track, search method, seed): what was declared, what was charged.

Charges come from the engine's deterministic cost model. Teacher work is charged once per epoch view
within a ledger, to the first evaluation that needed it, whichever cache served it in reality: every
method pays for its own teacher views, so methods are charged alike and the charge never depends on
the order in which methods or workers ran. A search stops asking when the next evaluation's predicted
charge would overrun the budget.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from uniads_bench.engine.cost import CostModel


@dataclass
class BudgetLedger:
    """Declared budget and charges so far, in GPU-hours of the suite's hardware profile."""

    declared_gpu_hours: float
    cost: CostModel
    spent_gpu_hours: float = 0.0
    evaluations: int = 0
    charged_views: set[str] = field(default_factory=set)

    def predict(
        self, student_macs: int, epochs: float, train_samples: int, eval_samples: int, views: list[str]
    ) -> float:
        """The charge an evaluation would incur if it ran to the end."""
        new = len(set(views) - self.charged_views)
        return self.cost.charge(student_macs, epochs, train_samples, eval_samples, new)

    def affordable(self, predicted_gpu_hours: float) -> bool:
        return self.spent_gpu_hours + predicted_gpu_hours <= self.declared_gpu_hours

    def charge(self, student_macs: int, epochs_done: float, train_samples: int, eval_samples: int,
               views: tuple[str, ...]) -> float:
        """Record an evaluation's charge and return it."""
        new = set(views) - self.charged_views
        self.charged_views |= new
        amount = self.cost.charge(student_macs, epochs_done, train_samples, eval_samples, len(new))
        self.spent_gpu_hours += amount
        self.evaluations += 1
        return amount
