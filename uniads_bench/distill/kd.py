"""Hinton knowledge distillation on logits.

Source: Hinton, Vinyals, Dean, "Distilling the Knowledge in a Neural Network" (2015); defaults T=4, CE 0.1,
KD 0.9 as in RepDistiller `train_student.py` (-r 0.1 -a 0.9) and mdistiller `engine/cfg.py` (CFG.KD).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from uniads_bench.distill.base import Distiller, Progress
from uniads_bench.distill.registry import register_distiller
from uniads_bench.models.taps import TapDims, Taps


def kd_divergence(student_logits: Tensor, teacher_logits: Tensor, temperature: float) -> Tensor:
    """KL(teacher || student) of temperature-softened distributions, times T^2, averaged over the batch."""
    log_p_s = F.log_softmax(student_logits.float() / temperature, dim=1)
    log_p_t = F.log_softmax(teacher_logits.float() / temperature, dim=1)
    return F.kl_div(log_p_s, log_p_t, reduction="batchmean", log_target=True) * temperature**2


@register_distiller("kd")
class KD(Distiller):
    """`ce_weight * CE + kd_weight * T^2 * KL(softmax(t/T) || softmax(s/T))`."""

    needs = frozenset({"logits"})

    def __init__(
        self,
        student: TapDims,
        teacher: TapDims,
        *,
        temperature: float = 4.0,
        ce_weight: float = 0.1,
        kd_weight: float = 0.9,
    ) -> None:
        super().__init__(student, teacher)
        self.temperature = float(temperature)
        self.ce_weight = float(ce_weight)
        self.kd_weight = float(kd_weight)

    def forward(self, student: Taps, teacher: Taps | None, target: Tensor, progress: Progress) -> dict[str, Tensor]:
        assert teacher is not None
        return {
            "ce": self.ce_weight * F.cross_entropy(student.logits.float(), target),
            "kd": self.kd_weight * kd_divergence(student.logits, teacher.logits, self.temperature),
        }
