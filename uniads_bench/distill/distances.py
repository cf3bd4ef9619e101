"""Distances D of the UniADS loss: how a transformed student tap is compared with the teacher's.

Vocabulary reconstructed from lliai/Auto-DAS `autodas/primitives/distance.py` and the DetKDS `_DIS_FUNC` table
(l1, l2, kl, smooth_l1, cos, pear), plus reverse KL and Jensen-Shannon.

Every distance takes the student's and the teacher's transformed taps, both (N, ...) with the batch first, and
returns a scalar averaged over the batch. Inputs are flattened per sample and computed in float32 whatever dtype
arrives (bf16 under autocast), so every distance is defined for every transform's output:

- Element-wise distances (l2, l1, smooth_l1) average over all elements.
- Row distances (cosine, pearson) compare each sample's flattened vector and average over the batch.
- Distribution distances (kl, reverse_kl, js) sum over the sample's entries and average over the batch
  ("batchmean", as in Hinton KD). They **read their inputs as logits**: each sample is normalised with
  log-softmax, so any real-valued tensor becomes a distribution. Log-softmax is idempotent, hence identity and
  log_softmax inputs give the same distribution softmax(x); a probability vector must be passed as its log
  (`transforms.LOG_DOMAIN`), which the UniADS loss does for the softmax transform.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

Distance = Callable[[Tensor, Tensor], Tensor]

# DIST's eps (hunto/image_classification_sota `dist_kd.py`): added to the product of norms, so a constant or
# zero row has correlation 0 and a finite gradient.
_COSINE_EPS = 1e-8


def _rows(x: Tensor) -> Tensor:
    return x.float().flatten(1)


def _log_probs(x: Tensor) -> Tensor:
    return F.log_softmax(_rows(x), dim=1)


def _kl_from_log_probs(log_p: Tensor, log_q: Tensor) -> Tensor:
    """KL(p || q) summed over entries, averaged over the batch."""
    return F.kl_div(log_q, log_p, reduction="batchmean", log_target=True)


def kl(student: Tensor, teacher: Tensor) -> Tensor:
    """Forward KL(P_teacher || P_student), the Hinton KD direction."""
    return _kl_from_log_probs(_log_probs(teacher), _log_probs(student))


def reverse_kl(student: Tensor, teacher: Tensor) -> Tensor:
    """Reverse KL(P_student || P_teacher): mode-seeking."""
    return _kl_from_log_probs(_log_probs(student), _log_probs(teacher))


def js(student: Tensor, teacher: Tensor) -> Tensor:
    """Jensen-Shannon divergence: the mean KL of both distributions to their mixture M (bounded by log 2)."""
    log_s, log_t = _log_probs(student), _log_probs(teacher)
    log_m = torch.logsumexp(torch.stack([log_s, log_t]), dim=0) - math.log(2.0)
    return 0.5 * (_kl_from_log_probs(log_s, log_m) + _kl_from_log_probs(log_t, log_m))


def l2(student: Tensor, teacher: Tensor) -> Tensor:
    """Mean squared error over all elements."""
    return F.mse_loss(_rows(student), _rows(teacher))


def l1(student: Tensor, teacher: Tensor) -> Tensor:
    """Mean absolute error over all elements."""
    return F.l1_loss(_rows(student), _rows(teacher))


def smooth_l1(student: Tensor, teacher: Tensor) -> Tensor:
    """Huber loss with beta 1 (quadratic below 1, linear above), averaged over all elements."""
    return F.smooth_l1_loss(_rows(student), _rows(teacher), beta=1.0)


def cosine_similarity(a: Tensor, b: Tensor, eps: float = _COSINE_EPS) -> Tensor:
    """Per-row cosine similarity of two (N, D) tensors: a.b / (|a| |b| + eps)."""
    return (a * b).sum(dim=1) / (a.norm(dim=1) * b.norm(dim=1) + eps)


def pearson_correlation(a: Tensor, b: Tensor, eps: float = _COSINE_EPS) -> Tensor:
    """Per-row Pearson correlation of two (N, D) tensors: the cosine similarity of the centred rows."""
    return cosine_similarity(a - a.mean(dim=1, keepdim=True), b - b.mean(dim=1, keepdim=True), eps)


def cosine(student: Tensor, teacher: Tensor) -> Tensor:
    """1 - cosine similarity per sample, averaged over the batch."""
    return 1.0 - cosine_similarity(_rows(student), _rows(teacher)).mean()


def pearson(student: Tensor, teacher: Tensor) -> Tensor:
    """1 - Pearson correlation per sample, averaged over the batch (DIST's inter-class relation)."""
    return 1.0 - pearson_correlation(_rows(student), _rows(teacher)).mean()


DISTANCES: dict[str, Distance] = {
    "kl": kl,
    "reverse_kl": reverse_kl,
    "js": js,
    "l2": l2,
    "l1": l1,
    "smooth_l1": smooth_l1,
    "cosine": cosine,
    "pearson": pearson,
}
"""Distance name -> function; the names are the values of the UniADS `distance` gene."""

DISTRIBUTION_DISTANCES = frozenset({"kl", "reverse_kl", "js"})
"""Distances that read their inputs as logits and compare the distributions they define."""
