"""The split protocol: a validation split held out from train by a fixed seed, stratified by class.

Search decisions see only train/validation; the test split is touched once per final candidate.
"""

from __future__ import annotations

import numpy as np

from uniads_bench.rng import numpy_generator


def holdout_split(labels: np.ndarray, val_count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, val) with `val_count` validation samples spread over classes in proportion.

    The same labels, count and seed always give the same split; both index arrays are sorted.
    """
    if not 0 < val_count < len(labels):
        raise ValueError(f"validation count {val_count} must be between 1 and {len(labels) - 1}")
    rng = numpy_generator(seed, "holdout-split")
    classes, counts = np.unique(labels, return_counts=True)
    quota = np.floor(counts * val_count / len(labels)).astype(int)
    # Hand out the remainder to the classes with the largest fractional share, ties by class order.
    remainder = val_count - quota.sum()
    frac = counts * val_count / len(labels) - quota
    quota[np.argsort(-frac, kind="stable")[:remainder]] += 1
    val_parts = []
    for cls, q in zip(classes, quota, strict=True):
        members = np.flatnonzero(labels == cls)
        val_parts.append(rng.choice(members, size=q, replace=False))
    val = np.sort(np.concatenate(val_parts))
    train = np.setdiff1d(np.arange(len(labels)), val, assume_unique=True)
    return train, val
