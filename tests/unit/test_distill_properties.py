"""Every UniADS candidate loss is either finite or flagged for rejection with a reason; it never raises.

Checked exhaustively over transform x distance x knowledge at the extremes of the space (tau 1 and 16, W 32,
logits of 1e4, bf16 taps, a batch of one), and with hypothesis over random genes, shapes and scales.
"""

from __future__ import annotations

import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from uniads_bench.distill import Progress, build_distiller, check_loss_terms, logit_loss
from uniads_bench.distill.uniads import ALPHAS, DISTANCES, KNOWLEDGE, TAUS, TRANSFORMS, WEIGHTS
from uniads_bench.models.taps import TapDims, Taps

PROGRESS = Progress(epoch=0.0, total_epochs=1)


def run_candidate(
    genes: dict[str, object],
    batch: int,
    classes: int,
    widths: tuple[int, int],
    scale: float,
    dtype: torch.dtype,
    seed: int,
) -> None:
    """Build the candidate, run forward and backward, and assert the property on its terms and gradients."""
    generator = torch.Generator().manual_seed(seed)
    student_dims, teacher_dims = TapDims(classes, widths[0]), TapDims(classes, widths[1])
    distiller = build_distiller("uniads", student_dims, teacher_dims, genes)

    def taps(dims: TapDims) -> Taps:
        logits = scale * torch.randn(batch, dims.num_classes, generator=generator)
        features = scale * torch.randn(batch, dims.feature_dim, generator=generator).relu()
        return Taps(logits.to(dtype).requires_grad_(), features.to(dtype).requires_grad_())

    student, teacher = taps(student_dims), taps(teacher_dims)
    target = torch.randint(0, classes, (batch,), generator=generator)
    terms = distiller(student, teacher, target, PROGRESS)
    reason = check_loss_terms(terms)
    if reason is not None:
        assert isinstance(reason, str) and reason
        return
    assert all(torch.isfinite(term) for term in terms.values())
    torch.stack(list(terms.values())).sum().backward()
    grads = [student.logits.grad, student.features.grad, *(p.grad for p in distiller.parameters())]
    assert all(torch.isfinite(g).all() for g in grads if g is not None)


# (tau, scale of the taps, dtype, batch): saturating logits in bf16, a hot temperature, a batch of one.
EXTREMES = [(1.0, 1e4, torch.bfloat16, 4), (16.0, 1e4, torch.float32, 3), (16.0, 1.0, torch.bfloat16, 1)]


@pytest.mark.parametrize(("knowledge", "transform"), list(itertools.product(KNOWLEDGE, TRANSFORMS)))
def test_every_pair_at_the_extremes(knowledge: str, transform: str) -> None:
    for seed, (distance, (tau, scale, dtype, batch)) in enumerate(itertools.product(DISTANCES, EXTREMES)):
        genes = dict(knowledge=knowledge, transform=transform, distance=distance, weight=32.0, tau=tau, alpha=1.0)
        run_candidate(genes, batch=batch, classes=5, widths=(3, 7), scale=scale, dtype=dtype, seed=seed)


@settings(max_examples=40, deadline=None)
@given(
    knowledge=st.sampled_from(KNOWLEDGE),
    transform=st.sampled_from(TRANSFORMS),
    distance=st.sampled_from(DISTANCES),
    weight=st.sampled_from(WEIGHTS) | st.floats(0.0, 32.0),
    tau=st.sampled_from(TAUS) | st.floats(0.5, 16.0),
    alpha=st.sampled_from(ALPHAS),
    batch=st.integers(1, 6),
    classes=st.integers(2, 12),
    widths=st.tuples(st.integers(1, 9), st.integers(1, 9)),
    scale=st.sampled_from([0.0, 1e-3, 1.0, 30.0, 1e4]),
    dtype=st.sampled_from([torch.float32, torch.bfloat16]),
    seed=st.integers(0, 2**16),
)
def test_random_candidates_are_finite_or_rejected(
    knowledge: str,
    transform: str,
    distance: str,
    weight: float,
    tau: float,
    alpha: float,
    batch: int,
    classes: int,
    widths: tuple[int, int],
    scale: float,
    dtype: torch.dtype,
    seed: int,
) -> None:
    genes = dict(knowledge=knowledge, transform=transform, distance=distance, weight=weight, tau=tau, alpha=alpha)
    run_candidate(genes, batch=batch, classes=classes, widths=widths, scale=scale, dtype=dtype, seed=seed)


def test_check_loss_terms_reasons() -> None:
    ce = torch.tensor(2.0)
    assert check_loss_terms({"ce": ce, "kd": torch.tensor(3.0)}) is None
    assert check_loss_terms({}) == "the distiller returned no loss terms"
    assert check_loss_terms({"ce": ce, "kd": torch.tensor(float("nan"))}) == "non-finite loss term 'kd' (nan)"
    assert "'kd' = 1e+07 exceeds" in str(check_loss_terms({"ce": ce, "kd": torch.tensor(1e7)}))
    assert "not a scalar" in str(check_loss_terms({"kd": torch.ones(3)}))
    assert check_loss_terms({"ce": ce, "kd": torch.tensor(30.0)}, max_ratio_to_ce=10.0) is not None
    assert check_loss_terms({"ce": ce, "kd": torch.tensor(10.0)}, max_ratio_to_ce=10.0) is None


@pytest.mark.parametrize("name", ["ce", "kd", "dkd", "dist"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_named_logit_distillers_survive_saturated_logits(name: str, dtype: torch.dtype) -> None:
    generator = torch.Generator().manual_seed(0)
    student = (1e4 * torch.randn(4, 10, generator=generator)).to(dtype).requires_grad_()
    teacher = (1e4 * torch.randn(4, 10, generator=generator)).to(dtype)
    loss = logit_loss(name)(student, teacher, torch.arange(4))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(student.grad).all()
