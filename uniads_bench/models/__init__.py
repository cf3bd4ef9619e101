"""Networks of the suite: the CIFAR and ImageNet zoo, the parametric student families, and size counting.

Every model is a `TappedModel`: `model(x)` gives logits, `model.forward_taps(x, stages=True)` gives logits,
pooled penultimate features and per-stage maps, and `model.tap_dims()` their sizes.

The public names below are imported on first use (PEP 562), so that importing a light submodule such as
`models.taps` does not pull in torchvision and the whole zoo.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from uniads_bench.models.base import TappedModel, build_seeded
    from uniads_bench.models.counting import count_flops, count_params
    from uniads_bench.models.families import CONFIGS, FamilyConfig
    from uniads_bench.models.family import FamilyGene, StudentFamily, get_family, known_families
    from uniads_bench.models.taps import TapDims, Taps
    from uniads_bench.models.zoo import ZOO, ZooEntry, build_model, get_entry, zoo_table

_EXPORTS: dict[str, str] = {
    "TappedModel": "base",
    "build_seeded": "base",
    "count_flops": "counting",
    "count_params": "counting",
    "CONFIGS": "families",
    "FamilyConfig": "families",
    "FamilyGene": "family",
    "StudentFamily": "family",
    "get_family": "family",
    "known_families": "family",
    "TapDims": "taps",
    "Taps": "taps",
    "ZOO": "zoo",
    "ZooEntry": "zoo",
    "build_model": "zoo",
    "get_entry": "zoo",
    "zoo_table": "zoo",
}

__all__ = [
    "CONFIGS",
    "FamilyConfig",
    "FamilyGene",
    "StudentFamily",
    "TapDims",
    "TappedModel",
    "Taps",
    "ZOO",
    "ZooEntry",
    "build_model",
    "build_seeded",
    "count_flops",
    "count_params",
    "get_entry",
    "get_family",
    "known_families",
    "zoo_table",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
