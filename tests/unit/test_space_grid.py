"""Table grids: narrowing a space, distinct points, the stratified sample, and what a bad grid is told."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from uniads_bench.space.grid import grid_points, grid_problems, grid_space, space_from_json, space_to_json
from uniads_bench.space.space import Gene, Space


def untempered_tau(hparams) -> frozenset[str]:
    return frozenset({"tau"}) if hparams.get("kind") == "plain" else frozenset()


SPACE = Space((Gene("width", "arch", (4, 8, 16)), Gene("depth", "arch", (1, 2)),
               Gene("kind", "distill", ("plain", "soft")), Gene("tau", "distill", (1.0, 4.0, 8.0))),
              "fake", untempered_tau)


def test_a_grid_keeps_the_listed_options_in_the_space_order() -> None:
    grid = grid_space(SPACE, {"width": [16, 4], "tau": [8.0]})
    assert [g.options for g in grid.genes] == [(4, 16), (1, 2), ("plain", "soft"), (8.0,)]


def test_points_are_distinct_candidates() -> None:
    points, sampled = grid_points(SPACE, 0, np.random.default_rng(0))
    # 3 x 2 x (1 plain setting, tau inactive + 3 soft settings) = 24 points of 36 settings
    assert len(points) == 24 and len({c.id for c in points}) == 24 and not sampled


def test_a_grid_larger_than_max_points_is_sampled_evenly_per_gene() -> None:
    big = Space(tuple(Gene(f"g{i}", "arch", tuple(range(4))) for i in range(6)), "fake")
    points, sampled = grid_points(big, 200, np.random.default_rng(1))
    assert sampled and len(points) == 200 and len({c.id for c in points}) == 200
    for gene in big.genes:
        counts = Counter(c.arch_dict[gene.name] for c in points)
        assert set(counts) == set(gene.options) and max(counts.values()) - min(counts.values()) <= 8
    again, _ = grid_points(big, 200, np.random.default_rng(1))
    assert [c.id for c in again] == [c.id for c in points]  # the sample is a function of its seed


def test_grid_problems_name_the_gene_and_the_options() -> None:
    problems = grid_problems(SPACE, {"width": [5, 8], "nosuch": [1], "depth": []})
    assert any("width: [5] are not options" in p for p in problems)
    assert any("nosuch: not a gene" in p for p in problems)
    assert any("depth: list at least one option" in p for p in problems)


def test_a_space_survives_its_json_with_the_distillers_rule() -> None:
    from uniads_bench.distill import get_distiller

    space = Space((Gene("temperature", "distill", (1.0, 4.0)),), "kd", get_distiller("kd").inactive_genes)
    back = space_from_json(space_to_json(space))
    assert back.genes == space.genes and back.distiller == "kd"
    with pytest.raises(Exception, match="unknown distiller"):
        space_from_json({**space_to_json(space), "distiller": "nosuch"})
