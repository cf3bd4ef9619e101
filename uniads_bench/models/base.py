"""`TappedModel`: the one interface every network of the suite offers to the engine and the distillers.

A tapped model runs as a stem, a sequence of stages and a head (global average pool, then the classifier), so
a single `forward_taps` can hand out logits, the pooled penultimate features and the per-stage maps without
hooks or edits to the network. Subclasses only say what their stem, stages and classifier are; module names
stay those of the published definitions, so published checkpoints load with `load_state_dict`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TypeVar

import torch
from torch import Tensor, nn

from uniads_bench.models.taps import TapDims, Taps

Stage = Callable[[Tensor], Tensor]
M = TypeVar("M", bound=nn.Module)


class TappedModel(nn.Module):
    """A classifier that exposes logits, pooled features and per-stage feature maps.

    Stage maps are the outputs of each stage as the next stage receives them (after the stage's last
    activation where the architecture has one), shallow to deep; what a stage is, is documented by each
    model. Features are the global average of the last map that the head produces, i.e. the classifier input.

    Subclasses implement `_stem`, `_stages` and `_classify`, may override `_pre_pool` (a head convolution
    applied after the last stage and before pooling), and call `_set_tap_dims` in `__init__`.

    Attributes:
        input_size: (C, H, W) the model is defined for; used for FLOP counting and the zoo table.
    """

    input_size: tuple[int, int, int] = (3, 32, 32)

    def forward(self, x: Tensor) -> Tensor:
        """Logits only: the plain `nn.Module` contract."""
        return self.forward_taps(x).logits

    def forward_taps(self, x: Tensor, stages: bool = False) -> Taps:
        """One forward pass returning every tap.

        Args:
            x: (N, C, H, W) input batch.
            stages: also return the per-stage maps; off by default so that no extra references are kept.

        Returns:
            `Taps` with logits, pooled features and, if asked, the stage maps.
        """
        x = self._stem(x)
        maps: list[Tensor] = []
        for stage in self._stages():
            x = stage(x)
            if stages:
                maps.append(x)
        features = self._pre_pool(x).mean(dim=(2, 3))
        return Taps(logits=self._classify(features), features=features, stages=tuple(maps))

    def tap_dims(self) -> TapDims:
        """Logit, feature and stage-channel sizes, and the stage maps' spatial sizes at `input_size` (found by
        one forward pass of a zero batch in eval mode the first time, then kept)."""
        if len(self._tap_dims.stage_sizes) != len(self._tap_dims.stage_channels):
            self._tap_dims = dataclasses.replace(self._tap_dims, stage_sizes=self._probe_stage_sizes())
        return self._tap_dims

    def _probe_stage_sizes(self) -> tuple[tuple[int, int], ...]:
        was_training = self.training
        parameter = next(self.parameters())
        self.eval()
        try:
            with torch.no_grad():
                probe = torch.zeros(1, *self.input_size, device=parameter.device, dtype=parameter.dtype)
                stages = self.forward_taps(probe, stages=True).stages
        finally:
            self.train(was_training)
        return tuple((int(m.shape[2]), int(m.shape[3])) for m in stages)

    def _set_tap_dims(self, num_classes: int, feature_dim: int, stage_channels: Sequence[int]) -> None:
        self._tap_dims = TapDims(num_classes, feature_dim, tuple(stage_channels))

    def _stem(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def _stages(self) -> Sequence[Stage]:
        raise NotImplementedError

    def _pre_pool(self, x: Tensor) -> Tensor:
        return x

    def _classify(self, features: Tensor) -> Tensor:
        raise NotImplementedError


def chain(*steps: Stage) -> Stage:
    """Compose stage steps left to right (a stage made of several existing submodules)."""

    def run(x: Tensor) -> Tensor:
        for step in steps:
            x = step(x)
        return x

    return run


def build_seeded(build: Callable[[], M], seed: int | None) -> M:
    """Call `build`, drawing its initial weights from `seed` when given, without touching the global RNG.

    torch initialises parameters from its default CPU generator; forking it makes the weights a function
    of `seed` alone and leaves every other random stream of the process where it was.
    """
    if seed is None:
        return build()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()
