"""Distillers: the Distiller contract, the registry with its three doors, the in-tree distillers, the UniADS
loss space (transforms, distances, genes) and `logit_loss`."""

from uniads_bench.distill.base import KNOWLEDGE_KINDS, Distiller, Progress
from uniads_bench.distill.registry import (
    ENTRY_POINT_GROUP,
    build_distiller,
    check_contract,
    get_distiller,
    hparam_problems,
    list_distillers,
    register_distiller,
)

# In-tree distillers register themselves on import.
from uniads_bench.distill import at, ce, dist, dkd, fitnet, kd, uniads  # noqa: E402,F401  isort: skip
from uniads_bench.distill.functional import AFTER_WARMUP, logit_loss  # noqa: E402  isort: skip
from uniads_bench.distill.uniads import check_loss_terms  # noqa: E402  isort: skip

__all__ = [
    "AFTER_WARMUP",
    "ENTRY_POINT_GROUP",
    "KNOWLEDGE_KINDS",
    "Distiller",
    "Progress",
    "build_distiller",
    "check_contract",
    "check_loss_terms",
    "get_distiller",
    "hparam_problems",
    "list_distillers",
    "logit_loss",
    "register_distiller",
]
