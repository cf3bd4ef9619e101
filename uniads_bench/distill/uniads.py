"""The UniADS candidate loss, built from a candidate's distiller genes, and the check that rejects bad losses.

Source: Lu et al., "UniADS: Universal Architecture-Distiller Search for Distillation Gap", AAAI 2024
(DOI 10.1609/aaai.v38i13.29327). The paper's search-space table is not public: the gene options below are our
reconstruction (`docs/search-space.md`). They contain the choices the paper reports as frequent: transforms
batchnorm, tanh, norm; distances cosine, kl, l2; weights 16, 5, 1, 0.5; temperatures 16, 8.

Loss of a candidate, for each knowledge source A in the `knowledge` gene::

    alpha * CE(student, y) + sum_A tau^2 * W * D(T(A_S / tau), T(A_T / tau))   (tempered pairs)
    alpha * CE(student, y) + sum_A W * D(T(A_S), T(A_T))                       (every other pair)

The search space is one-to-one onto distinct losses: the transform and distance are one joint gene over
`LOSS_PAIRS`, the 80 combinations less those that give another pair's loss (`REDUNDANT_PAIRS`, each with the
reason), and tau exists only for the pairs where it is a temperature (`is_tempered`); on a scale-invariant
transform or distance it would only multiply W by tau^2, which the weight gene already does.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import torch.nn.functional as F
from torch import Tensor, nn

from uniads_bench.distill import distances, transforms
from uniads_bench.distill.base import Distiller, Progress
from uniads_bench.distill.registry import register_distiller
from uniads_bench.errors import UserError
from uniads_bench.models.taps import TapDims, Taps

# Option lists of the distiller genes, imported by the search-space module.
KNOWLEDGE: tuple[str, ...] = ("logits", "features", "logits+features")
TRANSFORMS: tuple[str, ...] = tuple(transforms.TRANSFORMS)
DISTANCES: tuple[str, ...] = tuple(distances.DISTANCES)
WEIGHTS: tuple[float, ...] = (0.1, 0.5, 1, 2, 5, 8, 16, 32)
TAUS: tuple[float, ...] = (1, 2, 4, 8, 16)
ALPHAS: tuple[float, ...] = (0.1, 0.5, 1)

_AFFINE_INVARIANT = "pearson is invariant to a per-sample shift and positive scale: = identity/pearson"
_SCALE_INVARIANT = "cosine is invariant to a per-sample positive scale: = identity/cosine"
_LOGITS = "distribution distances read their inputs as logits (log-softmax is idempotent): = identity/"
_BELOW_ONE = "every element-wise difference is below 1, where smooth-L1 is half the squared error: = 0.5 x {}/l2"
_SIGMOID = "sigmoid(x) = (1 + tanh(x / 2)) / 2 and {d} cancels the shift: = tanh/{d} at 2 tau, up to a factor"
REDUNDANT_PAIRS: dict[tuple[str, str], str] = {
    **{(t, d): _LOGITS + d for t in ("softmax", "log_softmax") for d in sorted(distances.DISTRIBUTION_DISTANCES)},
    **{(t, "pearson"): _AFFINE_INVARIANT for t in ("log_softmax", "layernorm", "l2norm", "minmax")},
    ("layernorm", "cosine"): "layernorm rows are centred, so cosine is pearson: = identity/pearson",
    ("layernorm", "l2"): "layernorm rows have mean 0 and norm^2 D, so l2 = 2 (1 - pearson): = 2 x identity/pearson",
    ("l2norm", "cosine"): _SCALE_INVARIANT,
    ("l2norm", "l2"): "unit rows: l2 = 2 (1 - cosine) / D, = (2 / D) x identity/cosine",
    ("l2norm", "smooth_l1"): "differences of unit rows reach 1 only where one coordinate dominates both rows with "
                             "opposite signs; below 1 smooth-L1 is half the squared error: = (1 / D) x identity/cosine",
    ("softmax", "smooth_l1"): "probabilities: " + _BELOW_ONE.format("softmax"),
    ("minmax", "smooth_l1"): "values in [0, 1]: " + _BELOW_ONE.format("minmax"),
    **{("sigmoid", d): _SIGMOID.format(d=d) for d in ("l2", "l1", "pearson")},
    ("sigmoid", "smooth_l1"): "sigmoid differences are below 1: = 0.5 x sigmoid/l2, itself tanh/l2 at 2 tau",
}
"""Transform/distance pairs left out of the search space, each with the pair whose loss it gives (up to a constant
factor, which the weight gene covers). `tests/unit/test_uniads_space.py` checks the space has no others."""

LOSS_PAIRS: tuple[str, ...] = tuple(
    f"{t}/{d}" for t in TRANSFORMS for d in DISTANCES if (t, d) not in REDUNDANT_PAIRS
)
"""Options of the joint ``transform/distance`` gene: one per distinct loss."""

_NONLINEAR_TRANSFORMS = frozenset({"softmax", "log_softmax", "tanh", "sigmoid"})
# Distances not invariant to a common scale of both inputs (tau^2 D(x / tau) still depends on tau).
_SCALE_SENSITIVE_DISTANCES = frozenset({*distances.DISTRIBUTION_DISTANCES, "smooth_l1"})


def is_tempered(transform: str, distance: str) -> bool:
    """Whether tau is a temperature of this pair: whether tau^2 D(T(a / tau), T(b / tau)) depends on tau other
    than by a constant factor.

    It does when the transform is non-linear in scale (softmax, log_softmax, tanh, sigmoid), or when it is the
    identity and the distance is not scale-homogeneous (kl, reverse_kl, js, smooth_l1). The normalising
    transforms (batchnorm, layernorm, l2norm, minmax) remove the scale, and l2, l1, cosine and pearson of
    identity taps are homogeneous in it, so tau could only rescale W.
    """
    return transform in _NONLINEAR_TRANSFORMS or (transform == "identity" and distance in _SCALE_SENSITIVE_DISTANCES)


MAX_TERM_MAGNITUDE = 1e6
"""Default bound on any single loss term; a larger term at the start of training means the candidate diverges."""


@register_distiller("uniads")
class UniADSLoss(Distiller):
    """A UniADS candidate's distiller: `alpha * CE + tau^2 * W * D(T(A_S / tau), T(A_T / tau))` (module docstring).

    Knowledge sources are the logits and the pooled penultimate features; when the student's and teacher's
    feature widths differ, a learned linear projector (student -> teacher width) is trained with the student.
    Both sources share the transform, distance, weight and temperature genes. Terms: ``"ce"`` and one
    ``"kd_<source>"`` per source.

    Args:
        student: the student's tap shapes.
        teacher: the teacher's tap shapes.
        knowledge: "logits", "features" or "logits+features".
        transform: one of `TRANSFORMS` (see `uniads_bench.distill.transforms`).
        distance: one of `DISTANCES` (see `uniads_bench.distill.distances`).
        weight: W, the distillation weight.
        tau: the temperature dividing both taps before the transform; ignored (tau = 1) where the pair is not
            tempered (`is_tempered`).
        alpha: the cross-entropy weight.

    Raises:
        UserError: an unknown gene value, a non-positive tau, a negative weight, or logits of different widths.
    """

    # The genes a search varies and their options; a suite's space may narrow them.
    search_genes: ClassVar[dict[str, tuple[Any, ...]]] = {
        "knowledge": KNOWLEDGE, "transform/distance": LOSS_PAIRS, "weight": WEIGHTS, "tau": TAUS, "alpha": ALPHAS,
    }

    needs = frozenset({"logits", "features"})

    def __init__(
        self,
        student: TapDims,
        teacher: TapDims,
        *,
        knowledge: str = "logits",
        transform: str = "identity",
        distance: str = "kl",
        weight: float = 1.0,
        tau: float = 4.0,
        alpha: float = 1.0,
    ) -> None:
        super().__init__(student, teacher)
        _check_choice("knowledge", knowledge, KNOWLEDGE)
        _check_choice("transform", transform, TRANSFORMS)
        _check_choice("distance", distance, DISTANCES)
        if not tau > 0 or not weight >= 0 or not alpha >= 0:
            raise UserError(f"uniads genes need tau > 0, weight >= 0, alpha >= 0; got {tau=}, {weight=}, {alpha=}")
        self.sources = tuple(knowledge.split("+"))
        if "logits" in self.sources and student.num_classes != teacher.num_classes:
            raise UserError(
                f"uniads logit distillation needs equal class counts, got student {student.num_classes} "
                f"and teacher {teacher.num_classes}"
            )
        self.tau = float(tau) if is_tempered(transform, distance) else 1.0
        if distance in distances.DISTRIBUTION_DISTANCES:
            transform = transforms.LOG_DOMAIN.get(transform, transform)
        self.transform = transforms.TRANSFORMS[transform]
        self.distance = distances.DISTANCES[distance]
        self.weight = float(weight)
        self.alpha = float(alpha)
        self.projector: nn.Module = (
            nn.Linear(student.feature_dim, teacher.feature_dim)
            if "features" in self.sources and student.feature_dim != teacher.feature_dim
            else nn.Identity()
        )

    @classmethod
    def inactive_genes(cls, hparams: Mapping[str, Any]) -> frozenset[str]:
        """tau, where the transform/distance pair is not tempered."""
        tempered = is_tempered(str(hparams.get("transform", "identity")), str(hparams.get("distance", "kl")))
        return frozenset() if tempered else frozenset({"tau"})

    @classmethod
    def express(cls, distiller: str, hparams: Mapping[str, Any]) -> dict[str, Any] | None:
        """Itself; Hinton KD exactly: ``ce_weight * CE + kd_weight * T^2 * KL`` is knowledge ``logits``,
        ``identity/kl`` at tau T, weight ``kd_weight`` and alpha ``ce_weight``; and DIST's inter-class half:
        ``softmax/pearson`` at DIST's tau, weight ``kd_weight * beta``, alpha ``ce_weight``, which is DIST
        exactly when ``gamma = 0``. The space has no across-the-batch relation for DIST's intra-class term, nor
        DKD's split into target and non-target classes (DKD is not expressed)."""
        if distiller == "kd":
            return {"knowledge": "logits", "transform": "identity", "distance": "kl",
                    "tau": float(hparams.get("temperature", 4.0)), "weight": float(hparams.get("kd_weight", 0.9)),
                    "alpha": float(hparams.get("ce_weight", 0.1))}
        if distiller == "dist":
            return {"knowledge": "logits", "transform": "softmax", "distance": "pearson",
                    "tau": float(hparams.get("tau", 4.0)),
                    "weight": float(hparams.get("kd_weight", 2.0)) * float(hparams.get("beta", 1.0)),
                    "alpha": float(hparams.get("ce_weight", 1.0))}
        return super().express(distiller, hparams)

    @classmethod
    def needs_for(cls, hparams: Mapping[str, Any]) -> frozenset[str]:
        """Only the sources named by the `knowledge` gene."""
        return frozenset(str(hparams.get("knowledge", "logits")).split("+")) & cls.needs

    def forward(self, student: Taps, teacher: Taps | None, target: Tensor, progress: Progress) -> dict[str, Tensor]:
        assert teacher is not None
        terms = {"ce": self.alpha * F.cross_entropy(student.logits.float(), target)}
        for source in self.sources:
            if source == "logits":
                a_s, a_t = student.logits, teacher.logits
            else:
                a_s, a_t = self.projector(student.features.float()), teacher.features
            terms[f"kd_{source}"] = self.tau**2 * self.weight * self._divergence(a_s, a_t)
        return terms

    def _divergence(self, a_s: Tensor, a_t: Tensor) -> Tensor:
        # float32 before dividing by tau: bf16 logits of 1e4 lose every digit that a softmax depends on.
        return self.distance(self.transform(a_s.float() / self.tau), self.transform(a_t.float() / self.tau))


def check_loss_terms(
    terms: Mapping[str, Tensor],
    *,
    max_magnitude: float = MAX_TERM_MAGNITUDE,
    max_ratio_to_ce: float | None = None,
) -> str | None:
    """Say why a distiller's loss terms should get the candidate rejected, or return None when they are sound.

    The engine's loss guards call this on the first steps of a candidate (UniADS's loss-rejection protocol), so
    a candidate whose genes make the loss blow up is recorded as rejected instead of crashing or wasting budget.

    Args:
        terms: the named loss terms a distiller returned.
        max_magnitude: a term larger than this in absolute value is absurd.
        max_ratio_to_ce: when given and a ``"ce"`` term exists, reject a distillation term that exceeds the CE
            term by more than this factor (the distillation signal drowns the labels).

    Returns:
        A one-line reason such as "non-finite loss term 'kd_logits'", or None.
    """
    if not terms:
        return "the distiller returned no loss terms"
    values: dict[str, float] = {}
    for name, term in terms.items():
        if term.numel() != 1:
            return f"loss term {name!r} is not a scalar (shape {tuple(term.shape)})"
        values[name] = float(term.detach().float())
    for name, value in values.items():
        if not math.isfinite(value):
            return f"non-finite loss term {name!r} ({value})"
        if abs(value) > max_magnitude:
            return f"loss term {name!r} = {value:.3g} exceeds {max_magnitude:.3g}"
    ce = values.get("ce")
    if max_ratio_to_ce is not None and ce is not None and ce > 0:
        for name, value in values.items():
            if name != "ce" and abs(value) > max_ratio_to_ce * ce:
                return f"loss term {name!r} = {value:.3g} is more than {max_ratio_to_ce:g} x the CE term {ce:.3g}"
    return None


def _check_choice(gene: str, value: str, options: tuple[str, ...]) -> None:
    if value not in options:
        raise UserError(f"uniads gene {gene}={value!r} is not one of {', '.join(options)}")
