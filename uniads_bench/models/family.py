"""Student families: parametric architectures searched by a track, each containing its reference student.

A family declares its architecture genes as data (name and options), the genes of the track's reference
student, and a builder. The search space takes its architecture genes from here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from torch import nn

from uniads_bench.errors import UserError


@dataclass(frozen=True)
class FamilyGene:
    """One architecture gene: its name and its ordered options."""

    name: str
    options: tuple[Any, ...]


@dataclass(frozen=True)
class StudentFamily:
    """A parametric architecture family.

    Attributes:
        name: registry key, e.g. ``"cifar_resnet"``.
        genes: the architecture genes, in a fixed order.
        reference: gene values of the track's reference student (a point of the family).
        builder: ``builder(genes, num_classes) -> nn.Module`` with ``forward`` and ``forward_taps``.
    """

    name: str
    genes: tuple[FamilyGene, ...]
    reference: Mapping[str, Any]
    builder: Callable[[Mapping[str, Any], int], nn.Module]

    def build(self, genes: Mapping[str, Any], num_classes: int) -> nn.Module:
        missing = [g.name for g in self.genes if g.name not in genes]
        if missing:
            raise UserError(f"architecture for family {self.name!r} lacks genes {missing}")
        return self.builder(genes, num_classes)


_FAMILIES: dict[str, StudentFamily] = {}


def register_family(family: StudentFamily) -> StudentFamily:
    """Add a family to the registry; a second family under the same name is a bug."""
    if family.name in _FAMILIES:
        raise ValueError(f"student family {family.name!r} registered twice")
    _FAMILIES[family.name] = family
    return family


def known_families() -> list[str]:
    _load_builtin()
    return sorted(_FAMILIES)


def get_family(name: str) -> StudentFamily:
    """The family called `name`, or a UserError listing the known ones."""
    _load_builtin()
    if name not in _FAMILIES:
        raise UserError(f"unknown student family {name!r}; known: {', '.join(sorted(_FAMILIES))}")
    return _FAMILIES[name]


def track_family(track: Any) -> StudentFamily:
    """The family of a suite track, with the track's reference student when it names one."""
    family = get_family(track.student_family)
    if not track.student_reference:
        return family
    reference = {**family.reference, **track.student_reference}
    unknown = set(reference) - {g.name for g in family.genes}
    bad = [f"{g.name}={reference[g.name]!r} not in {g.options}" for g in family.genes
           if g.name in reference and reference[g.name] not in g.options]
    if unknown or bad:
        raise UserError(f"reference student {track.student_reference} is not a point of family {family.name!r}",
                        [f"unknown gene {u!r}" for u in sorted(unknown)] + bad)
    return dataclasses.replace(family, reference=reference)


def _load_builtin() -> None:
    import uniads_bench.models.digits  # noqa: F401  (registers the digits family)
    import uniads_bench.models.families  # noqa: F401  (registers the CIFAR and ImageNet families)
