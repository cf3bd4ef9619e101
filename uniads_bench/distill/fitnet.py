"""FitNet: the student regresses one intermediate teacher feature map ("hint") through a learned adapter.

Source: Romero, Ballas, Kahou, Chassang, Gatta, Bengio, "FitNets: Hints for Thin Deep Nets", ICLR 2015;
defaults from mdistiller a08d46f `mdistiller/distillers/FitNet.py` and `engine/cfg.py` (CFG.FITNET: hint layer 2
of [stem, stage 1, stage 2, ...], CE weight 1, feature weight 100), as RepDistiller runs it (`-r 1 -a 0 -b 100`).
The adapter is the references' ConvReg (`stages.ConvRegressor`: conv + BatchNorm + ReLU, the conv chosen by the
maps' sizes, 1x1 for equal sizes), and the loss is the plain MSE of its output against the teacher map.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from uniads_bench.distill.base import Distiller, Progress
from uniads_bench.distill.registry import register_distiller
from uniads_bench.distill.stages import ConvRegressor, match_spatial
from uniads_bench.errors import UserError
from uniads_bench.models.taps import TapDims, Taps


@register_distiller("fitnet")
class FitNet(Distiller):
    """`ce_weight * CE + hint_weight * MSE(adapter(S_stage), T_stage)`; terms "ce", "hint".

    Args:
        student: the student's tap shapes; `stage_channels` must be given.
        teacher: the teacher's tap shapes; `stage_channels` must be given.
        stage: index into the stage maps (shallow to deep) of the hint; 1 is mdistiller's hint layer 2.
        hint_weight: weight of the hint loss (100).
        ce_weight: cross-entropy weight (1).

    Raises:
        UserError: when either network has no stage `stage`.
    """

    needs = frozenset({"stages"})

    def __init__(
        self,
        student: TapDims,
        teacher: TapDims,
        *,
        stage: int = 1,
        hint_weight: float = 100.0,
        ce_weight: float = 1.0,
    ) -> None:
        super().__init__(student, teacher)
        for role, dims in (("student", student), ("teacher", teacher)):
            if not -len(dims.stage_channels) <= stage < len(dims.stage_channels):
                raise UserError(f"fitnet stage {stage} does not exist: the {role} has stages {dims.stage_channels}")
        self.stage = stage
        self.hint_weight = float(hint_weight)
        self.ce_weight = float(ce_weight)
        self.adapter = ConvRegressor(student.stage_channels[stage], teacher.stage_channels[stage],
                                     _size(student, stage), _size(teacher, stage))

    def forward(self, student: Taps, teacher: Taps | None, target: Tensor, progress: Progress) -> dict[str, Tensor]:
        assert teacher is not None
        # The regressor makes the sizes equal whenever both models report them; pooling covers plug-in models.
        hint, target_map = match_spatial(self.adapter(student.stages[self.stage].float()), teacher.stages[self.stage])
        return {
            "ce": self.ce_weight * F.cross_entropy(student.logits.float(), target),
            "hint": self.hint_weight * F.mse_loss(hint, target_map.float()),
        }


def _size(dims: TapDims, stage: int) -> tuple[int, int] | None:
    return dims.stage_sizes[stage] if dims.stage_sizes else None
