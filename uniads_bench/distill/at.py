"""Attention transfer (AT): match the normalised spatial attention maps of the stages.

Source: Zagoruyko, Komodakis, "Paying More Attention to Attention: Improving the Performance of Convolutional
Neural Networks via Attention Transfer", ICLR 2017; loss and defaults as in HobbitLong/RepDistiller b84f547c
`distiller_zoo/AT.py` and `train_student.py` (p 2, beta 1000, CE weight 1, stages paired shallow to deep).

The attention map of a (N, C, H, W) stage is mean_c(F^p), flattened and L2-normalised per sample; the loss of a
stage pair is the mean squared difference of the two maps (after pooling the larger map to the smaller size),
summed over the stage pairs.

Which maps are the stages is the model's business (`uniads_bench.models`), chosen so the pairs are the
references': every stage after the stem, i.e. mdistiller's and RepDistiller's `feats[1:]`. On VGG that is blocks
1 to 4 (four pairs; block 0 is the stem); on WRN the last map is block3's output before the final bn1 + ReLU.
One decision departs from a reference: mdistiller's ImageNet MobileNetV1 lists no stem map, so its `feats[1:]`
would pair ResNet-50's 56 px layer1 with a 28 px map; our MobileNetV1 stages end at 56, 28, 14 and 7 px, so maps
of equal resolution are paired (`tests/golden/test_feature_distillers_reference.py`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from uniads_bench.distill.base import Distiller, Progress
from uniads_bench.distill.registry import register_distiller
from uniads_bench.distill.stages import match_spatial
from uniads_bench.models.taps import TapDims, Taps


def attention_map(stage: Tensor, p: float) -> Tensor:
    """(N, H*W) attention of a stage map: the channel mean of F^p, L2-normalised per sample.

    F^p, not |F|^p as in the paper, following RepDistiller; the two agree for the even default p and for the
    non-negative (post-ReLU) maps that stages usually are.
    """
    return F.normalize(stage.float().pow(p).mean(dim=1).flatten(1), dim=1)


@register_distiller("at")
class AT(Distiller):
    """`ce_weight * CE + beta * sum_stages mean((A_S - A_T)^2)`; terms "ce", "at".

    Stage pairs are formed shallow to deep; a network with more stages has its deepest extra stages ignored,
    as RepDistiller's zip does.

    Args:
        student: the student's tap shapes.
        teacher: the teacher's tap shapes.
        p: the power of the activations in the attention map (2).
        beta: weight of the summed attention losses (1000).
        ce_weight: cross-entropy weight (1).
    """

    needs = frozenset({"stages"})

    def __init__(
        self,
        student: TapDims,
        teacher: TapDims,
        *,
        p: float = 2.0,
        beta: float = 1000.0,
        ce_weight: float = 1.0,
    ) -> None:
        super().__init__(student, teacher)
        self.p = float(p)
        self.beta = float(beta)
        self.ce_weight = float(ce_weight)

    def forward(self, student: Taps, teacher: Taps | None, target: Tensor, progress: Progress) -> dict[str, Tensor]:
        assert teacher is not None
        at_loss = student.logits.new_zeros((), dtype=torch.float32)
        for s_map, t_map in zip(student.stages, teacher.stages, strict=False):
            s_map, t_map = match_spatial(s_map, t_map)
            at_loss = at_loss + (attention_map(s_map, self.p) - attention_map(t_map, self.p)).pow(2).mean()
        return {"ce": self.ce_weight * F.cross_entropy(student.logits.float(), target), "at": self.beta * at_loss}
