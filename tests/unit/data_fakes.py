"""Tiny fake datasets in every raw layout the data sources read, written into a test's tmp_path.

Pixels come from a local numpy generator; PNG-encoded sources are lossless, so a prepared copy must equal them.
Importing this module puts Hugging Face libraries offline for the test session: tests never reach the network.
"""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

CIFAR10_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
CIFAR100_NAMES = [f"class{i:02d}" for i in range(100)]


def random_images(n: int, seed: int, size: int = 32) -> np.ndarray:
    """uint8 (n, 3, size, size) noise."""
    return np.random.default_rng(seed).integers(0, 256, (n, 3, size, size), dtype=np.uint8)


def _dump(path: Path, content: dict[str, object], byte_keys: bool) -> None:
    def key(k: str) -> str | bytes:
        return k.encode() if byte_keys else k

    def value(v: object) -> object:
        if byte_keys and isinstance(v, list) and v and isinstance(v[0], str):
            return [s.encode() for s in v]
        return v

    with path.open("wb") as f:
        pickle.dump({key(k): value(v) for k, v in content.items()}, f)


def write_cifar_pickles(
    root: Path, name: str, byte_keys: bool, per_batch: int = 4, n_test: int = 6
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The torchvision pickle layout of `name` (cifar10 or cifar100); returns {split: (images, labels)}."""
    ten = name == "cifar10"
    folder = root / ("cifar-10-batches-py" if ten else "cifar-100-python")
    folder.mkdir(parents=True)
    label_key = "labels" if ten else "fine_labels"
    num_classes = 10 if ten else 100
    train_files = [f"data_batch_{i}" for i in range(1, 6)] if ten else ["train"]
    rng = np.random.default_rng(7)
    expected: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {"train": [], "test": []}
    for i, (file, split, n) in enumerate(
        [*((f, "train", per_batch) for f in train_files), ("test_batch" if ten else "test", "test", n_test)]
    ):
        images = random_images(n, seed=i)
        labels = rng.integers(0, num_classes, n)
        content: dict[str, object] = {
            "data": images.reshape(n, -1),
            label_key: labels.tolist(),
            "filenames": [f"{j}.png" for j in range(n)],
        }
        if not ten:
            content["coarse_labels"] = (labels // 5).tolist()
        _dump(folder / file, content, byte_keys)
        expected[split].append((images, labels))
    meta = (
        {"label_names": CIFAR10_NAMES}
        if ten
        else {"fine_label_names": CIFAR100_NAMES, "coarse_label_names": [f"c{i}" for i in range(20)]}
    )
    _dump(folder / ("batches.meta" if ten else "meta"), meta, byte_keys)
    return {
        s: (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))
        for s, parts in expected.items()
    }


def encode(image: np.ndarray, fmt: str = "PNG") -> bytes:
    """A (3, H, W) uint8 array encoded as an image file."""
    buf = io.BytesIO()
    Image.fromarray(image.transpose(1, 2, 0)).save(buf, format=fmt)
    return buf.getvalue()


def hf_dataset_dict(
    name: str, n_train: int = 12, n_test: int = 5, corrupt_test_row: int | None = None
) -> tuple[Any, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """A `datasets.DatasetDict` in the uoft-cs layout of `name`, PNG images; returns (dict, expected arrays)."""
    import datasets

    ten = name == "cifar10"
    names = CIFAR10_NAMES if ten else CIFAR100_NAMES
    label_col = "label" if ten else "fine_label"
    features = {"img": datasets.Image(), label_col: datasets.ClassLabel(names=names)}
    if not ten:
        features["coarse_label"] = datasets.ClassLabel(names=[f"c{i}" for i in range(20)])
    rng = np.random.default_rng(3)
    splits, expected = {}, {}
    for split, n, seed in (("train", n_train, 10), ("test", n_test, 11)):
        images = random_images(n, seed)
        labels = rng.integers(0, len(names), n)
        blobs = [encode(im) for im in images]
        if split == "test" and corrupt_test_row is not None:
            blobs[corrupt_test_row] = b"not an image"
        columns = {"img": [{"bytes": b, "path": None} for b in blobs], label_col: labels.tolist()}
        if not ten:
            columns["coarse_label"] = (labels // 5).tolist()
        splits[split] = datasets.Dataset.from_dict(columns, features=datasets.Features(features))
        expected[split] = (images, labels)
    return datasets.DatasetDict(splits), expected


def write_parquet(folder: Path, name: str, **kwargs: object) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """HF parquet files train.parquet and test.parquet in `folder`; returns the expected arrays."""
    dd, expected = hf_dataset_dict(name, **kwargs)
    folder.mkdir(parents=True)
    for split, ds in dd.items():
        ds.to_parquet(str(folder / f"{split}.parquet"))
    return expected


def write_image_folder(root: Path, classes: int = 3, per_class: int = 2) -> None:
    """An ImageNet-style tree root/{train,val}/<wnid>/*.JPEG of small images of different sizes."""
    rng = np.random.default_rng(5)
    for split in ("train", "val"):
        for c in range(classes):
            folder = root / split / f"n{c:08d}"
            folder.mkdir(parents=True)
            for i in range(per_class):
                h, w = (40, 56) if i % 2 else (60, 36)
                image = rng.integers(0, 256, (3, h, w), dtype=np.uint8)
                (folder / f"img_{i}.JPEG").write_bytes(encode(image, "JPEG"))
