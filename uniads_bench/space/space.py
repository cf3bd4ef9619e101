"""The joint search space of a track: architecture genes of the student family plus distiller genes.

Genes are discrete with ordered options (widths, depths, temperatures, weights). The space samples
candidates from a numpy Generator and maps between candidates and plain gene dictionaries, which the
search adapters (pymoo, nevergrad) build on.

Two rules keep candidates one-to-one with the losses they train (`uniads_bench.distill.uniads`):

- A joint gene is named after its fields joined by "/" (``transform/distance``); its options are the field
  values joined the same way (``tanh/l2``), and a candidate holds the fields, not the joint name.
- A distiller may declare genes inactive for some values of the others (`Distiller.inactive_genes`: tau on a
  pair that is not tempered). A candidate leaves inactive genes out, so two gene settings that differ only
  there are the same candidate, with one id.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from itertools import product
from typing import TYPE_CHECKING, Any

import numpy as np

from uniads_bench.candidate import Candidate

if TYPE_CHECKING:
    from uniads_bench.config import Suite, Track


@dataclass(frozen=True)
class Gene:
    """A discrete gene: `group` is "arch", "distill" or "optim".

    Options are ordered (widths, depths, temperatures, weights), so mutation may step to a neighbour.
    """

    name: str
    group: str
    options: tuple[Any, ...]


def all_genes_active(hparams: Mapping[str, Any]) -> frozenset[str]:
    """The inactive-gene rule of a distiller without one: every gene always matters."""
    return frozenset()


@dataclass(frozen=True)
class Space:
    """The genes of a track, the distiller whose hyperparameters the distill genes are, and that distiller's
    rule for which distill genes a setting of the others makes inactive (module docstring)."""

    genes: tuple[Gene, ...]
    distiller: str
    inactive_genes: Callable[[Mapping[str, Any]], frozenset[str]] = all_genes_active

    def sample(self, rng: np.random.Generator) -> Candidate:
        """A random candidate: every gene drawn uniformly (an inactive one is drawn, then dropped)."""
        return self.candidate({g.name: g.options[int(rng.integers(len(g.options)))] for g in self.genes})

    def candidate(self, values: Mapping[str, Any]) -> Candidate:
        """The candidate with these gene values (joint genes split into their fields, inactive genes dropped)."""
        groups: dict[str, dict[str, Any]] = {"arch": {}, "distill": {}, "optim": {}}
        for gene in self.genes:
            groups[gene.group].update(_fields(gene, values[gene.name]))
        return Candidate.make(groups["arch"], self.distiller, self._active(groups["distill"]), groups["optim"])

    def values(self, candidate: Candidate) -> dict[str, Any]:
        """Gene values of a candidate of this space; genes the candidate leaves out as inactive are absent."""
        fields = {**candidate.arch_dict, **candidate.hparams_dict, **candidate.optim_dict}
        values = {}
        for gene in self.genes:
            names = gene.name.split("/")
            if all(name in fields for name in names):
                values[gene.name] = "/".join(str(fields[n]) for n in names) if len(names) > 1 else fields[gene.name]
        return values

    def nearest(self, fields: Mapping[str, Any]) -> Candidate | None:
        """The candidate closest to `fields` (architecture, distiller and optimisation fields by name): each
        numeric gene takes its option nearest in log scale, every other gene the option equal to its value;
        None when a gene's field is missing or matches no option (the space cannot express the point)."""
        values = {}
        for gene in self.genes:
            names = gene.name.split("/")
            if not all(name in fields for name in names):
                return None
            value = "/".join(str(fields[n]) for n in names) if len(names) > 1 else fields[gene.name]
            values[gene.name] = _nearest_option(gene, value)
            if values[gene.name] is None:
                return None
        return self.candidate(values)

    def size(self) -> int:
        """How many distinct candidates the space holds (settings differing only in inactive genes count once)."""
        distill = [g for g in self.genes if g.group == "distill"]
        others = np.prod([len(g.options) for g in self.genes if g.group != "distill"], dtype=np.float64)
        settings = {
            tuple(sorted(self._active({k: v for g, o in zip(distill, options, strict=True)
                                       for k, v in _fields(g, o).items()}).items()))
            for options in product(*(g.options for g in distill))
        }
        return int(others * len(settings))

    def _active(self, hparams: dict[str, Any]) -> dict[str, Any]:
        inactive = self.inactive_genes(hparams)
        return {k: v for k, v in hparams.items() if k not in inactive}

    def describe(self) -> list[dict[str, Any]]:
        """One row per gene, for `uniads-bench space`; a joint gene's options grouped by their first field."""
        return [{"gene": g.name, "group": g.group, "options": _options_text(g)} for g in self.genes]


def track_space(track: Track) -> Space:
    """The joint space of `track`: its family's architecture genes, the distiller genes the suite lists (by
    default every option the distiller declares in `search_genes`) and the optimisation genes."""
    # Building a track's space needs its family and distiller (torch); a Space itself does not, so the search
    # layer imports no torch.
    from uniads_bench.distill import get_distiller
    from uniads_bench.models.family import track_family

    family = track_family(track)
    arch = [Gene(g.name, "arch", tuple(g.options)) for g in family.genes]
    distill_options = track.space.distill or get_distiller(track.space.distiller).search_genes
    distill = [Gene(name, "distill", tuple(options)) for name, options in sorted(distill_options.items())]
    optim = [Gene(name, "optim", tuple(options)) for name, options in sorted(track.space.optim.items())]
    distiller = get_distiller(track.space.distiller)
    return Space(tuple(arch + distill + optim), track.space.distiller, distiller.inactive_genes)


def known_points(space: Space, track: Track, suite: Suite) -> tuple[tuple[str, Candidate], ...]:
    """The fixed methods `suite` declares that `space` (`track`'s, or a table's grid of it) can express, as
    (method, candidate) on the track's reference student: the hand-designed starting points of a search
    (`Distiller.express`, then `Space.nearest`; optimisation genes at the recipe's own values). Methods the
    space cannot express are left out. `suite` is the suite as declared, before ``--methods`` narrows it, so a
    search starts from the same points whichever methods a run trains."""
    from uniads_bench.distill import get_distiller
    from uniads_bench.methods import FixedMethod, get_method
    from uniads_bench.models.family import track_family

    searched = get_distiller(space.distiller)
    recipe = {"lr_mult": 1.0, "weight_decay": suite.recipe.weight_decay}
    points: dict[str, tuple[str, Candidate]] = {}
    for name in suite.methods:
        method = get_method(name)
        if not isinstance(method, FixedMethod):
            continue
        hparams = searched.express(method.distiller, {**method.hparams, **track.method_hparams.get(name, {})})
        if hparams is None:
            continue
        point = space.nearest({**track_family(track).reference, **hparams, **recipe})
        if point is not None and point.id not in points:
            points[point.id] = (name, point)
    return tuple(points.values())


def _nearest_option(gene: Gene, value: Any) -> Any:
    """The option equal to `value` (the option itself: 4.0 is the option 4, whose candidate id is 4's); for
    numbers the nearest option in log scale; else None."""
    for option in gene.options:
        if option == value:
            return option
    numbers = [o for o in gene.options if isinstance(o, int | float) and not isinstance(o, bool) and o > 0]
    if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0 or len(numbers) != len(gene.options):
        return None
    return min(numbers, key=lambda o: abs(np.log(o / value)))


def _options_text(gene: Gene) -> str:
    if "/" not in gene.name:
        return ", ".join(map(str, gene.options))
    grouped: dict[str, list[str]] = {}
    for option in gene.options:
        first, _, rest = str(option).partition("/")
        grouped.setdefault(first, []).append(rest)
    return "; ".join(f"{first}/{{{', '.join(rest)}}}" for first, rest in grouped.items())


def _fields(gene: Gene, value: Any) -> dict[str, Any]:
    """A gene's value as candidate fields: a joint gene's "a/b" value split over its "a/b" name."""
    names = gene.name.split("/")
    if len(names) == 1:
        return {gene.name: value}
    return dict(zip(names, str(value).split("/"), strict=True))
