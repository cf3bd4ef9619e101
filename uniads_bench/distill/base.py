"""The Distiller contract that every distiller, in-tree or plug-in, implements.

A distiller turns the student's and the teacher's taps into named loss terms. It never holds the teacher:
the engine runs (or serves from its cache) the frozen teacher in eval mode under `torch.inference_mode`,
so no gradient can reach it. Projectors and adapters a distiller needs are ordinary submodules of the
distiller; the engine trains them together with the student.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from torch import Tensor, nn

from uniads_bench.models.taps import TapDims, Taps

KNOWLEDGE_KINDS = frozenset({"logits", "features", "stages"})


@dataclass(frozen=True)
class Progress:
    """Where training is: `epoch` counts fractional epochs done out of `total_epochs`."""

    epoch: float
    total_epochs: int


class Distiller(nn.Module):
    """Base class of all distillers.

    Subclasses set `needs` (which teacher taps they read: a subset of logits, features, stages; empty for
    plain cross-entropy) and implement `forward`. Each term of the returned dict is already weighted; the
    training loss is their sum. The cross-entropy term, when present, is named ``"ce"`` so that the loss
    guards can compare it with the distillation terms.

    Example:
        >>> class MyKD(Distiller):
        ...     needs = frozenset({"logits"})
        ...     def forward(self, student, teacher, target, progress):
        ...         return {"ce": F.cross_entropy(student.logits, target),
        ...                 "kd": F.mse_loss(student.logits, teacher.logits)}
    """

    name: ClassVar[str] = ""
    needs: ClassVar[frozenset[str]] = frozenset({"logits"})
    # Hyperparameters a search may vary, with their options (empty: the distiller is not searchable).
    search_genes: ClassVar[dict[str, tuple[Any, ...]]] = {}
    # Whether forward returns a "ce" term (the runner checks it on a first batch; False: trains without labels).
    has_ce: ClassVar[bool] = True

    def __init__(self, student: TapDims, teacher: TapDims, **hparams: Any) -> None:
        super().__init__()
        if hparams:
            unknown = ", ".join(sorted(hparams))
            raise TypeError(f"{type(self).__name__} takes no hyperparameters, got: {unknown}")
        self.student_dims = student
        self.teacher_dims = teacher

    @classmethod
    def inactive_genes(cls, hparams: Mapping[str, Any]) -> frozenset[str]:
        """Search genes that do not change the loss built from `hparams` (none, unless a distiller says so).

        The search space leaves them out of a candidate, so settings differing only there are one candidate.
        """
        return frozenset()

    @classmethod
    def express(cls, distiller: str, hparams: Mapping[str, Any]) -> dict[str, Any] | None:
        """Hyperparameters of this distiller that build `distiller`'s loss with `hparams`, or None.

        How a hand-designed method becomes a point of a searched space (UniADS starts from them): every
        distiller expresses itself; a general one (``uniads``) may express others exactly (KD), or the part of
        one that its space holds, saying so in its docstring (DIST's inter-class term).
        """
        return dict(hparams) if distiller == cls.name else None

    @classmethod
    def needs_for(cls, hparams: Mapping[str, Any]) -> frozenset[str]:
        """Teacher taps that an instance built with `hparams` reads.

        `needs` is the class-wide upper bound; a distiller whose inputs depend on its hyperparameters (the
        UniADS `knowledge` gene) overrides this so that callers can skip taps it will not read.
        """
        return cls.needs

    def __call__(  # type: ignore[override]
        self, student: Taps, teacher: Taps | None, target: Tensor, progress: Progress
    ) -> dict[str, Tensor]:
        # Detaching here, not in each forward(), keeps gradients off the teacher for every distiller,
        # plug-ins included, even when a caller hands in teacher taps that still track gradients.
        return super().__call__(student, None if teacher is None else _detached(teacher), target, progress)

    def forward(  # type: ignore[override]
        self, student: Taps, teacher: Taps | None, target: Tensor, progress: Progress
    ) -> dict[str, Tensor]:
        """Return the named, weighted loss terms for one batch."""
        raise NotImplementedError(f"{type(self).__name__} must implement forward()")


def _detached(taps: Taps) -> Taps:
    return replace(
        taps,
        logits=taps.logits.detach(),
        features=taps.features.detach(),
        stages=tuple(stage.detach() for stage in taps.stages),
    )
