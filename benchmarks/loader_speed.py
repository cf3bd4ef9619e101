"""Loader speed: our device-resident CIFAR loader against torchvision's DataLoader + transforms, on CPU.

Both produce the same training batches of the CIFAR recipe (random crop with 4-pixel padding, horizontal flip,
normalisation, batch 64) from the same uint8 images: the CIFAR-10 JPEG parquet of the shared data, decoded once,
or random pixels when it is absent. One epoch each (or `--batches`), one run, and the ratio of the two times.
torchvision's pipeline is the usual one: a PIL image per sample (as `torchvision.datasets.CIFAR10` makes it),
RandomCrop(32, padding=4), RandomHorizontalFlip, ToTensor, Normalize, with DataLoader workers.

Usage: python benchmarks/loader_speed.py [--data DIR] [--batches N] [--workers W] [--threads T]
Writes benchmarks/results/loader_speed.json and prints one line.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path

import numpy as np
import torch
import torchvision
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from uniads_bench.data.catalog import CIFAR10
from uniads_bench.data.loader import Augment, DeviceDataset
from uniads_bench.data.sources import read_source
from uniads_bench.engine.calibrate import cpu_model
from uniads_bench.rng import numpy_generator, torch_generator

# The CIFAR-10 JPEG parquet copy: $UNIADS_CIFAR10_JPEG, by default the development machines' shared copy beside
# the checkout (outside the project).
SHARED_CIFAR10 = Path(os.environ.get("UNIADS_CIFAR10_JPEG",
                                     Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10-jpeg"))
RESULT = Path(__file__).resolve().parent / "results" / "loader_speed.json"
BATCH = 64
SEED = 0


class PilDataset(Dataset[tuple[torch.Tensor, int]]):
    """The torchvision CIFAR10 dataset's per-item path: uint8 HWC row -> PIL image -> transform."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform: transforms.Compose) -> None:
        self.images = np.ascontiguousarray(images.transpose(0, 2, 3, 1))
        self.labels = labels
        self.transform = transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.transform(Image.fromarray(self.images[index])), int(self.labels[index])


def load_images(data: Path) -> tuple[np.ndarray, np.ndarray, str, float | None]:
    """Train images and labels, a description, and the seconds the one-time decode took (None for noise)."""
    if (data / "train.parquet").is_file():
        start = time.perf_counter()
        arrays = read_source("cifar10", data, source=f"parquet:{data}")
        decode_s = time.perf_counter() - start
        return arrays.train.images, arrays.train.labels, f"CIFAR-10 JPEG parquet train ({data})", decode_s
    rng = numpy_generator(SEED, "loader-speed-noise")
    images = rng.integers(0, 256, (50_000, 3, 32, 32), dtype=np.uint8)
    return images, rng.integers(0, 10, 50_000), "random uint8 (CIFAR-10 parquet absent)", None


def time_ours(images: np.ndarray, labels: np.ndarray, batches: int) -> float:
    """Seconds for `batches` training batches from the device loader (on CPU here)."""
    assert CIFAR10.mean is not None and CIFAR10.std is not None
    data = DeviceDataset(torch.from_numpy(images), torch.from_numpy(labels), CIFAR10.mean, CIFAR10.std)
    start = time.perf_counter()
    for _ in islice(data.batches(SEED, 0, BATCH, Augment(pad=4, flip=True)), batches):
        pass
    return time.perf_counter() - start


def time_torchvision(images: np.ndarray, labels: np.ndarray, batches: int, workers: int) -> float:
    """Seconds for `batches` training batches from torchvision transforms in a DataLoader, worker start included."""
    assert CIFAR10.mean is not None and CIFAR10.std is not None
    transform = transforms.Compose(
        [
            transforms.RandomCrop(32, padding=4),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize(CIFAR10.mean, CIFAR10.std),
        ]
    )
    loader = DataLoader(
        PilDataset(images, labels, transform),
        batch_size=BATCH,
        shuffle=True,
        drop_last=True,
        num_workers=workers,
        generator=torch_generator(SEED, "loader-speed-torchvision"),
    )
    start = time.perf_counter()
    for _ in islice(loader, batches):
        pass
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED_CIFAR10, help="directory with train.parquet")
    parser.add_argument("--batches", type=int, default=None, help="batches to time (default: one epoch)")
    parser.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1), help="torchvision workers")
    parser.add_argument("--threads", type=int, default=None, help="torch threads of this process (default: torch's)")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    images, labels, described, decode_s = load_images(args.data)
    batches = args.batches or len(images) // BATCH
    ours_s = time_ours(images, labels, batches)
    torchvision_s = time_torchvision(images, labels, batches, args.workers)
    result = {
        "date_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "torch_threads": torch.get_num_threads(),
        # Other work on the machine slows both loaders, the multi-threaded one more (OpenMP spin under contention).
        "load_average_1min": round(os.getloadavg()[0], 2),
        "data": described,
        "images": len(images),
        "decode_once_s": None if decode_s is None else round(decode_s, 2),
        "batch_size": BATCH,
        "batches": batches,
        "torchvision_workers": args.workers,
        "ours_s": round(ours_s, 3),
        "torchvision_s": round(torchvision_s, 3),
        "ours_images_per_s": round(batches * BATCH / ours_s),
        "torchvision_images_per_s": round(batches * BATCH / torchvision_s),
        "speedup": round(torchvision_s / ours_s, 1),
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    staging = RESULT.with_suffix(".json.tmp")
    staging.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(staging, RESULT)
    print(
        f"loader_speed: {batches} batches of {BATCH} on {result['cpu']}: ours {ours_s:.2f} s, "
        f"torchvision ({args.workers} workers) {torchvision_s:.2f} s, speedup x{result['speedup']}"
    )


if __name__ == "__main__":
    main()
