"""Vanilla training: cross-entropy on the labels only, no teacher."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from uniads_bench.distill.base import Distiller, Progress
from uniads_bench.distill.registry import register_distiller
from uniads_bench.models.taps import Taps


@register_distiller("ce")
class CrossEntropy(Distiller):
    """Plain cross-entropy (the "vanilla" student of every KD table)."""

    needs = frozenset()

    def forward(self, student: Taps, teacher: Taps | None, target: Tensor, progress: Progress) -> dict[str, Tensor]:
        return {"ce": F.cross_entropy(student.logits.float(), target)}
