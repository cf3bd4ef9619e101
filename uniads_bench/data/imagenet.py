"""Full-resolution ImageNet for the final phase: an ImageFolder tree read by decode workers.

Search rungs train on the prepared low-resolution arrays (`uniads_bench.data.prepared`); the final phase uses
the standard recipe here: RandomResizedCrop 224 + horizontal flip for training, Resize 256 + CenterCrop 224 for
evaluation. Every random choice is drawn from a stream keyed by (seed, epoch, sample index), never from the
process-wide RNG, so an epoch is the same whatever the number of workers.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, Sampler
from torchvision import transforms

from uniads_bench.data.catalog import IMAGENET
from uniads_bench.data.loader import drops_last_batch
from uniads_bench.data.sources import image_folder_classes, list_image_folder
from uniads_bench.errors import UserError
from uniads_bench.rng import derive_seed, torch_generator

TRAIN_SIZE = 224
EVAL_RESIZE = 256


def imagenet_transform(train: bool) -> transforms.Compose:
    """The standard ImageNet pipeline from a PIL image to a normalised float tensor (3, 224, 224)."""
    if train:
        geometry = [transforms.RandomResizedCrop(TRAIN_SIZE), transforms.RandomHorizontalFlip()]
    else:
        geometry = [transforms.Resize(EVAL_RESIZE), transforms.CenterCrop(TRAIN_SIZE)]
    assert IMAGENET.mean is not None and IMAGENET.std is not None
    return transforms.Compose([*geometry, transforms.ToTensor(), transforms.Normalize(IMAGENET.mean, IMAGENET.std)])


class SeededImageFolder(Dataset[tuple[torch.Tensor, int]]):
    """ImageFolder samples whose random transform is seeded per (seed, epoch, index).

    torchvision transforms draw from the process-wide torch RNG; each sample runs them inside a forked RNG
    seeded from its own stream, which leaves the caller's RNG untouched and makes a sample's augmentation
    independent of which worker decodes it.
    """

    def __init__(self, samples: list[tuple[str, int]], transform: transforms.Compose, seed: int, epoch: int) -> None:
        self.samples = samples
        self.transform = transform
        self.seed = seed
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        path, label = self.samples[index]
        with Image.open(path) as img:
            rgb = img.convert("RGB")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(derive_seed(self.seed, "imagenet-augment", self.epoch, index))
            return self.transform(rgb), label


class EpochPermutation(Sampler[int]):
    """A shuffled order of `n` indices drawn from the (seed, epoch) stream."""

    def __init__(self, n: int, seed: int, epoch: int) -> None:
        self.n, self.seed, self.epoch = n, seed, epoch

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[int]:
        return iter(torch.randperm(self.n, generator=torch_generator(self.seed, "imagenet-order", self.epoch)).tolist())


def imagenet_loader(
    root: str | os.PathLike[str], split: str, batch_size: int, workers: int, seed: int, epoch: int = 0
) -> DataLoader:
    """A DataLoader over one epoch of ``root/<split>/<class>/*.JPEG`` at full resolution.

    Args:
        root: the ImageFolder root holding ``train/`` and ``val/``.
        split: ``train`` (shuffled, augmented, last partial batch dropped) or ``val`` (in order, centre crop).
        batch_size: images per batch.
        workers: decode processes (0 decodes in this process).
        seed: data seed; with `epoch` it fixes the order and every augmentation.
        epoch: which epoch's order and augmentation to produce; build one loader per epoch.

    Returns:
        A loader yielding (images float (B, 3, 224, 224), labels int64 (B,)); classes are the sorted train
        sub-directory names.

    Raises:
        UserError: the split directory is missing or holds a class the train split lacks.
    """
    if split not in ("train", "val"):
        raise ValueError(f"split must be 'train' or 'val', got {split!r}")
    base = Path(root)
    classes = image_folder_classes(base / "train") if split == "val" else None
    _, samples = list_image_folder(base / split, classes)
    if not samples:
        raise UserError(f"{base / split} holds no images")
    train = split == "train"
    dataset = SeededImageFolder(samples, imagenet_transform(train), seed, epoch)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=EpochPermutation(len(dataset), seed, epoch) if train else None,
        num_workers=workers,
        pin_memory=torch.cuda.is_available(),
        drop_last=train and drops_last_batch(len(dataset), batch_size),
        persistent_workers=False,
        # The loader draws worker base seeds when iterated; from the global RNG unless it has its own generator.
        generator=torch_generator(seed, "imagenet-workers", epoch),
    )


class ImageFolderStream:
    """A full-resolution ImageFolder split as the training loop reads it: seeded per-epoch batches decoded by
    worker processes and moved to `device` (the final phase of the ImageNet suite).

    Unlike `DeviceDataset` its epochs are not resident, so the teacher cache cannot serve it: distillers
    read the teacher online.
    """

    supports_teacher_cache = False

    def __init__(self, root: str | os.PathLike[str], split: str, workers: int, device: torch.device) -> None:
        """`split` is ``train`` (read with `batches`) or ``val`` (read with `eval_batches`)."""
        self.root, self.split, self.workers, self.device = Path(root), split, workers, device
        classes = image_folder_classes(self.root / "train") if split == "val" else None
        _, samples = list_image_folder(self.root / split, classes)
        if not samples:
            raise UserError(f"{self.root / split} holds no images")
        self._count = len(samples)

    def __len__(self) -> int:
        return self._count

    def batches(
        self, seed: int, epoch: int, batch_size: int, augment: object = None
    ) -> Iterator[tuple[int, int, torch.Tensor, torch.Tensor]]:
        """Yield (start, stop, images, labels) over one training epoch (RandomResizedCrop 224 + flip; the
        recipe's pad/flip settings are for array data and do not apply)."""
        start = 0
        for x, y in imagenet_loader(self.root, self.split, batch_size, self.workers, seed, epoch):
            stop = start + len(y)
            yield start, stop, x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
            start = stop

    def eval_batches(self, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield (images, labels) of the split in order (Resize 256 + CenterCrop 224)."""
        for x, y in imagenet_loader(self.root, self.split, batch_size, self.workers, seed=0):
            yield x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
