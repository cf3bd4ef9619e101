"""Raw dataset sources: where a dataset may lie under a data directory and how to read it into uint8 arrays.

Layouts (a dataset accepts those its `DatasetSpec.layouts` names, auto-detected in that order):

- ``torchvision``: the pickled CIFAR release, ``DIR/cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta}``
  or ``DIR/cifar-100-python/{train,test,meta}``. Both byte-keyed (Python 2) and str-keyed pickles are read;
  integrity is checked by our manifest after preparation, not by torchvision's md5 list, which rejects any copy
  but the original archive. Unpickling can run code, as with torchvision: read only copies you trust.
- ``hf-disk``: a Hugging Face ``save_to_disk`` directory (``dataset_dict.json`` inside).
- ``parquet``: Hugging Face parquet files ``train*.parquet`` and ``test*.parquet`` (ImageNet:
  ``validation*.parquet``), directly in the directory or one level below (hub snapshots keep ``data/``).
- ``imagefolder``: ``train/<class>/*.JPEG`` and ``val/<class>/*.JPEG`` (ImageNet).
- ``hub``: the dataset's hub id, downloaded by ``datasets`` into the user's cache; never auto-detected, so
  nothing touches the network unless asked for.

Readers stream chunks of decoded images, so a large source (ImageNet at 64 px is 15.7 GB) is never held in
memory twice. Images are decoded once, here, with PIL; training never decodes.
"""

from __future__ import annotations

import io
import os
import pickle
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from uniads_bench.data.arrays import DatasetArrays, ImageArrays
from uniads_bench.data.catalog import DatasetSpec, dataset_spec
from uniads_bench.errors import UserError

CHUNK = 1024
IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png", ".bmp", ".webp")
TORCHVISION_FILES = {
    "cifar10": ([f"data_batch_{i}" for i in range(1, 6)], "test_batch", "batches.meta", "labels", "label_names"),
    "cifar100": (["train"], "test", "meta", "fine_labels", "fine_label_names"),
}


@dataclass(frozen=True)
class Source:
    """Where a dataset's raw data is: a layout and a directory (or, for ``hub``, a repository id)."""

    layout: str
    path: str

    def __str__(self) -> str:
        return f"{self.layout}:{self.path}"


@dataclass(frozen=True)
class RawSplit:
    """One split being read: its row count and a single-use stream of decoded chunks."""

    count: int
    chunks: Iterator[ImageArrays]


@dataclass(frozen=True)
class RawDataset:
    """An opened source: class names, statistics and the two splits as streams."""

    spec: DatasetSpec
    source: Source
    classes: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    train: RawSplit
    test: RawSplit


def candidate_sources(spec: DatasetSpec, data_dir: str | os.PathLike[str], layout: str | None = None) -> list[Source]:
    """Every place auto-detection looks for `spec`'s raw data under `data_dir`, in order."""
    root = Path(data_dir)
    places = {
        "torchvision": [root / spec.torchvision_dir] if spec.torchvision_dir else [],
        "hf-disk": [root / spec.name, root / f"{spec.name}-hf"],
        "parquet": [root / spec.name, root / f"{spec.name}-parquet", root / f"{spec.name}-jpeg"],
        "imagefolder": [root / spec.name],
        "sklearn": [],
    }
    layouts = spec.layouts if layout is None else (layout,)
    return [Source(name, str(path)) for name in layouts for path in places[name]]


def describe_layouts(spec: DatasetSpec, data_dir: str | os.PathLike[str]) -> list[str]:
    """One line per accepted layout and path, for error messages."""
    what = {
        "torchvision": "the torchvision pickles ({files})",
        "hf-disk": "a Hugging Face save_to_disk directory (dataset_dict.json)",
        "parquet": "Hugging Face parquet files train*.parquet and {test}*.parquet",
        "imagefolder": "an image folder tree train/<class>/*.JPEG and val/<class>/*.JPEG",
    }
    files = ""
    if spec.name in TORCHVISION_FILES:
        train, test, meta, _, _ = TORCHVISION_FILES[spec.name]
        files = ", ".join([*train, test, meta])
    lines = [
        f"{src.layout}: {src.path}/ holding " + what[src.layout].format(files=files, test=spec.test_splits[0])
        for src in candidate_sources(spec, data_dir)
    ]
    if spec.hub_id:
        lines.append(f"hub: {spec.hub_id} from the Hugging Face hub when online (ask for it with source 'hub')")
    return lines


def parse_source(text: str) -> tuple[str, str | None]:
    """Split a source override ``LAYOUT`` or ``LAYOUT:PATH`` into (layout, path or None)."""
    layout, _, path = text.partition(":")
    return layout, (path or None)


def find_source(name: str, data_dir: str | os.PathLike[str], source: str | None = None) -> Source | None:
    """The raw source of dataset `name` under `data_dir`, or None when nothing is there.

    Args:
        name: dataset key.
        data_dir: the data directory.
        source: None to auto-detect; ``LAYOUT`` to look only for that layout; ``LAYOUT:PATH`` to use exactly
            that directory (or hub id).

    Raises:
        UserError: the layout does not apply to this dataset, or an explicit path does not hold it.
    """
    spec = dataset_spec(name)
    if spec.layouts == ("sklearn",):
        return Source("sklearn", "sklearn.datasets.load_digits")
    if source is None:
        return next((src for src in candidate_sources(spec, data_dir) if _present(spec, src)), None)
    layout, path = parse_source(source)
    allowed = (*spec.layouts, "hub") if spec.hub_id else spec.layouts
    if layout not in allowed:
        raise UserError(f"source layout {layout!r} does not apply to {name}; accepted: {', '.join(allowed)}")
    if layout == "hub":
        return Source("hub", path or str(spec.hub_id))
    if path is None:
        return next((src for src in candidate_sources(spec, data_dir, layout) if _present(spec, src)), None)
    explicit = Source(layout, path)
    if not _present(spec, explicit):
        raise UserError(f"{path} does not hold {name} in the {layout} layout", describe_layouts(spec, data_dir))
    return explicit


def open_source(
    spec: DatasetSpec,
    source: Source,
    limit: int | None = None,
    workers: int = 0,
    resolution: int | None = None,
) -> RawDataset:
    """Open `source` for reading; images are decoded as the split streams are consumed.

    Args:
        spec: the dataset.
        source: where its raw data is.
        limit: read only the first `limit` rows of each split (tests and smoke runs).
        workers: decode processes; 0 or 1 decodes in this process.
        resolution: side of the square output images; None keeps the native size (it must be uniform).
    """
    if source.layout == "torchvision":
        return _open_torchvision(spec, source, limit)
    if source.layout == "sklearn":
        return _open_digits(spec, source, limit)
    if source.layout == "imagefolder":
        return _open_imagefolder(spec, source, limit, workers, resolution)
    return _open_huggingface(spec, source, limit, workers, resolution)


def read_source(
    name: str,
    data_dir: str | os.PathLike[str],
    source: str | None = None,
    limit: int | None = None,
) -> DatasetArrays:
    """The raw data of `name` read fully into memory (small datasets; preparation streams instead)."""
    spec = dataset_spec(name)
    found = find_source(name, data_dir, source)
    if found is None:
        raise UserError(f"no raw data for {name} under {data_dir}; expected one of:", describe_layouts(spec, data_dir))
    raw = open_source(spec, found, limit, resolution=spec.resolution)

    def collect(split: RawSplit) -> ImageArrays:
        parts = list(split.chunks)
        return ImageArrays(np.concatenate([p.images for p in parts]), np.concatenate([p.labels for p in parts]))

    return DatasetArrays(spec.name, collect(raw.train), collect(raw.test), raw.classes, raw.mean, raw.std)


def _present(spec: DatasetSpec, source: Source) -> bool:
    path = Path(source.path)
    if source.layout == "torchvision":
        return (path / TORCHVISION_FILES[spec.name][2]).is_file()
    if source.layout == "hf-disk":
        return (path / "dataset_dict.json").is_file()
    if source.layout == "parquet":
        return bool(_parquet_files(path, ("train",)))
    if source.layout == "imagefolder":
        return (path / "train").is_dir()
    return False


def _statistics(spec: DatasetSpec) -> tuple[tuple[float, ...], tuple[float, ...]]:
    assert spec.mean is not None and spec.std is not None, f"{spec.name} has no fixed statistics"
    return spec.mean, spec.std


def _head(count: int, limit: int | None) -> int:
    return count if limit is None else min(count, limit)


# --- torchvision CIFAR pickles ------------------------------------------------------------------------------


def _unpickle(path: Path) -> dict[str, Any]:
    """A CIFAR pickle with its keys as str, whether it was written with byte keys (the release) or str keys."""
    if not path.is_file():
        raise UserError(f"{path} is missing; the torchvision CIFAR layout needs every batch file")
    try:
        with path.open("rb") as f:
            # encoding="bytes" reads the Python 2 release; str-keyed files written by Python 3 keep str keys.
            content = pickle.load(f, encoding="bytes")
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as exc:
        raise UserError(f"{path} is not a readable CIFAR pickle ({exc}); replace it with an intact copy") from exc
    if not isinstance(content, dict):
        raise UserError(f"{path} is not a CIFAR pickle (holds {type(content).__name__}, expected a dict)")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in content.items()}


def _pickle_field(content: dict[str, Any], key: str, path: Path) -> Any:
    if key not in content:
        raise UserError(f"{path} has no {key!r} entry (keys: {', '.join(sorted(content))})")
    return content[key]


def _cifar_batch(path: Path, label_key: str) -> ImageArrays:
    content = _unpickle(path)
    data = np.asarray(_pickle_field(content, "data", path), dtype=np.uint8)
    labels = np.asarray(_pickle_field(content, label_key, path), dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(labels) != len(data):
        raise UserError(f"{path} holds data {data.shape} and {len(labels)} labels; expected (N, 3072) and N labels")
    return ImageArrays(data.reshape(-1, 3, 32, 32), labels)


def _open_torchvision(spec: DatasetSpec, source: Source, limit: int | None) -> RawDataset:
    # The pickles are small (CIFAR is 180 MB in all), so they are read whole; their row counts come from the files.
    root = Path(source.path)
    train_files, test_file, meta_file, label_key, names_key = TORCHVISION_FILES[spec.name]
    meta_path = root / meta_file
    names = tuple(
        n.decode() if isinstance(n, bytes) else str(n)
        for n in _pickle_field(_unpickle(meta_path), names_key, meta_path)
    )

    def split(files: Sequence[str]) -> RawSplit:
        batches = [_cifar_batch(root / f, label_key) for f in files]
        images, labels = np.concatenate([b.images for b in batches]), np.concatenate([b.labels for b in batches])
        return _in_memory(ImageArrays(images, labels), limit)

    mean, std = _statistics(spec)
    return RawDataset(spec, source, names, mean, std, split(train_files), split([test_file]))


def _in_memory(arrays: ImageArrays, limit: int | None) -> RawSplit:
    arrays = arrays.subset(np.arange(_head(len(arrays), limit)))
    return RawSplit(len(arrays), iter([arrays]))


def _open_digits(spec: DatasetSpec, source: Source, limit: int | None) -> RawDataset:
    from uniads_bench.data.digits import load_digits_arrays

    arrays = load_digits_arrays()
    return RawDataset(
        spec,
        source,
        arrays.classes,
        arrays.mean,
        arrays.std,
        _in_memory(arrays.train, limit),
        _in_memory(arrays.test, limit),
    )


# --- image decoding ------------------------------------------------------------------------------------------

DecodeTask = tuple[list[bytes | str], list[int], list[str], int | None]


def decode_image(src: bytes | str, resolution: int | None = None) -> np.ndarray:
    """One encoded image (file bytes or a path) as uint8 (3, H, W).

    With `resolution`, the shorter side is box-resized to it and the centre cropped square, the low-resolution
    form used for search rungs (box filtering averages every source pixel, so no aliasing at large reductions).
    """
    with Image.open(io.BytesIO(src) if isinstance(src, bytes) else src) as img:
        if resolution is not None:
            # JPEG decodes at a power-of-two reduced scale that still covers `resolution`: much faster, same result.
            img.draft("RGB", (resolution, resolution))
        rgb = img.convert("RGB")
    if resolution is not None:
        w, h = rgb.size
        scale = resolution / min(w, h)
        nw, nh = max(resolution, round(w * scale)), max(resolution, round(h * scale))
        left, top = (nw - resolution) // 2, (nh - resolution) // 2
        rgb = rgb.resize((nw, nh), Image.Resampling.BOX).crop((left, top, left + resolution, top + resolution))
    return np.asarray(rgb, dtype=np.uint8).transpose(2, 0, 1)


def _decode_chunk(task: DecodeTask) -> ImageArrays:
    sources, labels, names, resolution = task
    images = []
    for src, name in zip(sources, names, strict=True):
        try:
            images.append(decode_image(src, resolution))
        except (OSError, ValueError) as exc:
            raise UserError(f"cannot decode image {name} ({exc}); replace it or remove it from the source") from exc
    shapes = sorted({im.shape for im in images})
    if len(shapes) > 1:
        raise UserError(f"images of {names[0]}.. differ in size {shapes[:3]}; this dataset keeps its native size")
    return ImageArrays(np.stack(images), np.asarray(labels, dtype=np.int64))


def _decode_stream(tasks: Iterable[DecodeTask], workers: int) -> Iterator[ImageArrays]:
    """Decoded chunks in task order; with workers > 1, at most 2 * workers chunks are in flight."""
    if workers <= 1:
        yield from map(_decode_chunk, tasks)
        return
    import multiprocessing

    # spawn, not fork: the parent may hold torch threads, and a forked copy of them can deadlock.
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        pending: deque[Future[ImageArrays]] = deque()
        for task in tasks:
            pending.append(pool.submit(_decode_chunk, task))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


# --- ImageFolder ---------------------------------------------------------------------------------------------


def image_folder_classes(root: Path) -> tuple[str, ...]:
    """The sorted sub-directory names of an ImageFolder split (torchvision's class order)."""
    if not root.is_dir():
        raise UserError(f"{root} is missing; the image folder layout needs train/<class>/ and val/<class>/")
    return tuple(sorted(entry.name for entry in os.scandir(root) if entry.is_dir()))


def list_image_folder(
    root: Path, classes: tuple[str, ...] | None = None
) -> tuple[tuple[str, ...], list[tuple[str, int]]]:
    """Class names and (path, label) samples of an ImageFolder split.

    Classes are the sorted sub-directory names (torchvision's convention), or `classes` when given (the
    validation split takes the train split's classes). Samples are interleaved class by class, so every prefix
    (a row limit) spans the classes.

    Raises:
        UserError: the directory is missing, or holds a class the train split does not have.
    """
    found = image_folder_classes(root)
    classes = classes if classes is not None else found
    unknown = sorted(set(found) - set(classes))
    if unknown:
        raise UserError(f"{root} has classes the train split lacks: {', '.join(unknown[:5])}")
    index = {name: i for i, name in enumerate(classes)}
    per_class = [
        sorted(e.path for e in os.scandir(root / name) if e.is_file() and e.name.lower().endswith(IMAGE_SUFFIXES))
        for name in found
    ]
    samples = [
        (files[rank], index[name])
        for rank in range(max(map(len, per_class), default=0))
        for name, files in zip(found, per_class, strict=True)
        if rank < len(files)
    ]
    return classes, samples


def _file_tasks(samples: list[tuple[str, int]], resolution: int | None) -> Iterator[DecodeTask]:
    for start in range(0, len(samples), CHUNK):
        paths, labels = zip(*samples[start : start + CHUNK], strict=True)
        yield list(paths), list(labels), list(paths), resolution


def _open_imagefolder(
    spec: DatasetSpec, source: Source, limit: int | None, workers: int, resolution: int | None
) -> RawDataset:
    root = Path(source.path)
    classes, train = list_image_folder(root / "train")
    test_dir = next((root / s for s in spec.test_splits if (root / s).is_dir()), root / spec.test_splits[-1])
    _, test = list_image_folder(test_dir, classes)
    train, test = train[: _head(len(train), limit)], test[: _head(len(test), limit)]
    mean, std = _statistics(spec)
    return RawDataset(
        spec,
        source,
        classes,
        mean,
        std,
        RawSplit(len(train), _decode_stream(_file_tasks(train, resolution), workers)),
        RawSplit(len(test), _decode_stream(_file_tasks(test, resolution), workers)),
    )


# --- Hugging Face: parquet, save_to_disk, hub ---------------------------------------------------------------
#
# All three are read as Arrow record batches, whose image column is the `datasets` Image storage, a struct of
# encoded `bytes` and a `path`. Parquet files are streamed with pyarrow rather than through
# `datasets.load_dataset`, which would first copy them into an Arrow cache (150 GB for ImageNet).


@dataclass(frozen=True)
class _HfSplit:
    count: int
    batches: Iterator[Any]  # pyarrow RecordBatch or Table, each at most CHUNK rows


def _parquet_files(root: Path, split_names: Sequence[str]) -> list[str]:
    """Parquet files of a split, directly in `root` or one level below, named SPLIT.parquet or SPLIT-*.parquet."""
    if not root.is_dir():
        return []
    found = [*root.glob("*.parquet"), *root.glob("*/*.parquet")]
    return sorted(
        str(p) for p in found if any(p.stem == n or p.stem.startswith((f"{n}-", f"{n}_")) for n in split_names)
    )


def _parquet_split(files: list[str]) -> _HfSplit:
    import pyarrow.parquet as pq

    def batches() -> Iterator[Any]:
        for file in files:
            try:
                yield from pq.ParquetFile(file).iter_batches(batch_size=CHUNK)
            except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError, ArrowIOError an OSError
                raise UserError(f"{file} is not a readable parquet file ({exc})") from exc

    return _HfSplit(sum(pq.ParquetFile(f).metadata.num_rows for f in files), batches())


def _dataset_split(ds: Any) -> _HfSplit:
    table = ds.with_format("arrow")
    return _HfSplit(len(ds), (table[start : start + CHUNK] for start in range(0, len(ds), CHUNK)))


def _load_hf(spec: DatasetSpec, source: Source) -> tuple[Any, dict[str, _HfSplit]]:
    """The source's `datasets.Features` and its splits by name."""
    import datasets

    if source.layout == "parquet":
        import pyarrow.parquet as pq

        root = Path(source.path)
        train, test = _parquet_files(root, ("train",)), _parquet_files(root, spec.test_splits)
        if not test:
            raise UserError(f"{root} has train parquet files but no {'/'.join(spec.test_splits)}*.parquet")
        try:
            features = datasets.Features.from_arrow_schema(pq.read_schema(train[0]))
            return features, {"train": _parquet_split(train), spec.test_splits[0]: _parquet_split(test)}
        except (OSError, ValueError) as exc:
            raise UserError(f"{root} holds an unreadable parquet file ({exc})") from exc
    if source.layout == "hf-disk":
        try:
            loaded = datasets.load_from_disk(source.path)
        except (FileNotFoundError, ValueError, OSError) as exc:
            raise UserError(f"{source.path} is not a readable save_to_disk directory ({exc})") from exc
        if not isinstance(loaded, datasets.DatasetDict):
            raise UserError(f"{source.path} holds a single split; save a DatasetDict with train and test splits")
    elif datasets.config.HF_HUB_OFFLINE or datasets.config.HF_DATASETS_OFFLINE:
        raise UserError(f"cannot read {source.path} from the hub while offline (HF_HUB_OFFLINE / HF_DATASETS_OFFLINE)")
    else:
        try:
            loaded = datasets.load_dataset(source.path)
        except OSError as exc:  # network and hub errors (requests, huggingface_hub) derive from OSError
            raise UserError(f"cannot download {source.path} from the Hugging Face hub ({exc})") from exc
    return loaded["train"].features, {name: _dataset_split(ds) for name, ds in loaded.items()}


def _hf_tasks(
    batches: Iterator[Any], image_col: str, label_col: str, count: int, resolution: int | None, where: str
) -> Iterator[DecodeTask]:
    seen = 0
    for batch in batches:
        if seen >= count:
            return
        batch = batch.slice(0, count - seen)
        sources = [im["bytes"] if im["bytes"] is not None else im["path"] for im in batch.column(image_col).to_pylist()]
        names = [f"{where} row {seen + i}" for i in range(len(sources))]
        yield sources, batch.column(label_col).to_pylist(), names, resolution
        seen += len(sources)


def _open_huggingface(
    spec: DatasetSpec, source: Source, limit: int | None, workers: int, resolution: int | None
) -> RawDataset:
    import datasets

    features, splits = _load_hf(spec, source)
    test_name = next((s for s in spec.test_splits if s in splits), None)
    if "train" not in splits or test_name is None:
        raise UserError(f"{source} has splits {sorted(splits)}; expected train and {' or '.join(spec.test_splits)}")
    image_col = next((c for c, f in features.items() if isinstance(f, datasets.Image)), None)
    image_col = image_col or next((c for c in ("img", "image") if c in features), None)
    if image_col is None or spec.label_column not in features:
        raise UserError(
            f"{source} has columns {', '.join(features)}; expected an image column and {spec.label_column!r}"
        )
    label = features[spec.label_column]
    classes = (
        tuple(label.names) if isinstance(label, datasets.ClassLabel) else tuple(str(i) for i in range(spec.num_classes))
    )

    def split(name: str) -> RawSplit:
        count = _head(splits[name].count, limit)
        tasks = _hf_tasks(splits[name].batches, image_col, spec.label_column, count, resolution, f"{source} {name}")
        return RawSplit(count, _decode_stream(tasks, workers))

    mean, std = _statistics(spec)
    return RawDataset(spec, source, classes, mean, std, split("train"), split(test_name))
