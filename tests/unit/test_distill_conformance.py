"""Conformance of every registered distiller to the Distiller contract: builds from small tap shapes, one
forward/backward on CPU, finite named losses, gradients on the student and the distiller's own parameters only."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from uniads_bench.distill import Progress, build_distiller, check_loss_terms, get_distiller, list_distillers
from uniads_bench.models.taps import TapDims, Taps

STUDENT = TapDims(num_classes=10, feature_dim=6, stage_channels=(4, 6, 8))
TEACHER = TapDims(num_classes=10, feature_dim=12, stage_channels=(8, 12, 16))
BATCH = 4

# Defaults for every registered distiller, plus settings that switch on parts the defaults leave off.
CONFIGS: list[tuple[str, dict[str, Any]]] = [(name, {}) for name in list_distillers()] + [
    ("uniads", {"knowledge": "features", "transform": "batchnorm", "distance": "cosine"}),
    ("uniads", {"knowledge": "logits+features", "transform": "softmax", "distance": "js"}),
]


def random_taps(dims: TapDims, generator: torch.Generator, sizes: tuple[int, ...] = (8, 4, 2)) -> Taps:
    def leaf(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=generator).requires_grad_()

    return Taps(
        logits=leaf(BATCH, dims.num_classes),
        features=leaf(BATCH, dims.feature_dim),
        stages=tuple(leaf(BATCH, c, s, s) for c, s in zip(dims.stage_channels, sizes, strict=True)),
    )


def _leaves(taps: Taps) -> list[torch.Tensor]:
    return [taps.logits, taps.features, *taps.stages]


@pytest.mark.parametrize(("name", "hparams"), CONFIGS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CONFIGS)])
def test_forward_backward(name: str, hparams: dict[str, Any]) -> None:
    generator = torch.Generator().manual_seed(0)
    distiller = build_distiller(name, STUDENT, TEACHER, hparams)
    # The teacher's stage 0 is at twice the student's resolution, to exercise spatial matching.
    student, teacher = random_taps(STUDENT, generator), random_taps(TEACHER, generator, sizes=(16, 4, 2))
    target = torch.randint(0, STUDENT.num_classes, (BATCH,), generator=generator)

    terms = distiller(student, teacher, target, Progress(epoch=30.0, total_epochs=240))

    assert terms and all(isinstance(key, str) for key in terms)
    assert all(term.dim() == 0 and torch.isfinite(term) for term in terms.values()), terms
    assert check_loss_terms(terms) is None
    torch.stack(list(terms.values())).sum().backward()

    assert all(t.grad is None for t in _leaves(teacher)), "gradient reached a teacher tap"
    assert student.logits.grad is not None
    needs = get_distiller(name).needs_for(hparams)
    if "features" in needs:
        assert student.features.grad is not None
    if "stages" in needs:
        assert any(s.grad is not None for s in student.stages)
    for leaf in _leaves(student):
        assert leaf.grad is None or torch.isfinite(leaf.grad).all()
    for param_name, param in distiller.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), param_name


def test_teacher_none_for_teacherless_distillers() -> None:
    generator = torch.Generator().manual_seed(1)
    for name in list_distillers():
        if not get_distiller(name).needs:
            distiller = build_distiller(name, STUDENT, STUDENT, {})
            student = random_taps(STUDENT, generator)
            terms = distiller(student, None, torch.zeros(BATCH, dtype=torch.long), Progress(0.0, 1))
            assert set(terms) == {"ce"}


@pytest.mark.parametrize(("method", "hparams", "exact_at"), [
    ("kd", {"temperature": 4.0, "ce_weight": 0.1, "kd_weight": 0.9}, {}),
    ("kd", {"temperature": 2.0, "ce_weight": 1.0, "kd_weight": 5.0}, {}),
    # DIST's inter-class half: DIST itself without its intra-class term.
    ("dist", {"tau": 4.0, "beta": 1.0, "ce_weight": 1.0, "kd_weight": 2.0}, {"gamma": 0.0}),
    ("dist", {"tau": 1.0, "beta": 2.0, "ce_weight": 0.5, "kd_weight": 1.0}, {"gamma": 0.0}),
])
def test_uniads_expresses_kd_and_dist_inter_class_half_exactly(method: str, hparams: dict, exact_at: dict) -> None:
    """A method as a point of UniADS's space gives the method's loss to the last bit of float32 rounding."""
    generator = torch.Generator().manual_seed(3)
    student, teacher = random_taps(STUDENT, generator), random_taps(STUDENT, generator)
    target = torch.randint(0, STUDENT.num_classes, (BATCH,), generator=generator)
    expressed = get_distiller("uniads").express(method, hparams)
    progress = Progress(1.0, 10)
    reference = build_distiller(method, STUDENT, STUDENT, {**hparams, **exact_at})
    uniads = build_distiller("uniads", STUDENT, STUDENT, expressed)
    assert float(sum(uniads(student, teacher, target, progress).values())) == pytest.approx(
        float(sum(reference(student, teacher, target, progress).values())), rel=1e-6)


def test_every_distiller_expresses_itself_and_nothing_it_cannot() -> None:
    for name in list_distillers():
        assert get_distiller(name).express(name, {"x": 1}) == {"x": 1}
    assert get_distiller("kd").express("dkd", {}) is None and get_distiller("uniads").express("dkd", {}) is None
