"""The model zoo: every named network a suite may use as a teacher or a fixed student.

Names are lowercase and stable; `mobilenetv2` is the CIFAR `mobile_half` of the KD tables, and the CIFAR
ResNet50 is `resnet50_cifar` so that it can never be confused with torchvision's `resnet50`.

Example:
    >>> model = build_model("resnet8x4", num_classes=100, seed=0)
    >>> model.forward_taps(torch.zeros(2, 3, 32, 32), stages=True).features.shape
    torch.Size([2, 256])
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

import torch

from uniads_bench.errors import UserError
from uniads_bench.models.base import TappedModel, build_seeded
from uniads_bench.models.cifar.mobilenetv2 import mobile_half
from uniads_bench.models.cifar.resnet import resnet, resnet_x4
from uniads_bench.models.cifar.resnet_imagenet_style import resnet50_cifar
from uniads_bench.models.cifar.shufflenetv1 import shufflenetv1
from uniads_bench.models.cifar.shufflenetv2 import shufflenetv2
from uniads_bench.models.cifar.vgg import vgg
from uniads_bench.models.cifar.wrn import wrn
from uniads_bench.models.counting import count_flops, count_params
from uniads_bench.models.imagenet import MobileNetV1, TorchvisionMobileNetV2, torchvision_resnet

ZooDataset = Literal["cifar", "imagenet"]
DEFAULT_CLASSES: dict[str, int] = {"cifar": 100, "imagenet": 1000}
# Dataset names the CLI and suites use -> (zoo dataset, number of classes).
DATASET_NAMES: dict[str, tuple[ZooDataset, int]] = {
    "cifar": ("cifar", 100),
    "cifar10": ("cifar", 10),
    "cifar100": ("cifar", 100),
    "imagenet": ("imagenet", 1000),
}
ALIASES: dict[str, str] = {"mobile_half": "mobilenetv2", "shufflev1": "shufflenetv1", "shufflev2": "shufflenetv2"}


@dataclass(frozen=True)
class ZooEntry:
    """One named network.

    Attributes:
        name: the zoo key.
        dataset: "cifar" (32 px) or "imagenet" (224 px).
        builder: `builder(num_classes)` returns a freshly initialised model.
        input_size: (C, H, W) the model is defined for.
    """

    name: str
    dataset: ZooDataset
    builder: Callable[[int], TappedModel]
    input_size: tuple[int, int, int]


def _entries() -> dict[str, ZooEntry]:
    cifar: dict[str, Callable[[int], TappedModel]] = {
        **{f"resnet{d}": partial(resnet, d) for d in (8, 14, 20, 32, 44, 56, 110)},
        "resnet8x4": partial(resnet_x4, 8),
        "resnet32x4": partial(resnet_x4, 32),
        **{f"wrn_{d}_{k}": partial(wrn, d, k) for d, k in ((16, 1), (16, 2), (40, 1), (40, 2))},
        "vgg8": partial(vgg, "vgg8"),
        "vgg13": partial(vgg, "vgg13"),
        "mobilenetv2": mobile_half,
        "shufflenetv1": shufflenetv1,
        "shufflenetv2": shufflenetv2,
        "resnet50_cifar": resnet50_cifar,
    }
    imagenet: dict[str, Callable[[int], TappedModel]] = {
        **{n: partial(torchvision_resnet, n) for n in ("resnet18", "resnet34", "resnet50")},
        "mobilenet_v2": TorchvisionMobileNetV2,
        "mobilenet_v1": MobileNetV1,
    }
    entries = {n: ZooEntry(n, "cifar", b, (3, 32, 32)) for n, b in cifar.items()}
    entries.update({n: ZooEntry(n, "imagenet", b, (3, 224, 224)) for n, b in imagenet.items()})
    return entries


ZOO: dict[str, ZooEntry] = _entries()


def get_entry(name: str) -> ZooEntry:
    """The zoo entry for `name` (case-insensitive, '-' read as '_', aliases such as `mobile_half` accepted).

    Raises:
        UserError: unknown name; the message lists the known names and the nearest one.
    """
    key = name.strip().lower().replace("-", "_")
    key = ALIASES.get(key, key)
    if key in ZOO:
        return ZOO[key]
    near = difflib.get_close_matches(key, [*ZOO, *ALIASES], n=1)
    hint = f" Did you mean {near[0]!r}?" if near else ""
    raise UserError(f"unknown model {name!r}.{hint} Known models: {', '.join(ZOO)}")


def build_model(name: str, num_classes: int | None = None, seed: int | None = None) -> TappedModel:
    """Build a zoo model with fresh weights.

    Args:
        name: a zoo name (see `ZOO`) or alias.
        num_classes: classifier outputs; default 100 for CIFAR models, 1000 for ImageNet ones.
        seed: when given, the initial weights depend on it alone (the global RNG is left as it was).

    Raises:
        UserError: unknown name.
    """
    entry = get_entry(name)
    classes = DEFAULT_CLASSES[entry.dataset] if num_classes is None else num_classes
    return build_seeded(partial(entry.builder, classes), seed)


def zoo_table(dataset: str | None = None, num_classes: int | None = None) -> list[dict[str, Any]]:
    """Rows of the `uniads-bench models` table: name, dataset, classes, input size, params and MACs.

    Args:
        dataset: "cifar", "cifar10", "cifar100" or "imagenet" to keep that dataset's models; None for all.
        num_classes: classifier outputs; default the dataset's (cifar10: 10, cifar/cifar100: 100,
            imagenet: 1000), or each model's own default when `dataset` is None.

    Raises:
        UserError: unknown dataset name.
    """
    wanted: str | None = None
    if dataset is not None:
        if dataset.lower() not in DATASET_NAMES:
            raise UserError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASET_NAMES)}")
        wanted, default = DATASET_NAMES[dataset.lower()]
        num_classes = default if num_classes is None else num_classes
    rows = []
    for entry in ZOO.values():
        if wanted is not None and entry.dataset != wanted:
            continue
        classes = DEFAULT_CLASSES[entry.dataset] if num_classes is None else num_classes
        # On the meta device: shapes only, no memory and no initialisation cost; counts are unchanged.
        with torch.device("meta"):
            model = entry.builder(classes)
        rows.append(
            {
                "name": entry.name,
                "dataset": entry.dataset,
                "num_classes": classes,
                "input_size": entry.input_size,
                "params": count_params(model),
                "macs": count_flops(model, entry.input_size),
            }
        )
    return rows
