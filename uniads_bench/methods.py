"""Methods: how a leaderboard row's (student, distiller) is obtained.

A `FixedMethod` trains the track's reference student with a named distiller; a `SearchMethod` runs a
searcher over the track's space under the search budget and trains what it chooses. Method definitions
are found through the entry-point group ``uniads_bench.methods``; the baselines in `baselines/` register
there exactly as a third-party package would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from uniads_bench.errors import UserError

ENTRY_POINT_GROUP = "uniads_bench.methods"


@dataclass(frozen=True)
class FixedMethod:
    """The reference student trained with `distiller` and its published hyperparameters."""

    name: str
    distiller: str
    hparams: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    source: str = ""
    kind: str = "fixed"


@dataclass(frozen=True)
class SearchMethod:
    """A searcher run over the track's joint space under the suite's search budget.

    `variants` names the ``NAME:VARIANT`` forms the method accepts, each with the options it overrides
    (checked when a suite is loaded); None leaves the variant to the searcher (``nevergrad:DE``)."""

    name: str
    searcher: str
    options: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    kind: str = "search"
    variants: dict[str, dict[str, Any]] | None = None


Method = FixedMethod | SearchMethod


def method_names() -> list[str]:
    """Names of every method registered through the entry-point group (nothing is imported)."""
    return sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def _load(name: str) -> Method | None:
    """The method registered as `name`, importing only its own module (a broken plug-in spoils only itself)."""
    for ep in entry_points(group=ENTRY_POINT_GROUP, name=name):
        try:
            method = ep.load()
        except Exception as exc:
            raise UserError(f"method entry point {ep.name!r} ({ep.value}) failed to import: {exc}") from exc
        if not isinstance(method, FixedMethod | SearchMethod) or method.name != ep.name:
            raise UserError(f"method entry point {ep.name!r} must be a FixedMethod or SearchMethod named {ep.name!r}")
        return method
    return None


def get_method(name: str) -> Method:
    """The method called `name`; ``FAMILY:VARIANT`` (``nevergrad:DE``) is the search method FAMILY with
    option ``variant`` set, so one definition serves every optimizer of a library."""
    method = _load(name)
    if method is not None:
        return method
    family, _, variant = name.partition(":")
    base = _load(family) if variant else None
    if isinstance(base, SearchMethod):
        if base.variants is not None and variant not in base.variants:
            raise UserError(f"unknown variant {variant!r} of method {family!r}; known: "
                            f"{', '.join(f'{family}:{v}' for v in base.variants)}")
        overrides = base.variants[variant] if base.variants is not None else {}
        return SearchMethod(name=name, searcher=base.searcher,
                            options={**base.options, **overrides, "variant": variant},
                            description=f"{base.description} ({variant})")
    raise UserError(f"unknown method {name!r}; known: {', '.join(method_names())} (and FAMILY:VARIANT forms)")
