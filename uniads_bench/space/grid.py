"""A finite grid of a track's joint space, the points a tabular benchmark trains (`uniads-bench table build`).

A grid keeps, for each gene of the space, the options a suite lists for it (every option where it lists
none), so a grid is itself a `Space` and searchers replaying a table search exactly the points it holds.
Points are distinct candidates: settings that differ only in an inactive gene are one point. A grid larger
than the build can afford is sampled, stratified so that every option of every gene appears as evenly as
the sample size allows (each gene's options are dealt round-robin into a shuffled column, as in a Latin
hypercube over discrete genes), and the sample is recorded with the table.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from itertools import product
from typing import Any

import numpy as np

from uniads_bench.candidate import Candidate
from uniads_bench.space.space import Gene, Space

# Enumerating more settings than this to find a grid's distinct points is left to sampling instead.
MAX_ENUMERATED = 200_000
# Draws per wanted point before a stratified sample settles for fewer distinct points than asked.
SAMPLE_ROUNDS = 20


def grid_problems(space: Space, options: Mapping[str, Sequence[Any]]) -> list[str]:
    """What is wrong with a grid declaration: genes the space lacks, options a gene does not have."""
    genes = {g.name: g for g in space.genes}
    problems = []
    for name, values in options.items():
        if name not in genes:
            problems.append(f"{name}: not a gene of the track's space ({', '.join(genes)})")
            continue
        if not values:
            problems.append(f"{name}: list at least one option")
        unknown = [v for v in values if v not in genes[name].options]
        if unknown:
            known = ", ".join(map(str, genes[name].options))
            problems.append(f"{name}: {unknown} are not options of the gene ({known})")
    return problems


def grid_space(space: Space, options: Mapping[str, Sequence[Any]]) -> Space:
    """`space` with each listed gene narrowed to the listed options, in the space's own order."""
    genes = tuple(Gene(g.name, g.group, tuple(o for o in g.options if o in options[g.name]))
                  if g.name in options else g for g in space.genes)
    return dataclasses.replace(space, genes=genes)


def settings_count(space: Space) -> int:
    """Gene settings of `space` (an upper bound on its distinct points)."""
    return int(np.prod([len(g.options) for g in space.genes], dtype=np.float64))


def grid_points(space: Space, max_points: int, rng: np.random.Generator) -> tuple[list[Candidate], bool]:
    """The grid's distinct points in enumeration order, or a stratified sample of `max_points` of them when
    it holds more (``max_points`` 0: no limit); the flag says whether the points are a sample."""
    if settings_count(space) <= MAX_ENUMERATED:
        names = [g.name for g in space.genes]
        settings = (space.candidate(dict(zip(names, values, strict=True)))
                    for values in product(*(g.options for g in space.genes)))
        points = list({c.id: c for c in settings}.values())
        if not max_points or len(points) <= max_points:
            return points, False
    elif not max_points:
        raise ValueError(f"a grid of {settings_count(space):,} settings needs max_points")
    return stratified_sample(space, max_points, rng), True


def stratified_sample(space: Space, n: int, rng: np.random.Generator) -> list[Candidate]:
    """Up to `n` distinct points; each gene's options dealt round-robin over a shuffled column (module docstring)."""
    chosen: dict[str, Candidate] = {}
    for _ in range(SAMPLE_ROUNDS):
        want = n - len(chosen)
        if want <= 0:
            break
        columns = [rng.permutation(np.arange(want) % len(g.options)) for g in space.genes]
        for row in zip(*columns, strict=True):
            candidate = space.candidate({g.name: g.options[int(i)] for g, i in zip(space.genes, row, strict=True)})
            chosen.setdefault(candidate.id, candidate)
    return list(chosen.values())[:n]


def space_to_json(space: Space) -> dict[str, Any]:
    return {"distiller": space.distiller, "genes": [{"name": g.name, "group": g.group, "options": list(g.options)}
                                                    for g in space.genes]}


def space_from_json(data: dict[str, Any]) -> Space:
    """The grid space of a manifest, with its distiller's inactive-gene rule, so candidates get the ids they
    had when the table was built."""
    from uniads_bench.distill import get_distiller  # the rule lives with the distiller (imports torch)

    genes = tuple(Gene(g["name"], g["group"], tuple(g["options"])) for g in data["genes"])
    return Space(genes, data["distiller"], get_distiller(data["distiller"]).inactive_genes)
