"""The UniADS search space maps gene settings one-to-one onto distinct losses.

Losses are compared on random logits at several scales and two class counts, as vectors of values over the
inputs: two settings give "the same loss" when their vectors are proportional (the weight gene covers any
constant factor). The raw formula ``tau^2 * D(T(a / tau), T(b / tau))`` is evaluated here from the transform
and distance tables directly, independent of how `UniADSLoss` decides what tau does.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from uniads_bench.distill import distances, transforms
from uniads_bench.distill.base import Progress
from uniads_bench.distill.uniads import LOSS_PAIRS, REDUNDANT_PAIRS, TAUS, UniADSLoss, is_tempered
from uniads_bench.models.taps import TapDims, Taps
from uniads_bench.results import EvalResult
from uniads_bench.search.base import Observation, SearchSetup, make_searcher
from uniads_bench.space.adapters import candidate_to_indices
from uniads_bench.space.space import Gene, Space

CLASS_COUNTS = (10, 100)
SCALES = (1.0, 3.0, 10.0, 30.0)  # of the logits; 0.3 too is distinct, but there normalising eps act like a tau
PROGRESS = Progress(epoch=1.0, total_epochs=1)


def random_logits(classes: int, seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    pairs = []
    for scale in SCALES:
        for _ in range(2):
            student = scale * torch.randn(16, classes, generator=g, dtype=torch.float64)
            teacher = scale * torch.randn(16, classes, generator=g, dtype=torch.float64) + torch.randn(1, generator=g)
            pairs.append((student, teacher))
    return pairs


INPUTS = {classes: random_logits(classes, seed) for seed, classes in enumerate(CLASS_COUNTS)}


def loss_vector(loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], classes: int) -> np.ndarray:
    values = np.array([float(loss(s, t)) for s, t in INPUTS[classes]])
    return values / np.linalg.norm(values)


def raw_formula(transform: str, distance: str, tau: float) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """tau^2 D(T(a / tau), T(b / tau)), probabilities passed to distribution distances as their logs."""
    if distance in distances.DISTRIBUTION_DISTANCES:
        transform = transforms.LOG_DOMAIN.get(transform, transform)
    t, d = transforms.TRANSFORMS[transform], distances.DISTANCES[distance]
    return lambda a, b: tau**2 * d(t(a / tau), t(b / tau))


def same_loss(u: np.ndarray, v: np.ndarray, rtol: float = 1e-3) -> bool:
    return bool(np.allclose(u, v, rtol=rtol, atol=1e-9))


def loss_space() -> Space:
    """The transform/distance and tau genes of the UniADS space, with its inactive-gene rule."""
    return Space((Gene("transform/distance", "distill", LOSS_PAIRS), Gene("tau", "distill", TAUS)), "uniads",
                 UniADSLoss.inactive_genes)


def space_losses(classes: int) -> dict[str, np.ndarray]:
    """Loss vector of every distinct candidate of `loss_space`, through `UniADSLoss`."""
    space = loss_space()
    candidates = {space.candidate({"transform/distance": p, "tau": t}) for p, t in itertools.product(LOSS_PAIRS, TAUS)}
    assert len(candidates) == space.size()
    dims = TapDims(num_classes=classes, feature_dim=1)
    vectors = {}
    for candidate in sorted(candidates, key=lambda c: c.describe()):
        loss = UniADSLoss(dims, dims, knowledge="logits", alpha=0.0, **candidate.hparams_dict)

        def kd(s: torch.Tensor, t: torch.Tensor, loss: UniADSLoss = loss) -> torch.Tensor:
            no_features = torch.zeros(len(s), 1)
            target = torch.zeros(len(s), dtype=torch.long)
            return loss(Taps(s, no_features), Taps(t, no_features), target, PROGRESS)["kd_logits"]

        vectors[candidate.describe()] = loss_vector(kd, classes)
    return vectors


@pytest.mark.parametrize("classes", CLASS_COUNTS)
def test_no_two_gene_settings_give_the_same_loss(classes: int) -> None:
    vectors = space_losses(classes)
    assert len(vectors) == sum(5 if is_tempered(*p.split("/")) else 1 for p in LOSS_PAIRS) == 24 * 5 + 27
    duplicates = [(a, b) for (a, u), (b, v) in itertools.combinations(vectors.items(), 2) if same_loss(u, v)]
    assert duplicates == []


@pytest.mark.parametrize("pair", LOSS_PAIRS)
def test_tau_is_a_gene_exactly_where_it_is_a_temperature(pair: str) -> None:
    transform, distance = pair.split("/")
    for classes in CLASS_COUNTS:
        by_tau = [loss_vector(raw_formula(transform, distance, tau), classes) for tau in TAUS]
        # 1%: the eps of batchnorm and layernorm (1e-5) move their loss by ~0.3% at tau 16 on unit-scale logits.
        tau_only_scales = all(same_loss(by_tau[0], v, rtol=1e-2) for v in by_tau[1:])
        assert tau_only_scales != is_tempered(transform, distance)


@functools.cache
def kept_losses() -> tuple[np.ndarray, ...]:
    return tuple(loss_vector(raw_formula(*p.split("/"), tau), 100) for p in LOSS_PAIRS for tau in TAUS)


@pytest.mark.parametrize("pair", sorted(REDUNDANT_PAIRS))
def test_every_pair_left_out_gives_the_loss_of_one_kept(pair: tuple[str, str]) -> None:
    for tau in TAUS[:-1]:  # sigmoid at tau is tanh at 2 tau, which the largest tau has no partner for
        left_out = loss_vector(raw_formula(*pair, tau), 100)
        assert any(same_loss(left_out, v) for v in kept_losses()), (pair, tau, REDUNDANT_PAIRS[pair])


def test_untempered_candidates_have_no_tau_and_one_id() -> None:
    space = loss_space()
    flat = {space.candidate({"transform/distance": "layernorm/l1", "tau": tau}) for tau in TAUS}
    assert len(flat) == 1 and next(iter(flat)).hparams_dict == {"transform": "layernorm", "distance": "l1"}
    hot = space.candidate({"transform/distance": "tanh/l2", "tau": 8})
    assert hot.hparams_dict == {"transform": "tanh", "distance": "l2", "tau": 8}
    assert space.values(hot) == {"transform/distance": "tanh/l2", "tau": 8}
    assert space.values(next(iter(flat))) == {"transform/distance": "layernorm/l1"}


def test_uniads_searches_a_space_with_inactive_genes() -> None:
    """Shrinking maps candidates back to option indices; an untempered candidate has no tau to penalise."""
    space = loss_space()
    flat = space.candidate({"transform/distance": "layernorm/l1", "tau": 4})
    assert candidate_to_indices(space, flat) == {"transform/distance": space.genes[0].options.index("layernorm/l1")}
    setup = SearchSetup(space, 10**6, 3, np.random.default_rng(0), {"pop_size": 8})
    searcher = make_searcher("uniads", setup)
    for _ in range(6):  # several generations, so shrinking penalises rejected untempered candidates
        asks = searcher.ask()
        searcher.tell([Observation(a, EvalResult(a.candidate.id, "rejected" if i % 2 else "ok", "", 50.0 + i,
                                                 1000, 10, a.fidelity.epochs, (), 0.1))
                       for i, a in enumerate(asks)])


def test_the_search_space_page_lists_every_pair_left_out_and_the_counts() -> None:
    page = (Path(__file__).parents[2] / "docs" / "search-space.md").read_text()
    unlisted = [f"{t}/{d}" for t, d in REDUNDANT_PAIRS if not re.search(rf"(?<!\w){t}/{d}(?!\w)", page)]
    assert not unlisted, f"docs/search-space.md does not list {unlisted}"
    tempered = sum(is_tempered(*pair.split("/")) for pair in LOSS_PAIRS)
    assert f"That leaves {len(LOSS_PAIRS)} pairs" in page
    assert f"**Tempered** ({tempered} pairs)" in page
    assert f"**Not tempered** ({len(LOSS_PAIRS) - tempered} pairs)" in page
    assert f"The {len(REDUNDANT_PAIRS)} pairs left out" in page
