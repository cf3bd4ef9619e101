"""Prepared datasets: raw data converted once to uint8 arrays with a sha256 manifest, then verified and loaded.

``DATA_DIR/prepared/<name>/`` holds ``train_x.npy`` and ``test_x.npy`` (uint8 (N, C, H, W)), ``train_y.npy`` and
``test_y.npy`` (int64) and ``manifest.json`` (dataset, source layout, counts, class names, statistics, shapes,
sha256 and size of every file, package version). ImageNet is prepared at 64 px for search rungs
(``prepared/imagenet``; another resolution goes to ``prepared/imagenet-<R>px``); its full resolution stays as
files for `uniads_bench.data.imagenet.imagenet_loader`.

Preparation is atomic: everything is written into a hidden staging directory beside the target, fsynced, and
renamed into place last, so a reader never sees a half-written ``prepared/<name>``: it is complete or absent.
A preparation killed midway leaves only a hidden ``.<name>.*.partial`` directory, safe to delete.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from uniads_bench import __version__
from uniads_bench.data.arrays import DatasetArrays, ImageArrays
from uniads_bench.data.catalog import DatasetSpec, dataset_spec
from uniads_bench.data.digits import load_digits_arrays
from uniads_bench.data.sources import RawSplit, Source, describe_layouts, find_source, open_source
from uniads_bench.durable import fsync_path
from uniads_bench.errors import UserError

PREPARED = "prepared"
MANIFEST = "manifest.json"
FORMAT_VERSION = 1
# Image arrays above this size are memory-mapped rather than read into memory (ImageNet at 64 px is 15.7 GB).
MMAP_BYTES = 1 << 31


@dataclass(frozen=True)
class FileRecord:
    """One prepared file as the manifest records it."""

    name: str
    sha256: str
    size_bytes: int
    shape: tuple[int, ...]
    dtype: str


@dataclass(frozen=True)
class Manifest:
    """What a prepared dataset holds and where it came from; the sha256 of each file is its integrity check."""

    dataset: str
    layout: str
    source: str
    train_count: int
    test_count: int
    classes: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    image_shape: tuple[int, ...]
    limit: int | None
    files: tuple[FileRecord, ...]
    package_version: str
    created_utc: str
    format_version: int = FORMAT_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        """Parse a manifest; raises KeyError, TypeError or ValueError when it is malformed."""
        raw = json.loads(text)
        files = tuple(
            FileRecord(f["name"], f["sha256"], int(f["size_bytes"]), tuple(f["shape"]), f["dtype"])
            for f in raw.pop("files")
        )
        for key in ("classes", "mean", "std", "image_shape"):
            raw[key] = tuple(raw[key])
        return cls(files=files, **raw)


def prepared_dir(name: str, data_dir: str | os.PathLike[str], resolution: int | None = None) -> Path:
    """Where dataset `name` is prepared: ``DATA_DIR/prepared/<name>`` (``<name>-<R>px`` off the default size)."""
    spec = dataset_spec(name)
    suffix = "" if _resolution(spec, resolution) == spec.resolution else f"-{resolution}px"
    return Path(data_dir) / PREPARED / f"{name}{suffix}"


def prepare_dataset(
    name: str,
    data_dir: str | os.PathLike[str],
    source: str | None = None,
    *,
    limit: int | None = None,
    resolution: int | None = None,
    workers: int = 0,
) -> Manifest:
    """Convert dataset `name` from its raw source under `data_dir` to prepared arrays, replacing any earlier ones.

    Args:
        name: dataset key (cifar10, cifar100, imagenet, digits).
        data_dir: the data directory; output goes to ``data_dir/prepared/``.
        source: None to auto-detect the raw layout; ``LAYOUT`` or ``LAYOUT:PATH`` to choose it (``hub`` downloads
            from the Hugging Face hub and needs a network).
        limit: keep only the first `limit` rows of each split (tests and smoke runs; recorded in the manifest,
            and `load_prepared` refuses such data unless asked to allow it).
        resolution: side of the prepared images for datasets that are resized (ImageNet, default 64).
        workers: image decode processes (0: decode in this process).

    Returns:
        The manifest written with the data.

    Raises:
        UserError: no raw data (the message lists every accepted layout and path), or raw data that cannot be read.

    Example:
        >>> prepare_dataset("cifar100", "/data")  # reads /data/cifar-100-python, writes /data/prepared/cifar100
    """
    spec = dataset_spec(name)
    target = prepared_dir(name, data_dir, resolution)
    if limit is not None and limit < 1:
        raise UserError(f"a row limit must be at least 1, got {limit}")
    found = find_source(name, data_dir, source)
    if found is None:
        raise _missing(spec, data_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
    try:
        staging.chmod(0o755)  # mkdtemp makes it private; the prepared data is meant to be shared
        raw = open_source(spec, found, limit, workers, _resolution(spec, resolution))
        records = [
            *_write_split(raw.train, staging, "train", len(raw.classes), found),
            *_write_split(raw.test, staging, "test", len(raw.classes), found),
        ]
        if records[0].shape[1:] != records[2].shape[1:]:
            raise UserError(f"{found}: train images {records[0].shape[1:]} but test images {records[2].shape[1:]}")
        manifest = Manifest(
            dataset=name,
            layout=found.layout,
            source=found.path,
            train_count=records[0].shape[0],
            test_count=records[2].shape[0],
            classes=raw.classes,
            mean=raw.mean,
            std=raw.std,
            image_shape=records[0].shape[1:],
            limit=limit,
            files=tuple(records),
            package_version=__version__,
            created_utc=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        _write_durable(staging / MANIFEST, manifest.to_json().encode())
        fsync_path(staging)
        _swap_into_place(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def read_manifest(name: str, data_dir: str | os.PathLike[str], resolution: int | None = None) -> Manifest:
    """The manifest of prepared dataset `name`.

    Raises:
        UserError: not prepared (the message lists the raw layouts and the prepare command), or the manifest is
            unreadable.
    """
    path = prepared_dir(name, data_dir, resolution) / MANIFEST
    if not path.is_file():
        raise _missing(dataset_spec(name), data_dir)
    try:
        return Manifest.from_json(path.read_text())
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"{path} is unreadable ({exc}); {_rerun(name, data_dir)}") from exc


def verify_prepared(name: str, data_dir: str | os.PathLike[str], resolution: int | None = None, *,
                    full: bool = True) -> Manifest:
    """Re-hash every prepared file of `name` against its manifest (`full`), or only check their sizes.

    Returns:
        The manifest, when every file is present with its recorded size (and sha256).

    Raises:
        UserError: not prepared, or a file is missing, truncated or altered (the message names the file).
    """
    manifest = read_manifest(name, data_dir, resolution)
    _check_files(prepared_dir(name, data_dir, resolution), manifest, data_dir, full=full)
    return manifest


def load_prepared(
    name: str,
    data_dir: str | os.PathLike[str],
    verify: bool = True,
    *,
    allow_partial: bool = False,
    resolution: int | None = None,
) -> DatasetArrays:
    """The prepared arrays of `name`.

    File sizes, array shapes and dtypes are always checked against the manifest (cheap); with `verify` every
    file is also re-hashed. Image arrays larger than 2 GiB are memory-mapped read-only.

    Args:
        name: dataset key.
        data_dir: the data directory.
        verify: re-hash every file (CIFAR: about a second).
        allow_partial: accept data prepared with a row limit; otherwise it is refused, so a benchmark never runs
            on a smoke subset by accident.
        resolution: as for `prepare_dataset`.

    Raises:
        UserError: not prepared, partial without `allow_partial`, or a file missing, truncated or corrupt.
    """
    directory = prepared_dir(name, data_dir, resolution)
    manifest = read_manifest(name, data_dir, resolution)
    if manifest.limit is not None and not allow_partial:
        raise UserError(
            f"{directory} holds only the first {manifest.limit} rows of each split (prepared with a row limit); "
            f"prepare it again without the limit: uniads-bench data prepare {name} --data-dir {data_dir}"
        )
    _check_files(directory, manifest, data_dir, full=verify)
    arrays = {rec.name: _load_array(directory / rec.name, rec, name, data_dir) for rec in manifest.files}
    return DatasetArrays(
        name=manifest.dataset,
        train=ImageArrays(arrays["train_x.npy"], arrays["train_y.npy"]),
        test=ImageArrays(arrays["test_x.npy"], arrays["test_y.npy"]),
        classes=manifest.classes,
        mean=manifest.mean,
        std=manifest.std,
    )


def load_dataset_arrays(
    name: str,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    verify: bool = True,
    allow_partial: bool = False,
) -> DatasetArrays:
    """The arrays a suite trains on: digits from scikit-learn, every other dataset from its prepared arrays.

    When `name` is not prepared yet but its raw data is found under `data_dir`, it is prepared on the spot (once;
    for ImageNet that takes a while, so run ``uniads-bench data prepare imagenet`` ahead).

    Raises:
        UserError: no data directory for a dataset that needs one, no data in it, or corrupt prepared data.
    """
    if name == "digits":
        return load_digits_arrays()
    spec = dataset_spec(name)
    if data_dir is None:
        raise UserError(f"{name} needs a data directory (--data-dir DIR)", describe_layouts(spec, "DIR"))
    if not (prepared_dir(name, data_dir) / MANIFEST).is_file() and find_source(name, data_dir) is not None:
        prepare_dataset(name, data_dir)
        verify = False  # just written and hashed
    return load_prepared(name, data_dir, verify, allow_partial=allow_partial)


def _resolution(spec: DatasetSpec, resolution: int | None) -> int | None:
    if resolution is not None and spec.resolution is None:
        raise UserError(f"{spec.name} keeps its native image size; a resolution applies only to resized datasets")
    return resolution if resolution is not None else spec.resolution


def _missing(spec: DatasetSpec, data_dir: str | os.PathLike[str]) -> UserError:
    found = find_source(spec.name, data_dir)
    if found is not None:
        return UserError(
            f"{spec.name} is not prepared yet (raw data found at {found}); "
            f"run `uniads-bench data prepare {spec.name} --data-dir {data_dir}`"
        )
    return UserError(
        f"no {spec.name} data under {data_dir}. Put it in one of these layouts, then run "
        f"`uniads-bench data prepare {spec.name} --data-dir {data_dir}`:",
        describe_layouts(spec, data_dir),
    )


def _rerun(name: str, data_dir: str | os.PathLike[str]) -> str:
    return f"re-run `uniads-bench data prepare {name} --data-dir {data_dir}`"


def _write_split(split: RawSplit, staging: Path, prefix: str, num_classes: int, source: Source) -> list[FileRecord]:
    """Stream a split into ``<prefix>_x.npy`` and ``<prefix>_y.npy``, fsynced; returns their records."""
    x_path, y_path = staging / f"{prefix}_x.npy", staging / f"{prefix}_y.npy"
    labels = np.empty(split.count, dtype=np.int64)
    images: np.ndarray | None = None
    filled = 0
    for chunk in split.chunks:
        if images is None:
            shape = (split.count, *chunk.images.shape[1:])
            images = np.lib.format.open_memmap(x_path, mode="w+", dtype=np.uint8, shape=shape)
        if chunk.images.shape[1:] != images.shape[1:]:
            raise UserError(
                f"{source} {prefix}: images of shape {chunk.images.shape[1:]} after {images.shape[1:]}; "
                "this dataset keeps its native size, so all its images must have one size"
            )
        images[filled : filled + len(chunk)] = chunk.images
        labels[filled : filled + len(chunk)] = chunk.labels
        filled += len(chunk)
    if images is None:
        raise UserError(f"{source} {prefix}: the split holds no images")
    if filled != split.count:
        raise UserError(f"{source} {prefix}: read {filled} images, expected {split.count}")
    if labels.min() < 0 or labels.max() >= num_classes:
        raise UserError(f"{source} {prefix}: labels span {labels.min()}..{labels.max()}, expected 0..{num_classes - 1}")
    images.flush()
    x_shape = images.shape
    del images  # closes the memory map before the file is synced and hashed
    fsync_path(x_path)
    with y_path.open("wb") as f:
        np.save(f, labels)
        f.flush()
        os.fsync(f.fileno())
    return [_record(x_path, x_shape, "uint8"), _record(y_path, labels.shape, "int64")]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def _record(path: Path, shape: tuple[int, ...], dtype: str) -> FileRecord:
    return FileRecord(path.name, _sha256(path), path.stat().st_size, tuple(int(s) for s in shape), dtype)


def _check_files(directory: Path, manifest: Manifest, data_dir: str | os.PathLike[str], full: bool) -> None:
    for rec in manifest.files:
        path = directory / rec.name
        if not path.is_file():
            raise UserError(f"{path} is missing; {_rerun(manifest.dataset, data_dir)}")
        size = path.stat().st_size
        if size != rec.size_bytes:
            raise UserError(
                f"{path} has {size} bytes but its manifest records {rec.size_bytes} (truncated or replaced); "
                + _rerun(manifest.dataset, data_dir)
            )
        if full and _sha256(path) != rec.sha256:
            raise UserError(f"{path} fails its sha256 check (corrupt); {_rerun(manifest.dataset, data_dir)}")


def _load_array(path: Path, rec: FileRecord, name: str, data_dir: str | os.PathLike[str]) -> np.ndarray:
    try:
        array = np.load(path, mmap_mode="r" if rec.size_bytes > MMAP_BYTES else None, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise UserError(f"{path} is not a readable array ({exc}); {_rerun(name, data_dir)}") from exc
    if array.shape != rec.shape or str(array.dtype) != rec.dtype:
        raise UserError(
            f"{path} holds {array.dtype} {array.shape}, its manifest records {rec.dtype} {rec.shape}; "
            + _rerun(name, data_dir)
        )
    return array


def _write_durable(path: Path, data: bytes) -> None:
    with path.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _swap_into_place(staging: Path, target: Path) -> None:
    """Rename the complete staging directory to `target`, moving an earlier version aside and deleting it after."""
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        os.rename(target, old)
    os.rename(staging, target)
    fsync_path(target.parent)
    shutil.rmtree(old, ignore_errors=True)
