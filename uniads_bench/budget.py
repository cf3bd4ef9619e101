"""The budget ledger of one (track, search method, seed): what was declared, what was charged.

One ledger and one admission rule serve real searches (the runner, charging the engine's cost model in
GPU-hours of a hardware profile) and offline ones (replay and synthetic evaluators, charging full-fidelity
trainings of a cap-sized model), so a searcher spends a budget the same way on both. Charges are
deterministic. Teacher work is charged once per epoch view
within a ledger, to the first evaluation that needed it, whichever cache served it in reality: every
method pays for its own teacher views, so methods are charged alike and the charge never depends on
the order in which methods or workers ran. A batch of evaluations is admitted only as far as its predicted
(full-length) charges fit the budget together, so a search never overruns it, however its batch is run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class PlannedEvaluation:
    """What an evaluation would cost if it ran to the end (a student over the parameter cap: zero MACs)."""

    student_macs: int
    epochs: float
    train_samples: int
    eval_samples: int
    views: tuple[str, ...] = ()


FREE = PlannedEvaluation(0, 0, 0, 0)


def within_cap(params: int, param_cap: int, plan: PlannedEvaluation) -> PlannedEvaluation:
    """The one rule for a student over the parameter cap, real or offline: it is rejected before training, so
    it is planned (and then charged) as free."""
    return FREE if params > param_cap else plan


def over_cap_reason(params: int, param_cap: int) -> str:
    """The rejection reason of a student over the cap (the engine's and the offline evaluators')."""
    return f"{params} parameters exceed the cap of {param_cap}"


# A training step costs about three forward passes (forward, input gradients, weight gradients).
TRAIN_FORWARD_MULTIPLE = 3.0


class CostModel(Protocol):
    """What a ledger charges with: `FlopCost` (real runs and real-training tables), or an offline problem's."""

    def charge(self, student_macs: int, epochs_done: float, train_samples: int, eval_samples: int,
               new_teacher_views: int) -> float: ...


@dataclass(frozen=True)
class FlopCost:
    """Charges evaluations of one track in GPU-hours of a hardware profile's sustained `flops_per_second`.

    A charge depends only on the candidate's size, the epochs it trained and which teacher views were new to
    the ledger, never on measured time, so every decision replays exactly (`engine.cost` names the profiles).
    """

    flops_per_second: float
    teacher_macs: int

    def charge(self, student_macs: int, epochs_done: float, train_samples: int, eval_samples: int,
               new_teacher_views: int) -> float:
        """GPU-hours of training `epochs_done` epochs over `train_samples`, scoring `eval_samples` once, and
        computing `new_teacher_views` epochs of teacher outputs (views the teacher cache could not serve)."""
        student = 2 * student_macs * (TRAIN_FORWARD_MULTIPLE * epochs_done * train_samples + eval_samples)
        teacher = 2 * self.teacher_macs * new_teacher_views * train_samples
        return (student + teacher) / self.flops_per_second / 3600.0


@dataclass
class BudgetLedger:
    """Declared budget and charges so far, in the cost model's unit (GPU-hours of the suite's hardware
    profile in a run; full-fidelity cap-sized trainings offline)."""

    declared_gpu_hours: float
    cost: CostModel
    spent_gpu_hours: float = 0.0
    evaluations: int = 0
    charged_views: set[str] = field(default_factory=set)

    def affordable(self, plan: PlannedEvaluation) -> float:
        """How many evaluations like `plan` the declared budget pays for, its teacher views charged once (later
        ones reuse them, as the ledger charges them); what a searcher sizes its generations by."""
        first = self.cost.charge(plan.student_macs, plan.epochs, plan.train_samples, plan.eval_samples,
                                 len(plan.views))
        later = self.cost.charge(plan.student_macs, plan.epochs, plan.train_samples, plan.eval_samples, 0)
        if first > self.declared_gpu_hours:
            return 0.0
        if later <= 0:  # a free plan (a student over the cap)
            return float("inf")
        return 1.0 + (self.declared_gpu_hours - first) / later

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
