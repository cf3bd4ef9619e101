"""Student families: parametric architectures searched by a track, each containing its reference student.

A family declares its architecture genes as data (name and options), the genes of the track's reference
student, and a builder. The search space takes its architecture genes from here. Families have the three doors
of every registry (`uniads_bench.registry`): in-tree (`register_family`), an installed package's entry point in
the ``uniads_bench.families`` group, or ``path/to/file.py:NAME`` naming a `StudentFamily` in a suite's
``student_family``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from torch import nn

from uniads_bench.errors import UserError
from uniads_bench.registry import Registry


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


def _check_family(obj: object, name: str) -> StudentFamily:
    """The family contract: a `StudentFamily` whose reference student is a point of its own genes."""
    if not isinstance(obj, StudentFamily):
        raise UserError(f"student family {name!r} must be a uniads_bench.models.family.StudentFamily, "
                        f"got {type(obj).__name__}")
    genes = {g.name: g.options for g in obj.genes}
    bad = [f"{k}={v!r}" for k, v in obj.reference.items() if k not in genes or v not in genes[k]]
    missing = sorted(set(genes) - set(obj.reference))
    if bad or missing:
        raise UserError(f"student family {name!r}: its reference student is not a point of its genes"
                        f"{f' ({bad} outside the options)' if bad else ''}"
                        f"{f' (no value for {missing})' if missing else ''}")
    return obj


FAMILIES: Registry[StudentFamily] = Registry("student family", "uniads_bench.families", _check_family)


def register_family(family: StudentFamily) -> StudentFamily:
    """Add an in-tree family to the registry under its name; a second family under the same name is an error."""
    return FAMILIES.register(family.name, f"module {family.builder.__module__}")(family)


def known_families() -> list[str]:
    _load_builtin()
    return FAMILIES.names()


def get_family(spec: str) -> StudentFamily:
    """The family registered as `spec` or loaded from ``FILE.py:NAME``; a UserError names the known ones."""
    _load_builtin()
    return FAMILIES.get(spec)


def family_origins() -> dict[str, str]:
    """Per family, where it comes from (`uniads-bench plugins`)."""
    _load_builtin()
    return FAMILIES.origins()


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
