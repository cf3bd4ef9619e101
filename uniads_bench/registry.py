"""One registry with three doors, for every extension point that has no older one (searchers, student families).

A name resolves, in order, to an in-tree registration (`Registry.register`, a decorator), an installed
package's entry point in the registry's group (how the in-tree baselines and searchers are found too, so no
hand-kept import list can forget one), or a ``path/to/file.py:NAME`` spec that loads a file (no install, no
fork). Every registry has the same verbs: `register`, `names`, `get`, `origins`; `uniads-bench plugins`
lists what each holds and from where. Distillers have their own registry with the same three doors
(`distill/registry.py`), older than this one and checked by the distiller conformance test.
"""

from __future__ import annotations

import difflib
import importlib.util
import sys
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Generic, TypeVar

from uniads_bench.errors import UserError

T = TypeVar("T")


def load_plugin_file(spec: str, kind: str) -> object:
    """The object NAME of ``FILE.py:NAME``, importing FILE once per process.

    Raises:
        UserError: the file is missing, fails to import, or has no NAME.
    """
    file_part, _, attr = spec.rpartition(":")
    path = Path(file_part).expanduser().resolve()
    if not path.is_file():
        raise UserError(f"{kind} plug-in file {file_part} does not exist; give an existing FILE.py:NAME")
    module_name = f"uniads_bench_plugin_{path.stem}_{abs(hash(str(path))):x}"
    if module_name not in sys.modules:
        module_spec = importlib.util.spec_from_file_location(module_name, path)
        assert module_spec is not None and module_spec.loader is not None
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[module_name] = module
        try:
            module_spec.loader.exec_module(module)
        except Exception as exc:
            del sys.modules[module_name]
            raise UserError(f"{kind} plug-in {file_part} failed to import: {type(exc).__name__}: {exc}") from exc
    if not hasattr(sys.modules[module_name], attr):
        raise UserError(f"{kind} plug-in {file_part} has no class or object {attr!r}")
    return getattr(sys.modules[module_name], attr)


def is_file_spec(spec: str) -> bool:
    return ":" in spec and spec.rpartition(":")[0].endswith(".py")


class Registry(Generic[T]):
    """Named objects of one kind.

    Args:
        kind: what the registry holds, for messages ("searcher").
        group: the entry-point group of installed packages (``uniads_bench.searchers``).
        check: ``check(obj, name)`` returns the object to register or raises UserError (the contract).
    """

    def __init__(self, kind: str, group: str, check: Callable[[object, str], T]) -> None:
        self.kind = kind
        self.group = group
        self.check = check
        self._items: dict[str, T] = {}
        self._origins: dict[str, str] = {}

    def register(self, name: str, origin: str = "") -> Callable[[T], T]:
        """Decorator registering an object under `name` (in-tree code and plug-in files)."""

        def decorate(obj: T) -> T:
            self._add(name, self.check(obj, name), origin or _origin_of(obj))
            return obj

        return decorate

    def names(self) -> list[str]:
        """Every name registered in this process or through an installed entry point (nothing is imported)."""
        return sorted(set(self._items) | {ep.name for ep in entry_points(group=self.group)})

    def get(self, spec: str) -> T:
        """The object registered as `spec`, or loaded from ``FILE.py:NAME``.

        Raises:
            UserError: an unknown name (with the known names and the nearest), or a plug-in that fails to
                load or breaks the contract.
        """
        if spec in self._items:
            return self._items[spec]
        if is_file_spec(spec):
            obj = self.check(load_plugin_file(spec, self.kind), spec)
            return self._items.get(spec) or self._add(spec, obj, spec)
        for ep in entry_points(group=self.group, name=spec):
            try:
                loaded = ep.load()
            except Exception as exc:
                raise UserError(f"{self.kind} entry point {ep.name!r} ({ep.value}) failed to import: "
                                f"{type(exc).__name__}: {exc}") from exc
            if spec in self._items:  # the module registered itself while it was imported
                return self._items[spec]
            return self._add(spec, self.check(loaded, spec), f"entry point {ep.value}")
        near = difflib.get_close_matches(spec, self.names(), n=1)
        hint = f" Did you mean {near[0]!r}?" if near else ""
        raise UserError(f"unknown {self.kind} {spec!r}.{hint} Known: {', '.join(self.names())}; a new one can be "
                        "given as path/to/file.py:NAME")

    def origins(self) -> dict[str, str]:
        """Per name, where it comes from (loading every entry point: `uniads-bench plugins`)."""
        for name in self.names():
            self.get(name)
        return dict(sorted(self._origins.items()))

    def _add(self, name: str, obj: T, origin: str) -> T:
        known = self._items.get(name)
        if known is not None and known is not obj:
            raise UserError(f"{self.kind} name {name!r} is registered twice ({self._origins[name]} and {origin}); "
                            "rename one of them")
        self._items[name] = obj
        self._origins.setdefault(name, origin)
        return obj


def _origin_of(obj: object) -> str:
    module = getattr(obj, "__module__", None) or type(obj).__module__
    return f"module {module}"
