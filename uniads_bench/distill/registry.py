"""Finding distillers by name: in-tree decorator, installed entry points, and `FILE.py:CLASS` plug-ins.

Lookup order: names registered with `@register_distiller` inside uniads_bench, then the entry-point group
``uniads_bench.distillers`` of installed packages, then a spec of the form ``path/to/file.py:ClassName``.
"""

from __future__ import annotations

import difflib
import inspect
import math
from collections.abc import Callable, Mapping
from importlib.metadata import entry_points
from typing import Any

from uniads_bench.distill.base import KNOWLEDGE_KINDS, Distiller
from uniads_bench.errors import UserError
from uniads_bench.models.taps import TapDims
from uniads_bench.registry import is_file_spec, load_plugin_file

ENTRY_POINT_GROUP = "uniads_bench.distillers"

_REGISTRY: dict[str, type[Distiller]] = {}
# Stands in for real tap shapes when checking that a constructor takes (student, teacher).
_PROBE_DIMS = TapDims(num_classes=1, feature_dim=1)
_entry_points_loaded = False


def register_distiller(name: str) -> Callable[[type[Distiller]], type[Distiller]]:
    """Class decorator that registers a distiller under `name` (lowercase, stable forever)."""

    def decorate(cls: type[Distiller]) -> type[Distiller]:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise UserError(
                f"distiller name {name!r} is registered twice: {_qualname(_REGISTRY[name])} and {_qualname(cls)}; "
                "rename one of them"
            )
        check_contract(cls, origin=name)
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return decorate


def list_distillers() -> list[str]:
    """Names of every registered distiller, in-tree and from installed entry points."""
    _load_builtin()
    _load_entry_points()
    return sorted(_REGISTRY)


def get_distiller(spec: str) -> type[Distiller]:
    """Resolve a registered name or a ``FILE.py:CLASS`` spec to a Distiller class.

    Raises:
        UserError: unknown name (with the registered names and the nearest match), or a plug-in file that
            is missing, fails to import, lacks the class, or breaks the contract.
    """
    if is_file_spec(spec):
        return _load_plugin_file(spec)
    names = list_distillers()
    if spec in _REGISTRY:
        return _REGISTRY[spec]
    near = difflib.get_close_matches(spec, names, n=1)
    hint = f" Did you mean {near[0]!r}?" if near else ""
    raise UserError(
        f"unknown distiller {spec!r}.{hint} Registered: {', '.join(names)}. "
        "A new one can be given as path/to/file.py:ClassName."
    )


def build_distiller(spec: str, student: TapDims, teacher: TapDims, hparams: Mapping[str, Any]) -> Distiller:
    """Instantiate the distiller `spec` with `hparams`; bad hyperparameters are a UserError."""
    cls = get_distiller(spec)
    try:
        return cls(student, teacher, **dict(hparams))
    except TypeError as exc:
        accepted = ", ".join(_hparam_names(cls)) or "none"
        raise UserError(
            f"distiller {spec!r} rejected its hyperparameters {dict(hparams)}: {exc} (accepted: {accepted})"
        ) from exc


def hparam_problems(spec: str, hparams: Mapping[str, Any]) -> list[str]:
    """What is wrong with `hparams` for the distiller `spec`, checked without building it (suites are checked
    when they load, before any training): names the constructor does not take, and values whose type differs
    from the default's (a string for a number) or that are not finite. Empty when all is well, and for a
    distiller whose constructor takes ``**kwargs`` (its names cannot be known)."""
    cls = get_distiller(spec)
    params = {p.name: p for p in list(inspect.signature(cls).parameters.values())[2:]}
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return []
    accepted = _hparam_names(cls)
    problems = []
    for name, value in hparams.items():
        if name not in accepted:
            near = difflib.get_close_matches(name, accepted, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            problems.append(f"{name}: not a hyperparameter of distiller {spec!r}{hint}; accepted: "
                            f"{', '.join(accepted) or 'none'}")
            continue
        default = params[name].default
        if _is_number(default) and not _is_number(value):
            problems.append(f"{name}: expected a number, got {type(value).__name__} {value!r}")
        elif _is_number(value) and not math.isfinite(value):
            problems.append(f"{name}: must be finite, got {value!r}")
        elif isinstance(default, str) and not isinstance(value, str):
            problems.append(f"{name}: expected a string, got {type(value).__name__} {value!r}")
    return problems


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_contract(cls: object, origin: str) -> None:
    """Raise UserError unless `cls` is a Distiller subclass with a forward(), a valid `needs`, and a constructor
    that takes (student, teacher) tap shapes."""
    if not (inspect.isclass(cls) and issubclass(cls, Distiller)):
        raise UserError(f"{origin}: {cls!r} is not a subclass of uniads_bench.distill.Distiller")
    if cls.forward is Distiller.forward:
        raise UserError(f"{origin}: {cls.__name__} does not implement forward(student, teacher, target, progress)")
    if not isinstance(cls.needs, frozenset) or not cls.needs <= KNOWLEDGE_KINDS:
        raise UserError(
            f"{origin}: {cls.__name__}.needs must be a frozenset drawn from {sorted(KNOWLEDGE_KINDS)}, "
            f"got {cls.needs!r}"
        )
    try:
        inspect.signature(cls).bind(_PROBE_DIMS, _PROBE_DIMS)
    except TypeError as exc:
        raise UserError(
            f"{origin}: {cls.__name__}(student, teacher, **hparams) cannot be called with two TapDims: {exc}"
        ) from exc


def _load_plugin_file(spec: str) -> type[Distiller]:
    cls = load_plugin_file(spec, "distiller")
    check_contract(cls, origin=spec)
    if not cls.name:
        cls.name = spec.rpartition(":")[2]
    return cls


def _load_builtin() -> None:
    # Importing the package registers the in-tree distillers through their decorators.
    import uniads_bench.distill  # noqa: F401


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            cls = ep.load()
        except Exception as exc:
            raise UserError(
                f"distiller entry point {ep.name!r} ({ep.value}) failed to import: {type(exc).__name__}: {exc}"
            ) from exc
        check_contract(cls, origin=f"entry point {ep.name}")
        known = _REGISTRY.get(ep.name)
        if known is None:
            cls.name = ep.name
            _REGISTRY[ep.name] = cls
        elif known is not cls:
            raise UserError(
                f"distiller name {ep.name!r} is registered twice: {_qualname(known)} and entry point {ep.value}; "
                "rename the entry point"
            )


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _hparam_names(cls: type[Distiller]) -> list[str]:
    params = list(inspect.signature(cls).parameters.values())[2:]
    return [p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]
