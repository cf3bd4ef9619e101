"""Helpers shared by the distillers that read per-stage feature maps (FitNet, AT)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def match_spatial(student: Tensor, teacher: Tensor) -> tuple[Tensor, Tensor]:
    """Average-pool the larger of two (N, C, H, W) maps to the other's spatial size (RepDistiller's rule)."""
    s_size, t_size = student.shape[-2:], teacher.shape[-2:]
    if s_size == t_size:
        return student, teacher
    if s_size[0] * s_size[1] > t_size[0] * t_size[1]:
        return F.adaptive_avg_pool2d(student, t_size), teacher
    return student, F.adaptive_avg_pool2d(teacher, s_size)
