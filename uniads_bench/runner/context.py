"""Building a track's evaluation context: data on the device, the split, the verified teacher, the cache."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from uniads_bench.config import Recipe, Suite, Track
from uniads_bench.data.arrays import DatasetArrays, ImageArrays
from uniads_bench.data.loader import DeviceDataset
from uniads_bench.data.splits import holdout_split
from uniads_bench.engine.teacher_cache import TeacherCache
from uniads_bench.engine.train import TrackContext
from uniads_bench.errors import UserError
from uniads_bench.models.family import track_family
from uniads_bench.teachers import TeacherRecord, ensure_teacher

TEACHER_CACHE_BYTES = 2 * 1024**3
TEACHER_SPILL_BYTES = 8 * 1024**3


def load_arrays(suite: Suite, data_dir: Path, data_limit: int | None = None) -> DatasetArrays:
    """The suite's dataset as uint8 arrays (digits ships with scikit-learn; others are prepared files).

    `data_limit` keeps the first N train and N // 5 test images (smoke runs; rows record it).
    """
    from uniads_bench.data.prepared import load_dataset_arrays

    data = load_dataset_arrays(suite.dataset, data_dir)
    if data_limit is None:
        return data
    return dataclasses.replace(
        data,
        train=data.train.subset(np.arange(min(data_limit, len(data.train)))),
        test=data.test.subset(np.arange(min(max(data_limit // 5, 1), len(data.test)))),
    )


def _device_data(arrays: ImageArrays, data: DatasetArrays, device: torch.device) -> DeviceDataset:
    return DeviceDataset(torch.from_numpy(np.ascontiguousarray(arrays.images)), torch.from_numpy(arrays.labels),
                         data.mean, data.std, device)


@dataclass(frozen=True)
class Splits:
    """The protocol's splits on the device: search train (train minus validation), validation, the full
    train split for the final phase, and test (scored once per final candidate)."""

    search_train: DeviceDataset
    val: DeviceDataset
    final_train: DeviceDataset
    test: DeviceDataset


def device_splits(suite: Suite, data: DatasetArrays, device: torch.device, data_dir: Path) -> Splits:
    train_idx, val_idx = holdout_split(data.train.labels, suite.val_count, suite.split_seed)
    search_train = _device_data(data.train.subset(train_idx), data, device)
    val = _device_data(data.train.subset(val_idx), data, device)
    if not suite.final_resolution:
        return Splits(search_train, val, _device_data(data.train, data, device), _device_data(data.test, data, device))
    from uniads_bench.data.imagenet import ImageFolderStream

    root = data_dir / suite.dataset
    if not (root / "train").is_dir() or not (root / "val").is_dir():
        raise UserError(f"the {suite.name} final phase trains at {suite.final_resolution} px from an ImageFolder "
                        f"tree: put train/<class>/*.JPEG and val/<class>/*.JPEG under {root}")
    return Splits(search_train, val, ImageFolderStream(root, "train", suite.loader_workers, device),
                  ImageFolderStream(root, "val", suite.loader_workers, device))


def build_context(
    suite: Suite, track: Track, data: DatasetArrays, device: torch.device, cache_dir: Path, data_dir: Path,
    log=print, compile_final: bool = False, precision: str = "auto",
) -> tuple[TrackContext, TeacherRecord]:
    """The TrackContext of `track`, with its teacher loaded from the cache or trained; `precision` is the
    candidates' (`engine.train.use_bf16`)."""
    splits = device_splits(suite, data, device, data_dir)
    teacher, record = ensure_teacher(suite, track, splits.final_train, splits.test, data.num_classes, cache_dir, log)
    recipe = suite.recipe if track.student_lr is None else Recipe(**{**suite.recipe.__dict__, "lr": track.student_lr})
    context = TrackContext(
        name=track.name,
        family=track_family(track),
        num_classes=data.num_classes,
        input_shape=data.image_shape,
        search_train=splits.search_train,
        val=splits.val,
        final_train=splits.final_train,
        test=splits.test,
        teacher=teacher,
        recipe=recipe,
        device=device,
        cache=TeacherCache(TEACHER_CACHE_BYTES, cache_dir / "teacher-spill", TEACHER_SPILL_BYTES),
        final_input_shape=(3, suite.final_resolution, suite.final_resolution) if suite.final_resolution else None,
        compile_final=compile_final,
        precision=precision,
    )
    return context, record
