"""Random streams derived from the run seed; there is no global RNG anywhere in uniads-bench.

Every consumer names its stream, e.g. ``derive_seed(run_seed, "augment", epoch)`` or
``derive_seed(run_seed, "search", method)``, so adding a stream never shifts another one.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch is imported only by the streams that need it: the search layer runs without it
    import torch


def derive_seed(*parts: object) -> int:
    """A 63-bit seed from the given parts (run seed, stream name, candidate id, rung, ...)."""
    text = "\x1f".join(repr(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1


def torch_generator(*parts: object, device: str | torch.device = "cpu") -> torch.Generator:
    """A torch.Generator on `device` seeded from `derive_seed(*parts)`."""
    import torch

    gen = torch.Generator(device=device)
    gen.manual_seed(derive_seed(*parts))
    return gen


def numpy_generator(*parts: object) -> np.random.Generator:
    """A numpy Generator seeded from `derive_seed(*parts)`."""
    return np.random.default_rng(derive_seed(*parts))
