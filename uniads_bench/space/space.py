"""The joint search space of a track: architecture genes of the student family plus distiller genes.

Genes are discrete with ordered options (widths, depths, temperatures, weights). The space samples
candidates from a numpy Generator and maps between candidates and plain gene dictionaries, which the
search adapters (pymoo, nevergrad) build on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from uniads_bench.config import Track
from uniads_bench.distill import get_distiller
from uniads_bench.models.family import FamilyGene, track_family
from uniads_bench.space.candidate import Candidate


@dataclass(frozen=True)
class Gene:
    """A discrete gene: `group` is "arch", "distill" or "optim".

    Options are ordered (widths, depths, temperatures, weights), so mutation may step to a neighbour.
    """

    name: str
    group: str
    options: tuple[Any, ...]


@dataclass(frozen=True)
class Space:
    """The genes of a track and the distiller whose hyperparameters the distill genes are."""

    genes: tuple[Gene, ...]
    distiller: str

    def sample(self, rng: np.random.Generator) -> Candidate:
        """A uniformly random candidate."""
        return self.candidate({g.name: g.options[int(rng.integers(len(g.options)))] for g in self.genes})

    def candidate(self, values: Mapping[str, Any]) -> Candidate:
        """The candidate with these gene values."""
        groups: dict[str, dict[str, Any]] = {"arch": {}, "distill": {}, "optim": {}}
        for gene in self.genes:
            groups[gene.group][gene.name] = values[gene.name]
        return Candidate.make(groups["arch"], self.distiller, groups["distill"], groups["optim"])

    def values(self, candidate: Candidate) -> dict[str, Any]:
        """Gene values of a candidate of this space."""
        return {**candidate.arch_dict, **candidate.hparams_dict, **candidate.optim_dict}

    def size(self) -> int:
        return int(np.prod([len(g.options) for g in self.genes], dtype=np.float64))

    def describe(self) -> list[dict[str, Any]]:
        """One row per gene, for `uniads-bench space`."""
        return [{"gene": g.name, "group": g.group, "options": ", ".join(map(str, g.options))} for g in self.genes]


def track_space(track: Track) -> Space:
    """The joint space of `track`: its family's architecture genes, the distiller genes the suite lists (by
    default every option the distiller declares in `search_genes`) and the optimisation genes."""
    family = track_family(track)
    arch = [_arch_gene(g) for g in family.genes]
    distill_options = track.space.distill or get_distiller(track.space.distiller).search_genes
    distill = [Gene(name, "distill", tuple(options)) for name, options in sorted(distill_options.items())]
    optim = [Gene(name, "optim", tuple(options)) for name, options in sorted(track.space.optim.items())]
    return Space(tuple(arch + distill + optim), track.space.distiller)


def _arch_gene(gene: FamilyGene) -> Gene:
    return Gene(gene.name, "arch", tuple(gene.options))
