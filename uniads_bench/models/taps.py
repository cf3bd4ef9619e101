"""What a network exposes to a distiller: logits, pooled penultimate features and per-stage feature maps."""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor


@dataclass(frozen=True)
class Taps:
    """Outputs of one forward pass.

    Attributes:
        logits: (N, classes) pre-softmax scores.
        features: (N, D) pooled penultimate features, the input of the classifier.
        stages: per-stage feature maps (N, C_i, H_i, W_i), shallow to deep; empty when not requested.
    """

    logits: Tensor
    features: Tensor
    stages: tuple[Tensor, ...] = field(default=())


@dataclass(frozen=True)
class TapDims:
    """Shapes a distiller needs to build its projectors before seeing data.

    `stage_sizes` are the (H, W) of each stage map at the model's defined input size (empty when unknown); a
    distiller that regresses one map onto another (FitNet's ConvReg) picks its convolution from their ratio.
    """

    num_classes: int
    feature_dim: int
    stage_channels: tuple[int, ...] = ()
    stage_sizes: tuple[tuple[int, int], ...] = ()
