"""Parametric student families: the architecture half of a track's search space.

Each family is configured by a frozen dataclass (`ResNetFamilyConfig`, ...): its fields are the option lists
a track may tune and the reference student's genes; `genes` gives the options as data (`FamilyGene`), and
`build(genes, num_classes)` turns one assignment into a model. `family()` packs a configuration into the
`StudentFamily` of `models.family`, which the search space consumes; the built-in ones are registered here
(`family.get_family(name)`). Each reference rebuilds its track's reference student exactly (same modules,
same parameter count as the zoo model named by `reference_model`), so every method can reach it. Variants
are `dataclasses.replace(config, ...)` away (e.g. a WRN family whose reference is wrn_40_1).

The option lists are ours (the UniADS paper does not publish its space). The CIFAR ResNet depths
{1, 3, 5, 7} per stage are DisWOT's S1 space, for which a published ground truth exists.

Example:
    >>> config = CONFIGS["cifar_resnet"]
    >>> [g.name for g in config.genes]
    ['depth1', 'depth2', 'depth3', 'width1', 'width2', 'width3']
    >>> model = config.build(config.reference_genes, num_classes=100)  # resnet20
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from torchvision.models.resnet import BasicBlock

from uniads_bench.errors import UserError
from uniads_bench.models.base import TappedModel
from uniads_bench.models.cifar.mobilenetv2 import REPEATS as MBV2_REPEATS
from uniads_bench.models.cifar.mobilenetv2 import MobileNetV2
from uniads_bench.models.cifar.resnet import build_resnet
from uniads_bench.models.cifar.shufflenetv2 import WIDTHS as SHUFFLEV2_WIDTHS
from uniads_bench.models.cifar.shufflenetv2 import ShuffleNetV2
from uniads_bench.models.cifar.vgg import scaled_vgg
from uniads_bench.models.cifar.wrn import WideResNet
from uniads_bench.models.family import FamilyGene, StudentFamily, register_family
from uniads_bench.models.imagenet import MobileNetV1

GeneValue = int | float


def _indexed(prefix: str, options: tuple[tuple[GeneValue, ...], ...]) -> tuple[FamilyGene, ...]:
    return tuple(FamilyGene(f"{prefix}{i}", opts) for i, opts in enumerate(options, start=1))


def _named(prefix: str, values: tuple[GeneValue, ...]) -> dict[str, GeneValue]:
    return {f"{prefix}{i}": v for i, v in enumerate(values, start=1)}


@dataclass(frozen=True)
class FamilyConfig:
    """Base of the family configurations; subclasses add option fields and implement `genes`,
    `reference_genes` and `_build`.

    Attributes:
        name: the key the family is registered under (`family.get_family(name)`).
        reference_model: the zoo name of the reference student that `reference_genes` rebuild.
    """

    name: str = ""
    reference_model: str = ""

    @property
    def genes(self) -> tuple[FamilyGene, ...]:
        """The genes, in a fixed order, options in increasing order of model size."""
        raise NotImplementedError

    @property
    def reference_genes(self) -> dict[str, GeneValue]:
        """The genes of the reference student."""
        raise NotImplementedError

    def family(self) -> StudentFamily:
        """This configuration as the `StudentFamily` that the search space consumes."""
        return StudentFamily(name=self.name, genes=self.genes, reference=self.reference_genes, builder=self.build)

    def validate(self, genes: Mapping[str, Any]) -> dict[str, GeneValue]:
        """Check an assignment and return it normalised (each value replaced by its option, e.g. 3.0 -> 3).

        Raises:
            UserError: listing every missing gene, unknown gene and value outside its options.
        """
        declared = {g.name: g for g in self.genes}
        problems = [f"missing gene {n!r} (options {g.options})" for n, g in declared.items() if n not in genes]
        out: dict[str, GeneValue] = {}
        for key, value in genes.items():
            gene = declared.get(key)
            if gene is None:
                near = difflib.get_close_matches(key, declared, n=1)
                problems.append(f"unknown gene {key!r}" + (f" (did you mean {near[0]!r}?)" if near else ""))
            elif isinstance(value, bool) or value not in gene.options:
                problems.append(f"gene {key!r} = {value!r} is not one of {gene.options}")
            else:
                out[key] = gene.options[gene.options.index(value)]
        if problems:
            raise UserError(f"invalid architecture for family {self.name!r}", problems)
        return out

    def build(self, genes: Mapping[str, Any], num_classes: int) -> TappedModel:
        """Build the model of one gene assignment (weights from torch's default generator; see
        `base.build_seeded` for seeded weights).

        Raises:
            UserError: the assignment is invalid (see `validate`).
        """
        return self._build(self.validate(genes), num_classes)

    def _build(self, genes: dict[str, GeneValue], num_classes: int) -> TappedModel:
        raise NotImplementedError


@dataclass(frozen=True)
class ResNetFamilyConfig(FamilyConfig):
    """Basic-block ResNets with per-stage depth (`depth1..K`) and width (`width1..K`) genes.

    The stem width is fixed per family (it is not a gene): 16 for resnet20-like, 32 for the x4 models, 64
    for the ImageNet ResNet18.
    """

    depth_options: tuple[tuple[int, ...], ...] = ((1, 3, 5, 7),) * 3
    width_options: tuple[tuple[int, ...], ...] = ((8, 16, 24, 32), (16, 32, 48, 64), (32, 64, 96, 128))
    reference_depths: tuple[int, ...] = (3, 3, 3)
    reference_widths: tuple[int, ...] = (16, 32, 64)
    stem_width: int = 16
    imagenet_stem: bool = False

    def __post_init__(self) -> None:
        if len(self.depth_options) != len(self.width_options):
            raise ValueError(f"{self.name}: depth and width options must cover the same stages")

    @property
    def genes(self) -> tuple[FamilyGene, ...]:
        return _indexed("depth", self.depth_options) + _indexed("width", self.width_options)

    @property
    def reference_genes(self) -> dict[str, GeneValue]:
        return _named("depth", self.reference_depths) | _named("width", self.reference_widths)

    def _build(self, genes: dict[str, GeneValue], num_classes: int) -> TappedModel:
        stages = range(1, len(self.depth_options) + 1)
        depths = [int(genes[f"depth{i}"]) for i in stages]
        widths = [int(genes[f"width{i}"]) for i in stages]
        return build_resnet(BasicBlock, depths, widths, self.stem_width, num_classes, self.imagenet_stem)


@dataclass(frozen=True)
class WRNFamilyConfig(FamilyConfig):
    """Wide ResNets: `depth` (6n + 4) and `widen` (k) genes."""

    depth_options: tuple[int, ...] = (10, 16, 22, 28, 40)
    widen_options: tuple[int, ...] = (1, 2, 3, 4)
    reference_depth: int = 16
    reference_widen: int = 2

    @property
    def genes(self) -> tuple[FamilyGene, ...]:
        return (FamilyGene("depth", self.depth_options), FamilyGene("widen", self.widen_options))

    @property
    def reference_genes(self) -> dict[str, GeneValue]:
        return {"depth": self.reference_depth, "widen": self.reference_widen}

    def _build(self, genes: dict[str, GeneValue], num_classes: int) -> TappedModel:
        return WideResNet(int(genes["depth"]), int(genes["widen"]), num_classes)


@dataclass(frozen=True)
class MobileNetV2FamilyConfig(FamilyConfig):
    """CIFAR MobileNetV2: `width` multiplier, `expansion` ratio and `repeats1..5`, the block counts of the
    five middle groups (24, 32, 64, 96, 160 channels at width 1); the first and last groups keep one block."""

    width_options: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0)
    expansion_options: tuple[int, ...] = (2, 3, 4, 6)
    repeat_options: tuple[tuple[int, ...], ...] = ((1, 2, 3), (1, 2, 3, 4), (1, 2, 3, 4, 5), (1, 2, 3, 4), (1, 2, 3, 4))
    reference_width: float = 0.5
    reference_expansion: int = 6
    reference_repeats: tuple[int, ...] = MBV2_REPEATS[1:-1]

    @property
    def genes(self) -> tuple[FamilyGene, ...]:
        head = (FamilyGene("width", self.width_options), FamilyGene("expansion", self.expansion_options))
        return head + _indexed("repeats", self.repeat_options)

    @property
    def reference_genes(self) -> dict[str, GeneValue]:
        head = {"width": self.reference_width, "expansion": self.reference_expansion}
        return head | _named("repeats", self.reference_repeats)

    def _build(self, genes: dict[str, GeneValue], num_classes: int) -> TappedModel:
        middle = [int(genes[f"repeats{i}"]) for i in range(1, len(self.repeat_options) + 1)]
        return MobileNetV2(int(genes["expansion"]), float(genes["width"]), [1, *middle, 1], num_classes)


@dataclass(frozen=True)
class ShuffleNetV2FamilyConfig(FamilyConfig):
    """CIFAR ShuffleNetV2: `width` (a row of the published width table) and `repeats1..3`, the basic units
    per stage after its downsampling unit."""

    width_options: tuple[float, ...] = tuple(SHUFFLEV2_WIDTHS)
    repeat_options: tuple[tuple[int, ...], ...] = ((1, 2, 3, 4, 5), (3, 5, 7, 9), (1, 2, 3, 4, 5))
    reference_width: float = 1.0
    reference_repeats: tuple[int, ...] = (3, 7, 3)

    @property
    def genes(self) -> tuple[FamilyGene, ...]:
        return (FamilyGene("width", self.width_options),) + _indexed("repeats", self.repeat_options)

    @property
    def reference_genes(self) -> dict[str, GeneValue]:
        return {"width": self.reference_width} | _named("repeats", self.reference_repeats)

    def _build(self, genes: dict[str, GeneValue], num_classes: int) -> TappedModel:
        repeats = [int(genes[f"repeats{i}"]) for i in range(1, len(self.repeat_options) + 1)]
        return ShuffleNetV2(float(genes["width"]), repeats, num_classes)


@dataclass(frozen=True)
class VGGFamilyConfig(FamilyConfig):
    """CIFAR VGG-BN: `width` multiplier of the vgg8 widths and `convs1..5`, the convolutions per block."""

    width_options: tuple[float, ...] = (0.5, 0.75, 1.0, 1.25)
    conv_options: tuple[tuple[int, ...], ...] = ((1, 2),) * 5
    reference_width: float = 1.0
    reference_convs: tuple[int, ...] = (1, 1, 1, 1, 1)

    @property
    def genes(self) -> tuple[FamilyGene, ...]:
        return (FamilyGene("width", self.width_options), *_indexed("convs", self.conv_options))

    @property
    def reference_genes(self) -> dict[str, GeneValue]:
        return {"width": self.reference_width} | _named("convs", self.reference_convs)

    def _build(self, genes: dict[str, GeneValue], num_classes: int) -> TappedModel:
        convs = [int(genes[f"convs{i}"]) for i in range(1, len(self.conv_options) + 1)]
        return scaled_vgg(convs, float(genes["width"]), num_classes)


@dataclass(frozen=True)
class MobileNetV1FamilyConfig(FamilyConfig):
    """ImageNet MobileNetV1: one `width` multiplier over every layer (channels rounded to multiples of 8)."""

    width_options: tuple[float, ...] = (0.5, 0.75, 1.0, 1.25)
    reference_width: float = 1.0

    @property
    def genes(self) -> tuple[FamilyGene, ...]:
        return (FamilyGene("width", self.width_options),)

    @property
    def reference_genes(self) -> dict[str, GeneValue]:
        return {"width": self.reference_width}

    def _build(self, genes: dict[str, GeneValue], num_classes: int) -> TappedModel:
        return MobileNetV1(num_classes, width=float(genes["width"]))


CONFIGS: dict[str, FamilyConfig] = {
    config.name: config
    for config in (
        ResNetFamilyConfig(name="cifar_resnet", reference_model="resnet20"),
        ResNetFamilyConfig(
            name="cifar_resnet_x4",
            reference_model="resnet8x4",
            depth_options=((1, 2, 3, 4),) * 3,
            width_options=((32, 48, 64, 96), (64, 96, 128, 192), (128, 192, 256, 384)),
            reference_depths=(1, 1, 1),
            reference_widths=(64, 128, 256),
            stem_width=32,
        ),
        WRNFamilyConfig(name="wrn", reference_model="wrn_16_2"),
        MobileNetV2FamilyConfig(name="mobilenetv2", reference_model="mobilenetv2"),
        ShuffleNetV2FamilyConfig(name="shufflenetv2", reference_model="shufflenetv2"),
        VGGFamilyConfig(name="vgg", reference_model="vgg8"),
        MobileNetV1FamilyConfig(name="imagenet_mobilenet_v1", reference_model="mobilenet_v1"),
        ResNetFamilyConfig(
            name="imagenet_resnet",
            reference_model="resnet18",
            depth_options=((1, 2, 3),) * 4,
            width_options=((32, 48, 64, 96), (64, 96, 128, 192), (128, 192, 256, 384), (256, 384, 512, 768)),
            reference_depths=(2, 2, 2, 2),
            reference_widths=(64, 128, 256, 512),
            stem_width=64,
            imagenet_stem=True,
        ),
    )
}

FAMILIES: dict[str, StudentFamily] = {name: register_family(config.family()) for name, config in CONFIGS.items()}
