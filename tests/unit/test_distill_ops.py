"""Transforms, distances and `logit_loss`: shapes, dtypes, the distribution rule, and known identities."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from uniads_bench.distill import logit_loss
from uniads_bench.distill.distances import DISTANCES, DISTRIBUTION_DISTANCES
from uniads_bench.distill.dkd import DEFAULT_BETA, PER_PAIR_BETA, dkd_beta
from uniads_bench.distill.kd import kd_divergence
from uniads_bench.distill.transforms import TRANSFORMS
from uniads_bench.errors import UserError
from uniads_bench.models.zoo import get_entry


def sample(*shape: int, seed: int = 0, scale: float = 3.0) -> torch.Tensor:
    return scale * torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("shape", [(5, 7), (3, 4, 2, 2)])
@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_transforms_keep_shape_and_are_finite(name: str, shape: tuple[int, ...]) -> None:
    x = sample(*shape)
    y = TRANSFORMS[name](x)
    assert y.shape == x.shape and torch.isfinite(y).all()


def test_batchnorm_is_a_fresh_affine_free_batchnorm() -> None:
    for x in (sample(6, 5), sample(4, 3, 2, 2)):
        expected = F.batch_norm(x, None, None, training=True)
        torch.testing.assert_close(TRANSFORMS["batchnorm"](x), expected)
    assert torch.equal(TRANSFORMS["batchnorm"](sample(1, 5)), torch.zeros(1, 5))


def test_per_sample_transforms_treat_a_feature_map_as_one_vector() -> None:
    x = sample(3, 4, 2, 2)
    for name in ("softmax", "log_softmax", "layernorm", "l2norm", "minmax"):
        flat = TRANSFORMS[name](x.flatten(1))
        torch.testing.assert_close(TRANSFORMS[name](x), flat.view_as(x))


@pytest.mark.parametrize("name", list(DISTANCES))
def test_distances_are_float32_scalars_and_zero_on_equal_inputs(name: str) -> None:
    x = sample(4, 6).to(torch.bfloat16)
    d_equal = DISTANCES[name](x, x.clone())
    d_other = DISTANCES[name](x, sample(4, 6, seed=1).to(torch.bfloat16))
    assert d_equal.dtype == torch.float32 and d_equal.dim() == 0
    assert float(d_equal) == pytest.approx(0.0, abs=1e-5)
    assert float(d_other) > 1e-3


def test_distribution_distances_read_inputs_as_logits() -> None:
    s, t = sample(4, 6), sample(4, 6, seed=1)
    for name in DISTRIBUTION_DISTANCES:
        distance = DISTANCES[name]
        # log-softmax is idempotent, so identity and log_softmax inputs define the same distribution.
        torch.testing.assert_close(distance(s, t), distance(F.log_softmax(s, 1), F.log_softmax(t, 1)))
    assert float(DISTANCES["js"](100 * s, -100 * s)) <= math.log(2) + 1e-6


def test_uniads_softmax_transform_compares_the_probabilities_themselves() -> None:
    s, t, y = sample(4, 6), sample(4, 6, seed=1), torch.tensor([0, 1, 2, 3])
    via_softmax = logit_loss("uniads", transform="softmax", distance="kl", alpha=0.0)(s, t, y)
    via_identity = logit_loss("uniads", transform="identity", distance="kl", alpha=0.0)(s, t, y)
    torch.testing.assert_close(via_softmax, via_identity)


def test_uniads_space_contains_hinton_kd() -> None:
    s, t, y = sample(8, 10), sample(8, 10, seed=1), torch.arange(8)
    genes = dict(knowledge="logits", transform="identity", distance="kl", weight=0.9, tau=4.0, alpha=0.1)
    torch.testing.assert_close(logit_loss("uniads", **genes)(s, t, y), logit_loss("kd")(s, t, y))


def test_logit_loss_of_every_logit_distiller() -> None:
    s, t, y = sample(8, 10).requires_grad_(), sample(8, 10, seed=1), torch.arange(8)
    for name in ("ce", "kd", "dkd", "dist", "uniads"):
        loss = logit_loss(name)(s, t, y)
        assert loss.dim() == 0 and torch.isfinite(loss)
    expected = 0.1 * F.cross_entropy(s, y) + 0.9 * kd_divergence(s, t, 4.0)
    torch.testing.assert_close(logit_loss("kd")(s, t, y), expected)
    # A different class count builds a second distiller on the fly.
    assert torch.isfinite(logit_loss("kd")(s[:, :5], t[:, :5], y % 5))


@pytest.mark.parametrize(("name", "hparams"), [("fitnet", {}), ("at", {}), ("uniads", {"knowledge": "features"})])
def test_logit_loss_refuses_distillers_that_read_more_than_logits(name: str, hparams: dict[str, str]) -> None:
    with pytest.raises(UserError, match="logit_loss takes only distillers that read logits"):
        logit_loss(name, **hparams)


def test_dkd_per_pair_betas_name_zoo_models() -> None:
    for pair in PER_PAIR_BETA:
        for model in pair:
            get_entry(model)
    assert dkd_beta("resnet56", "resnet20") == 2.0
    assert dkd_beta("resnet32x4", "resnet8x4") == DEFAULT_BETA == 8.0
