"""Adapters from a `Space` to pymoo variables and nevergrad parametrisations, and back to candidates.

Both libraries see every gene as the *index* of its option, never the option itself: options can be
strings, floats or mixed, and indices keep the ordering genes carry (depths, widths, temperatures), so
pymoo's SBX/PM and nevergrad's TransitionChoice step to neighbouring options. Indices come back as numpy
scalars (pymoo pitfall 7), so they are cast with ``int()`` before they index anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import nevergrad as ng
import numpy as np
from pymoo.core.variable import Choice, Integer, Variable

from uniads_bench.candidate import Candidate
from uniads_bench.space.space import Space


def pymoo_variables(space: Space) -> dict[str, Variable]:
    """One pymoo variable per gene: an ``Integer`` option index, or a ``Choice`` for a one-option gene.

    A one-option gene cannot be an ``Integer`` because polynomial mutation divides by ``xu - xl``.
    """
    variables: dict[str, Variable] = {}
    for gene in space.genes:
        if len(gene.options) > 1:
            variables[gene.name] = Integer(bounds=(0, len(gene.options) - 1))
        else:
            variables[gene.name] = Choice(options=[0])
    return variables


def indices_to_candidate(space: Space, indices: Mapping[str, Any]) -> Candidate:
    """The candidate whose genes take the options at these indices (numpy scalars accepted)."""
    return space.candidate({g.name: g.options[int(indices[g.name])] for g in space.genes})


def candidate_to_indices(space: Space, candidate: Candidate) -> dict[str, int]:
    """Option indices of a candidate of `space`, as plain ints; a gene the candidate leaves out as inactive
    (tau of an untempered UniADS pair) is absent, since no option of it is the candidate's."""
    values = space.values(candidate)
    return {g.name: g.options.index(values[g.name]) for g in space.genes if g.name in values}


def nevergrad_parametrization(space: Space, rng: np.random.Generator) -> ng.p.Dict:
    """An ``ng.p.Dict`` of option indices, seeded from `rng` so a search replays exactly.

    Ordered genes become ``TransitionChoice`` (mutations step to neighbours); a one-option gene becomes a
    deterministic ``Choice``, since a stochastic (softmax) Choice would make evaluations noisy.
    """
    params: dict[str, ng.p.Parameter] = {}
    for gene in space.genes:
        indices = list(range(len(gene.options)))
        if len(indices) > 1:
            params[gene.name] = ng.p.TransitionChoice(indices)
        else:
            params[gene.name] = ng.p.Choice(indices, deterministic=True)
    parametrization = ng.p.Dict(**params)
    parametrization.random_state.seed(int(rng.integers(2**32 - 1)))
    return parametrization
