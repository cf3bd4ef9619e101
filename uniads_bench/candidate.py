"""A candidate: one point of a track's joint space, frozen, hashable and JSON-serialisable."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any


def _frozen(mapping: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((str(k), _plain(v)) for k, v in mapping.items()))


def _plain(value: Any) -> Any:
    """numpy scalars (as pymoo returns them) become Python scalars, so hashes and JSON are stable."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return value.item()
    return value


@dataclass(frozen=True)
class Candidate:
    """A student architecture plus a distiller with its hyperparameters.

    Attributes:
        arch: architecture genes of the track's student family.
        distiller: a registered distiller name or a ``FILE.py:CLASS`` spec.
        hparams: the distiller's hyperparameters (its genes, for searched distillers).
        optim: optimisation genes applied to the track's recipe (``lr_mult``, ``weight_decay``).
    """

    arch: tuple[tuple[str, Any], ...]
    distiller: str
    hparams: tuple[tuple[str, Any], ...] = ()
    optim: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def make(
        cls,
        arch: Mapping[str, Any],
        distiller: str,
        hparams: Mapping[str, Any] | None = None,
        optim: Mapping[str, Any] | None = None,
    ) -> Candidate:
        return cls(_frozen(arch), distiller, _frozen(hparams or {}), _frozen(optim or {}))

    @property
    def arch_dict(self) -> dict[str, Any]:
        return dict(self.arch)

    @property
    def hparams_dict(self) -> dict[str, Any]:
        return dict(self.hparams)

    @property
    def optim_dict(self) -> dict[str, Any]:
        return dict(self.optim)

    def to_json(self) -> dict[str, Any]:
        data = {"arch": self.arch_dict, "distiller": self.distiller, "hparams": self.hparams_dict}
        if self.optim:
            data["optim"] = self.optim_dict
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Candidate:
        return cls.make(data["arch"], data["distiller"], data.get("hparams", {}), data.get("optim", {}))

    @cached_property
    def id(self) -> str:
        """A short content hash: the same genes always give the same id."""
        text = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def describe(self) -> str:
        """One line for progress output: genes as key=value."""
        genes = [f"{k}={v}" for k, v in self.arch + self.hparams + self.optim]
        return f"{self.distiller}[{' '.join(genes)}]"
