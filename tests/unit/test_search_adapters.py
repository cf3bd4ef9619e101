"""Space adapters: pymoo variables and nevergrad parametrisations map option indices back to candidates."""

from __future__ import annotations

import numpy as np
from pymoo.core.variable import Choice, Integer

from uniads_bench.space.adapters import (
    candidate_to_indices,
    indices_to_candidate,
    nevergrad_parametrization,
    pymoo_variables,
)
from uniads_bench.space.space import Gene, Space

SPACE = Space((Gene("depth", "arch", (1, 3, 5)), Gene("transform", "distill", ("bn", "tanh")),
               Gene("tau", "distill", (4.0,)), Gene("lr_mult", "optim", (0.5, 1.0))), "uniads")


def test_pymoo_variables_are_option_indices() -> None:
    variables = pymoo_variables(SPACE)
    assert isinstance(variables["depth"], Integer) and tuple(variables["depth"].bounds) == (0, 2)
    assert isinstance(variables["tau"], Choice)  # one option: PM would divide by zero


def test_numpy_scalar_indices_round_trip() -> None:
    indices = {"depth": np.int64(2), "transform": np.int64(1), "tau": np.int64(0), "lr_mult": np.int32(0)}
    candidate = indices_to_candidate(SPACE, indices)
    assert candidate.arch_dict == {"depth": 5} and type(candidate.arch_dict["depth"]) is int
    assert candidate.hparams_dict == {"transform": "tanh", "tau": 4.0} and candidate.optim_dict == {"lr_mult": 0.5}
    assert candidate_to_indices(SPACE, candidate) == {"depth": 2, "transform": 1, "tau": 0, "lr_mult": 0}


def test_nevergrad_parametrization_is_seeded_from_the_generator() -> None:
    def samples(seed: int) -> list[dict[str, int]]:
        param = nevergrad_parametrization(SPACE, np.random.default_rng(seed))
        return [param.sample().value for _ in range(8)]

    assert samples(0) == samples(0) != samples(1)
    for value in samples(0):
        indices_to_candidate(SPACE, value)
