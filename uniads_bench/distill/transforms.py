"""Knowledge transforms T of the UniADS loss: what is applied to a tap before the distance compares it.

The vocabulary is our reconstruction from the same group's released operator libraries (lliai/Auto-DAS
`autodas/primitives/transform.py`, lliai/DetKDS `mmdet/distillation/losses/operations.py`), trimmed to the
operators that make sense for logits and pooled features and widened with the transforms the UniADS paper
reports as frequent (batchnorm, tanh, norm).

Every transform maps a tensor of shape (N, D) or (N, C, H, W) to a tensor of the same shape. Transforms that
normalise do so **per sample over all non-batch dimensions** (a feature map is treated as one vector of
C*H*W values), except `batchnorm`, which normalises each feature (channel) over the batch, as a fresh
`BatchNorm` layer in training mode would. Transforms keep the dtype they are given; the UniADS loss casts taps
to float32 first.

No z-score with the unbiased std (the logit standardisation of Sun et al., CVPR 2024) is offered: it is
`layernorm` scaled by sqrt(D / (D - 1)), so every distance gives it the loss of layernorm or one within that
factor (0.5% at 100 classes), a near-duplicate in the search space.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

Transform = Callable[[Tensor], Tensor]

# Guards divisions by a spread that can be zero (a constant sample); small next to any real spread.
_EPS = 1e-6


def identity(x: Tensor) -> Tensor:
    """Return `x` unchanged."""
    return x


def softmax(x: Tensor) -> Tensor:
    """Probabilities: softmax per sample over all non-batch dimensions."""
    return F.softmax(x.flatten(1), dim=1).view_as(x)


def log_softmax(x: Tensor) -> Tensor:
    """Log-probabilities: log-softmax per sample over all non-batch dimensions."""
    return F.log_softmax(x.flatten(1), dim=1).view_as(x)


def batchnorm(x: Tensor) -> Tensor:
    """A fresh, affine-free BatchNorm with batch statistics: each feature (channel) standardised over the batch.

    Equal to ``F.batch_norm(x, None, None, training=True)`` (biased variance, eps 1e-5), computed directly so
    that a batch of one sample gives zeros instead of the error BatchNorm raises for it.
    """
    dims = [0, *range(2, x.dim())]
    var, mean = torch.var_mean(x, dim=dims, correction=0, keepdim=True)
    return (x - mean) * torch.rsqrt(var + 1e-5)


def layernorm(x: Tensor) -> Tensor:
    """Affine-free LayerNorm per sample over all non-batch dimensions (biased variance, eps 1e-5 inside the root)."""
    return F.layer_norm(x, x.shape[1:])


def l2norm(x: Tensor) -> Tensor:
    """Scale each sample to unit L2 norm over all non-batch dimensions (a zero sample stays zero)."""
    return F.normalize(x.flatten(1), dim=1).view_as(x)


def tanh(x: Tensor) -> Tensor:
    """Element-wise tanh."""
    return torch.tanh(x)


def sigmoid(x: Tensor) -> Tensor:
    """Element-wise logistic sigmoid."""
    return torch.sigmoid(x)


def minmax(x: Tensor) -> Tensor:
    """Rescale each sample to [0, 1] over all non-batch dimensions (a constant sample maps to zeros)."""
    flat = x.flatten(1)
    low = flat.amin(dim=1, keepdim=True)
    high = flat.amax(dim=1, keepdim=True)
    return ((flat - low) / (high - low + _EPS)).view_as(x)


TRANSFORMS: dict[str, Transform] = {
    "identity": identity,
    "softmax": softmax,
    "log_softmax": log_softmax,
    "batchnorm": batchnorm,
    "layernorm": layernorm,
    "l2norm": l2norm,
    "tanh": tanh,
    "sigmoid": sigmoid,
    "minmax": minmax,
}
"""Transform name -> function; the names are the values of the UniADS `transform` gene."""

LOG_DOMAIN: dict[str, str] = {"softmax": "log_softmax"}
"""Transforms whose output is a probability vector, mapped to the transform giving its logarithm.

Distances over distributions read their inputs as logits (see `uniads_bench.distill.distances`). Feeding them
the log of a probability vector makes them compare exactly that probability vector, computed stably even where
the probabilities underflow to zero.
"""
