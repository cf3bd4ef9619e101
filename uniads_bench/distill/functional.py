"""`logit_loss`: any logit-based distiller as a plain function of (student logits, teacher logits, target)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from uniads_bench.distill.base import Distiller, Progress
from uniads_bench.distill.registry import build_distiller, get_distiller
from uniads_bench.errors import UserError
from uniads_bench.models.taps import TapDims, Taps

LogitLoss = Callable[..., Tensor]

# Far past any warm-up: a loss used outside training is the fully distilling loss.
_LATE = 10**6
AFTER_WARMUP = Progress(epoch=float(_LATE), total_epochs=_LATE)
"""The training progress `logit_loss` assumes unless given one: past every warm-up."""


def logit_loss(name: str, **hparams: Any) -> LogitLoss:
    """Return `f(student_logits, teacher_logits, target, progress=AFTER_WARMUP) -> scalar Tensor`.

    The scalar is the sum of the distiller's named terms, cross-entropy included, so the losses of the suite
    can be checked and reused outside it. The distiller is built on the first call from the logits' class
    count (one instance per class count); logit-based distillers have no parameters to train.

    Args:
        name: a registered name ("ce", "kd", "dkd", "dist", "uniads", a plug-in's) or ``FILE.py:CLASS``.
        **hparams: the distiller's hyperparameters, e.g. the genes of a UniADS candidate.

    Raises:
        UserError: unknown distiller, or one that reads features or stage maps (a UniADS candidate must have
            knowledge="logits"); bad hyperparameters surface on the first call.

    Example:
        >>> f = logit_loss("uniads", knowledge="logits", transform="tanh", distance="cosine", weight=16, tau=8)
        >>> loss = f(student_logits, teacher_logits, target)
    """
    cls = get_distiller(name)
    needs = cls.needs_for(hparams)
    if not needs <= {"logits"}:
        raise UserError(
            f"distiller {name!r} with {hparams or 'its defaults'} reads {', '.join(sorted(needs))}; "
            "logit_loss takes only distillers that read logits"
        )
    built: dict[int, Distiller] = {}

    def loss(
        student_logits: Tensor, teacher_logits: Tensor, target: Tensor, progress: Progress = AFTER_WARMUP
    ) -> Tensor:
        num_classes = student_logits.shape[1]
        if num_classes not in built:
            dims = TapDims(num_classes=num_classes, feature_dim=0)
            built[num_classes] = build_distiller(name, dims, dims, hparams)
        distiller = built[num_classes]
        # The features are never read (checked above); an empty (N, 0) tensor fills the slot.
        no_features = student_logits.new_zeros((student_logits.shape[0], 0))
        terms = distiller(
            Taps(logits=student_logits, features=no_features),
            Taps(logits=teacher_logits, features=no_features),
            target,
            progress,
        )
        return torch.stack([term.float() for term in terms.values()]).sum()

    return loss
