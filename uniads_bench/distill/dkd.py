"""Decoupled knowledge distillation (DKD).

Source: Zhao, Cui, Song, Qiu, Liang, "Decoupled Knowledge Distillation", CVPR 2022; defaults and per-pair betas
from megvii-research/mdistiller a08d46f `mdistiller/distillers/DKD.py`, `engine/cfg.py` and
`configs/cifar100/dkd/*.yaml`.

The KD loss splits into target-class KD (TCKD: the binary distribution "ground-truth class vs the rest") and
non-target-class KD (NCKD: the distribution over the non-target classes), weighted alpha and beta, both times T^2.
mdistiller removes the target class from NCKD by subtracting 1000 from its logit; we mask it out exactly, which
agrees with it wherever 1000 is enough and stays correct for logits beyond that.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from uniads_bench.distill.base import Distiller, Progress
from uniads_bench.distill.registry import register_distiller
from uniads_bench.models.taps import TapDims, Taps

DEFAULT_BETA = 8.0

PER_PAIR_BETA: dict[tuple[str, str], float] = {
    # CIFAR-100 (mdistiller configs/cifar100/dkd); every other CIFAR pair uses DEFAULT_BETA.
    ("resnet56", "resnet20"): 2.0,
    ("resnet110", "resnet32"): 2.0,
    ("vgg13", "vgg8"): 6.0,
    ("vgg13", "mobilenetv2"): 6.0,
    ("wrn_40_2", "wrn_16_2"): 6.0,
    ("wrn_40_2", "wrn_40_1"): 6.0,
    # ImageNet (mdistiller configs/imagenet); these pairs also use T=1 and a 1-epoch warm-up.
    ("resnet34", "resnet18"): 0.5,
    ("resnet50", "mobilenet_v1"): 2.0,
}
"""DKD's beta per (teacher, student) model name (names of `uniads_bench.models.zoo`), as published."""


def dkd_beta(teacher: str, student: str) -> float:
    """DKD's published beta for a (teacher, student) pair of model names, `DEFAULT_BETA` for any other pair."""
    return PER_PAIR_BETA.get((teacher, student), DEFAULT_BETA)


def dkd_terms(
    student_logits: Tensor, teacher_logits: Tensor, target: Tensor, temperature: float
) -> tuple[Tensor, Tensor]:
    """Unweighted (TCKD, NCKD), each a batch-mean KL(teacher || student) times T^2, computed in float32."""
    is_target = F.one_hot(target, student_logits.shape[1]).bool()
    binary_s, rest_s = _split(F.log_softmax(student_logits.float() / temperature, dim=1), is_target)
    binary_t, rest_t = _split(F.log_softmax(teacher_logits.float() / temperature, dim=1), is_target)
    tckd = F.kl_div(binary_s, binary_t, reduction="batchmean", log_target=True)
    # The target column of the renormalised log-probabilities is meaningless but finite; it is zeroed here
    # instead of dropped, because dropping it by boolean indexing would cost a host sync per step on CUDA.
    nckd = (rest_t.exp() * (rest_t - rest_s)).masked_fill(is_target, 0.0).sum(dim=1).mean()
    return tckd * temperature**2, nckd * temperature**2


def _split(log_p: Tensor, is_target: Tensor) -> tuple[Tensor, Tensor]:
    """Log-probabilities of [target, all other classes] (N, 2), and renormalised over the non-target classes (N, C).

    Both stay in the log domain, so they are exact where probabilities underflow in float32.
    """
    log_gt = (log_p * is_target).sum(dim=1)
    log_rest = log_p.masked_fill(is_target, float("-inf")).logsumexp(dim=1, keepdim=True)
    return torch.stack([log_gt, log_rest.squeeze(1)], dim=1), log_p - log_rest


def dkd_ramp(progress: Progress, warmup_epochs: float, schedule_epochs: float) -> float:
    """The weight of DKD's distillation terms at `progress`: mdistiller's warm-up, on the recipe's clock.

    mdistiller multiplies the DKD loss by ``min(epoch / warmup, 1)`` with the 1-indexed epoch, constant within
    an epoch (`distillers/DKD.py`: 1/20 in the first epoch of 240 on CIFAR-100; full weight from the first
    step on ImageNet, warm-up 1). A run shorter than the schedule the warm-up was published for
    (`schedule_epochs`: a shortened recipe, a search rung) maps its progress onto that schedule, so the warm-up
    stays the same fraction of training (20/240 of it on CIFAR) instead of outlasting a 20-epoch run; a run at
    least as long as the schedule ramps exactly as mdistiller does.
    """
    if warmup_epochs <= 0:
        return 1.0
    recipe_epochs = progress.epoch * max(1.0, schedule_epochs / progress.total_epochs)
    # The small slack keeps an epoch boundary reached by summing batch fractions on the new epoch's side.
    return min((math.floor(recipe_epochs + 1e-9) + 1) / warmup_epochs, 1.0)


@register_distiller("dkd")
class DKD(Distiller):
    """`ce_weight * CE + ramp * (alpha * TCKD + beta * NCKD)`; terms "ce", "tckd", "nckd".

    `ramp` is mdistiller's per-epoch linear warm-up over `warmup_epochs` of a `schedule_epochs` recipe, scaled
    with the run where the run is shorter (`dkd_ramp`).

    Args:
        student: the student's tap shapes.
        teacher: the teacher's tap shapes.
        alpha: TCKD weight (1 on CIFAR-100 and ImageNet).
        beta: NCKD weight (8 by default; `dkd_beta` gives the published per-pair value).
        temperature: T (4 on CIFAR-100, 1 on ImageNet).
        warmup_epochs: epochs of the warm-up in the published recipe (20 on CIFAR-100, 1 on ImageNet).
        schedule_epochs: length of that recipe (240 on CIFAR-100, 100 on ImageNet).
        ce_weight: cross-entropy weight (1).
    """

    needs = frozenset({"logits"})

    def __init__(
        self,
        student: TapDims,
        teacher: TapDims,
        *,
        alpha: float = 1.0,
        beta: float = DEFAULT_BETA,
        temperature: float = 4.0,
        warmup_epochs: float = 20.0,
        schedule_epochs: float = 240.0,
        ce_weight: float = 1.0,
    ) -> None:
        super().__init__(student, teacher)
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.temperature = float(temperature)
        self.warmup_epochs = float(warmup_epochs)
        self.schedule_epochs = float(schedule_epochs)
        self.ce_weight = float(ce_weight)

    def forward(self, student: Taps, teacher: Taps | None, target: Tensor, progress: Progress) -> dict[str, Tensor]:
        assert teacher is not None
        ramp = dkd_ramp(progress, self.warmup_epochs, self.schedule_epochs)
        tckd, nckd = dkd_terms(student.logits, teacher.logits, target, self.temperature)
        return {
            "ce": self.ce_weight * F.cross_entropy(student.logits.float(), target),
            "tckd": ramp * self.alpha * tckd,
            "nckd": ramp * self.beta * nckd,
        }
