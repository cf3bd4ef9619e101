"""Helpers shared by the distillers that read per-stage feature maps (FitNet, AT)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from uniads_bench.errors import UserError


class ConvRegressor(nn.Sequential):
    """FitNet's regressor from a student map to a teacher map: conv, BatchNorm, ReLU (mdistiller a08d46f
    `distillers/_common.py` ConvReg, identical to RepDistiller's `models/util.py` ConvReg with `use_relu`).

    The convolution follows the references' rule on the heights: a 3x3 stride-2 conv when the student map is
    twice the teacher's, a 4x4 stride-2 transposed conv when it is half, else a valid conv of kernel
    (1 + dH, 1 + dW), which is 1x1 for equal sizes. Unknown sizes (a plug-in model that reports none) count as
    equal.
    """

    def __init__(self, s_channels: int, t_channels: int, s_size: tuple[int, int] | None,
                 t_size: tuple[int, int] | None) -> None:
        (s_h, s_w), (t_h, t_w) = (s_size, t_size) if s_size and t_size else ((1, 1), (1, 1))
        if s_h == 2 * t_h:
            conv: nn.Module = nn.Conv2d(s_channels, t_channels, kernel_size=3, stride=2, padding=1)
        elif 2 * s_h == t_h:
            conv = nn.ConvTranspose2d(s_channels, t_channels, kernel_size=4, stride=2, padding=1)
        elif s_h >= t_h:
            conv = nn.Conv2d(s_channels, t_channels, kernel_size=(1 + s_h - t_h, 1 + s_w - t_w))
        else:
            raise UserError(f"a FitNet hint cannot regress a {s_h}x{s_w} student map onto a {t_h}x{t_w} teacher map "
                            "(the references support only equal, double or half sizes and larger student maps)")
        super().__init__(conv, nn.BatchNorm2d(t_channels), nn.ReLU())


def match_spatial(student: Tensor, teacher: Tensor) -> tuple[Tensor, Tensor]:
    """Average-pool the larger of two (N, C, H, W) maps to the other's spatial size (RepDistiller's rule)."""
    s_size, t_size = student.shape[-2:], teacher.shape[-2:]
    if s_size == t_size:
        return student, teacher
    if s_size[0] * s_size[1] > t_size[0] * t_size[1]:
        return F.adaptive_avg_pool2d(student, t_size), teacher
    return student, F.adaptive_avg_pool2d(teacher, s_size)
