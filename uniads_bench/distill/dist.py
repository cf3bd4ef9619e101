"""DIST: knowledge distillation from a stronger teacher by matching relations, not exact probabilities.

Source: Huang, You, Wang, Qian, Xu, "Knowledge Distillation from A Stronger Teacher", NeurIPS 2022;
semantics of hunto/image_classification_sota 6f7a70a `lib/models/losses/dist_kd.py` and the CIFAR strategy
`configs/strategies/distill/dist_cifar.yaml` (`kd: dist_t4`, CE weight 1, KD weight 2).

With Y = softmax(Z / tau) for both networks, the inter-class term is 1 - mean Pearson correlation between the
student's and teacher's prediction of each sample (rows of Y), the intra-class term the same over each class's
predictions across the batch (columns of Y); both are multiplied by tau^2.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from uniads_bench.distill.base import Distiller, Progress
from uniads_bench.distill.distances import pearson_correlation
from uniads_bench.distill.registry import register_distiller
from uniads_bench.models.taps import TapDims, Taps


def dist_relations(student_logits: Tensor, teacher_logits: Tensor, tau: float) -> tuple[Tensor, Tensor]:
    """Unweighted (inter-class, intra-class) relation losses, each times tau^2, computed in float32."""
    y_s = F.softmax(student_logits.float() / tau, dim=1)
    y_t = F.softmax(teacher_logits.float() / tau, dim=1)
    inter = 1.0 - pearson_correlation(y_s, y_t).mean()
    intra = 1.0 - pearson_correlation(y_s.T, y_t.T).mean()
    return inter * tau**2, intra * tau**2


@register_distiller("dist")
class DIST(Distiller):
    """`ce_weight * CE + kd_weight * (beta * inter + gamma * intra)`; terms "ce", "inter", "intra".

    Args:
        student: the student's tap shapes.
        teacher: the teacher's tap shapes.
        tau: temperature (4 on CIFAR-100, `dist_t4`; 1 on ImageNet).
        beta: inter-class (per-sample) relation weight (1).
        gamma: intra-class (per-class, across the batch) relation weight (1).
        ce_weight: cross-entropy weight (1).
        kd_weight: weight of the whole DIST loss (2).
    """

    needs = frozenset({"logits"})

    def __init__(
        self,
        student: TapDims,
        teacher: TapDims,
        *,
        tau: float = 4.0,
        beta: float = 1.0,
        gamma: float = 1.0,
        ce_weight: float = 1.0,
        kd_weight: float = 2.0,
    ) -> None:
        super().__init__(student, teacher)
        self.tau = float(tau)
        self.beta = float(beta)
        self.gamma = float(gamma)
        self.ce_weight = float(ce_weight)
        self.kd_weight = float(kd_weight)

    def forward(self, student: Taps, teacher: Taps | None, target: Tensor, progress: Progress) -> dict[str, Tensor]:
        assert teacher is not None
        inter, intra = dist_relations(student.logits, teacher.logits, self.tau)
        return {
            "ce": self.ce_weight * F.cross_entropy(student.logits.float(), target),
            "inter": self.kd_weight * self.beta * inter,
            "intra": self.kd_weight * self.gamma * intra,
        }
