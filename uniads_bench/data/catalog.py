"""What each dataset is: class count, normalisation statistics, accepted raw layouts and the split protocol.

The statistics are the fixed values of the KD literature (mdistiller, torchvision), not recomputed from the
prepared pixels, so a JPEG copy of CIFAR-10 normalises exactly like the original release.
"""

from __future__ import annotations

from dataclasses import dataclass

from uniads_bench.errors import UserError


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset the suites know.

    Attributes:
        name: the dataset key used by suites and the CLI.
        num_classes: number of classes.
        mean: per-channel mean of [0, 1] pixels (None: taken from the loaded arrays, digits only).
        std: per-channel standard deviation of [0, 1] pixels (None as for `mean`).
        layouts: local raw layouts, in auto-detection order.
        hub_id: the Hugging Face hub repository, read only when the user asks for the `hub` source.
        label_column: the label column of the Hugging Face layouts.
        test_splits: names the held-out split goes by in Hugging Face and ImageFolder layouts (first found wins).
        resolution: side of the prepared square images; None keeps the native size (which must be uniform).
        torchvision_dir: directory name of the torchvision pickle layout under the data dir.
        val_fraction: validation share of the train split (CIFAR: 5,000 of 50,000).
        val_per_class: validation images per class (ImageNet: 50); overrides `val_fraction`.
        train_images: images of the full train split (suite checks: a batch must fit in the search's split).
    """

    name: str
    num_classes: int
    mean: tuple[float, ...] | None
    std: tuple[float, ...] | None
    layouts: tuple[str, ...]
    hub_id: str | None = None
    label_column: str = "label"
    test_splits: tuple[str, ...] = ("test",)
    resolution: int | None = None
    torchvision_dir: str | None = None
    val_fraction: float = 0.1
    val_per_class: int | None = None
    train_images: int = 0


CIFAR10 = DatasetSpec(
    name="cifar10",
    num_classes=10,
    mean=(0.4914, 0.4822, 0.4465),
    std=(0.2470, 0.2435, 0.2616),
    layouts=("torchvision", "hf-disk", "parquet"),
    hub_id="uoft-cs/cifar10",
    torchvision_dir="cifar-10-batches-py",
    train_images=50_000,
)
CIFAR100 = DatasetSpec(
    name="cifar100",
    num_classes=100,
    mean=(0.5071, 0.4867, 0.4408),
    std=(0.2675, 0.2565, 0.2761),
    layouts=("torchvision", "hf-disk", "parquet"),
    hub_id="uoft-cs/cifar100",
    label_column="fine_label",
    torchvision_dir="cifar-100-python",
    train_images=50_000,
)
IMAGENET = DatasetSpec(
    name="imagenet",
    num_classes=1000,
    mean=(0.485, 0.456, 0.406),
    std=(0.229, 0.224, 0.225),
    layouts=("hf-disk", "parquet", "imagefolder"),
    # The ImageNet "test" of the literature is the official validation set; the HF test split is unlabelled.
    test_splits=("validation", "val"),
    resolution=64,
    val_per_class=50,
    train_images=1_281_167,
)
DIGITS = DatasetSpec(name="digits", num_classes=10, mean=None, std=None, layouts=("sklearn",), train_images=1437)

DATASETS: dict[str, DatasetSpec] = {spec.name: spec for spec in (CIFAR10, CIFAR100, IMAGENET, DIGITS)}


def dataset_spec(name: str) -> DatasetSpec:
    """The spec of dataset `name`.

    Raises:
        UserError: the name is not a known dataset.
    """
    try:
        return DATASETS[name]
    except KeyError:
        raise UserError(f"unknown dataset {name!r}; known datasets: {', '.join(sorted(DATASETS))}") from None


def validation_count(name: str, n_train: int, num_classes: int) -> int:
    """How many train images the split protocol holds out for validation.

    CIFAR: 5,000 of 50,000 (10%); ImageNet: 50 per class; digits: 10%. On a partial dataset (prepared with a
    row limit) the count is capped at 10% of the train rows, so a smoke run still trains on most of its data.

    Args:
        name: dataset key.
        n_train: number of train images available.
        num_classes: number of classes.

    Returns:
        The validation count, between 1 and n_train - 1.
    """
    spec = dataset_spec(name)
    if spec.val_per_class is not None:
        count = spec.val_per_class * num_classes
    else:
        count = round(spec.val_fraction * n_train)
    return max(1, min(count, n_train // 10))
