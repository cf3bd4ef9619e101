"""Synthetic search problems: cheap stand-ins for training with a known Pareto front and a fidelity knob.

Each problem is a discrete space shaped like a track's (architecture, distiller and optimisation genes) with
a closed-form top-fidelity accuracy and parameter count. Accuracy = an architecture term that saturates with
capacity, minus distiller/optimisation penalties whose minimum is zero; so the true Pareto front is the
architecture front at zero penalty, and `true_front` enumerates it exactly. Some distiller settings are
rejected (the "KD term dwarfs CE" rule of the loss guards) within their first epoch when the ask is guarded,
as the engine would; unguarded, they train to the end and score chance (1% top-1).

Lower fidelities are distorted versions of the top one (`distort`, shared with the replay evaluator): a
bias that grows with model size (short schedules favour small models), plus Gaussian noise, both
shrinking to zero at the top fidelity, deterministic per (run seed, candidate, epochs). Every fidelity,
the top one included, also carries a training's seed-to-seed spread (`spread`, points of top-1), so a search
can be fooled by a lucky run and the benchmark sees the selection error: the truth of what it hands on
(`SyntheticEvaluator.regret`) is not the score it saw. The spreads (0.5 smooth, 1.0 rugged) are in the range of
our own measured seed standard deviations of final trainings (0.37 to 1.25 points on the cifar10_cpu and digits
boards).

Problems: ``smooth`` (separable penalties, mild distortion), ``rugged`` (a transform x distance interaction
table, depth-balance epistasis, a larger rejection region, strong distortion) and ``tiny`` (4 candidates,
for exhaustion tests).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from itertools import product
from typing import Any

import numpy as np

from uniads_bench.rng import numpy_generator
from uniads_bench.space.space import Gene, Space

SYNTHETIC_CAP = 300_000
SYNTHETIC_MAX_EPOCHS = 27


def distort(top1: float, size: float, epochs: int, max_epochs: int, bias: float, noise: float,
            *seed_parts: object, spread: float = 0.0) -> float:
    """Top-1 (%) seen after `epochs` of a `max_epochs` schedule.

    ``top1 - gap * bias * (0.5 + size) + N(0, noise * sqrt(gap)) + N(0, spread)`` with
    ``gap = 1 - epochs / max_epochs`` and `size` the candidate's params / cap; both noise streams are derived
    from `seed_parts` and `epochs`. With ``spread = 0`` the top fidelity is the truth itself.
    """
    gap = max(0.0, 1.0 - epochs / max_epochs)
    if gap == 0.0 and spread == 0.0:
        return top1
    draw = float(numpy_generator("fidelity", *seed_parts, epochs).standard_normal()) if gap else 0.0
    seed_draw = float(numpy_generator("seed-spread", *seed_parts, epochs).standard_normal()) if spread else 0.0
    return float(np.clip(top1 - gap * bias * (0.5 + size) + noise * math.sqrt(gap) * draw + spread * seed_draw,
                         0.0, 100.0))


@dataclass(frozen=True)
class Truth:
    """Top-fidelity outcome of a synthetic candidate."""

    top1: float
    params: int
    rejected: bool


@dataclass(frozen=True)
class SyntheticProblem:
    """A named synthetic problem: its space, closed-form truth, fidelity distortion and cap."""

    name: str
    space: Space
    truth: Callable[[Mapping[str, Any]], Truth]
    arch_genes: tuple[str, ...]
    bias: float
    noise: float
    spread: float = 0.0
    param_cap: int = SYNTHETIC_CAP
    max_epochs: int = SYNTHETIC_MAX_EPOCHS

    def best_top1(self) -> float:
        """The highest true top-1 of a feasible candidate (the best point of `true_front`)."""
        return 100.0 * (1.0 - float(self.true_front()[:, 0].min()))

    def true_front(self) -> np.ndarray:
        """The exact Pareto front as rows (error in [0, 1], params / cap), feasible points only.

        Enumerates the architecture genes with every penalty at its zero option, which is optimal because
        penalties never interact with the architecture term.
        """
        arch = [g for g in self.space.genes if g.name in self.arch_genes]
        best = {g.name: g.options[0] for g in self.space.genes if g.name not in self.arch_genes}
        best.update(_ZERO_PENALTY[self.name])
        points = []
        for combo in product(*(g.options for g in arch)):
            t = self.truth({**best, **dict(zip(self.arch_genes, combo, strict=True))})
            if t.params <= self.param_cap and not t.rejected:
                points.append((1.0 - t.top1 / 100.0, t.params / self.param_cap))
        front = np.array(sorted(set(points)))
        keep = [i for i, p in enumerate(front) if not np.any(np.all(front <= p, axis=1) & np.any(front < p, axis=1))]
        return front[keep]


TRANSFORMS = ("identity", "softmax", "batchnorm", "layernorm", "l2norm", "tanh")
DISTANCES = ("kl", "cosine", "l2", "l1", "pearson")
WEIGHTS = (0.5, 1.0, 2.0, 5.0, 8.0, 16.0)
TAUS = (1, 2, 4, 8, 16)
LR_MULTS = (0.5, 1.0, 2.0)
WIDTHS = (0.5, 0.75, 1.0, 1.25, 1.5)
DEPTHS = (1, 2, 3, 4)


def _track_like_space() -> Space:
    return Space((
        Gene("width", "arch", WIDTHS), Gene("d1", "arch", DEPTHS), Gene("d2", "arch", DEPTHS),
        Gene("d3", "arch", DEPTHS), Gene("transform", "distill", TRANSFORMS), Gene("distance", "distill", DISTANCES),
        Gene("weight", "distill", WEIGHTS), Gene("tau", "distill", TAUS), Gene("lr_mult", "optim", LR_MULTS),
    ), "synthetic")


def _capacity(v: Mapping[str, Any]) -> float:
    return v["width"] ** 2 * (v["d1"] + 2 * v["d2"] + 4 * v["d3"])


def _params(v: Mapping[str, Any]) -> int:
    return int(10_000 + 10_000 * _capacity(v))


def _smooth(v: Mapping[str, Any]) -> Truth:
    arch = 76.0 - 26.0 * math.exp(-_capacity(v) / 12.0)
    penalty = (
        (2.0, 0.8, 0.0, 1.2, 0.6, 1.6)[TRANSFORMS.index(v["transform"])]
        + (0.0, 0.4, 1.0, 1.5, 0.7)[DISTANCES.index(v["distance"])]
        + 0.6 * abs(math.log2(v["weight"] / 2.0))
        + 0.8 * abs(math.log2(v["tau"] / 4.0))
        + (1.0, 0.0, 0.6)[LR_MULTS.index(v["lr_mult"])]
    )
    return Truth(arch - penalty, _params(v), rejected=v["weight"] >= 16.0 and v["tau"] >= 8)


def _pair_table() -> np.ndarray:
    """Fixed transform x distance penalties (a problem constant, not a run's randomness); one zero cell."""
    table = numpy_generator("synthetic", "rugged", "pairs").uniform(0.5, 6.0, size=(len(TRANSFORMS), len(DISTANCES)))
    table[TRANSFORMS.index("batchnorm"), DISTANCES.index("cosine")] = 0.0
    return table


_PAIRS = _pair_table()


def _rugged(v: Mapping[str, Any]) -> Truth:
    imbalance = abs(v["d1"] - v["d3"]) + abs(v["d2"] - v["d3"])
    arch = 77.0 - 28.0 * math.exp(-_capacity(v) / 14.0) - 0.7 * imbalance
    penalty = (
        _PAIRS[TRANSFORMS.index(v["transform"]), DISTANCES.index(v["distance"])]
        + 1.0 * abs(math.log2(v["weight"] / 5.0)) * (1.0 + 0.5 * (v["tau"] == 1))
        + 0.6 * abs(math.log2(v["tau"] / 4.0))
        + (1.5, 0.0, 2.5)[LR_MULTS.index(v["lr_mult"])]
    )
    return Truth(arch - penalty, _params(v), rejected=v["weight"] * v["tau"] >= 40.0)


def _tiny(v: Mapping[str, Any]) -> Truth:
    return Truth(50.0 + 10.0 * v["a"] + 5.0 * v["b"], 100_000 * (1 + v["a"]), rejected=False)


# Penalty-free option of every non-architecture gene (the zero of each penalty term).
_ZERO_PENALTY: dict[str, dict[str, Any]] = {
    "smooth": {"transform": "batchnorm", "distance": "kl", "weight": 2.0, "tau": 4, "lr_mult": 1.0},
    "rugged": {"transform": "batchnorm", "distance": "cosine", "weight": 5.0, "tau": 4, "lr_mult": 1.0},
    "tiny": {},
}

PROBLEMS: dict[str, SyntheticProblem] = {
    "smooth": SyntheticProblem("smooth", _track_like_space(), _smooth, ("width", "d1", "d2", "d3"), 6.0, 1.5,
                                 spread=0.5),
    "rugged": SyntheticProblem("rugged", _track_like_space(), _rugged, ("width", "d1", "d2", "d3"), 12.0, 3.0,
                                 spread=1.0),
    "tiny": SyntheticProblem("tiny", Space((Gene("a", "arch", (0, 1)), Gene("b", "arch", (0, 1))), "synthetic"),
                             _tiny, ("a", "b"), 4.0, 1.0),
}
