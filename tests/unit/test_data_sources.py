"""Raw sources: every layout is read from data the tests write, then prepared and loaded back unchanged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from data_fakes import (
    CIFAR10_NAMES,
    CIFAR100_NAMES,
    encode,
    hf_dataset_dict,
    write_cifar_pickles,
    write_image_folder,
    write_parquet,
)
from PIL import Image

from uniads_bench.data.prepared import load_prepared, prepare_dataset
from uniads_bench.data.sources import Source, decode_image, find_source, read_source
from uniads_bench.errors import UserError


def _assert_round_trip(tmp_path: Path, name: str, expected: dict, classes: list[str], source: str | None = None):
    manifest = prepare_dataset(name, tmp_path, source)
    loaded = load_prepared(name, tmp_path)
    for split in ("train", "test"):
        images, labels = expected[split]
        arrays = getattr(loaded, split)
        np.testing.assert_array_equal(arrays.images, images)
        np.testing.assert_array_equal(arrays.labels, labels)
        assert arrays.labels.dtype == np.int64
    assert loaded.classes == tuple(classes)
    assert (manifest.train_count, manifest.test_count) == (len(expected["train"][1]), len(expected["test"][1]))
    return manifest


@pytest.mark.parametrize("byte_keys", [True, False], ids=["bytes-keys", "str-keys"])
@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_torchvision_pickles_round_trip(tmp_path: Path, name: str, byte_keys: bool) -> None:
    expected = write_cifar_pickles(tmp_path, name, byte_keys)
    manifest = _assert_round_trip(tmp_path, name, expected, CIFAR10_NAMES if name == "cifar10" else CIFAR100_NAMES)
    assert manifest.layout == "torchvision"
    assert manifest.image_shape == (3, 32, 32)


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_parquet_round_trip(tmp_path: Path, name: str) -> None:
    expected = write_parquet(tmp_path / f"{name}-parquet", name)
    manifest = _assert_round_trip(tmp_path, name, expected, CIFAR10_NAMES if name == "cifar10" else CIFAR100_NAMES)
    assert manifest.layout == "parquet"


def test_save_to_disk_round_trip(tmp_path: Path) -> None:
    dd, expected = hf_dataset_dict("cifar100")
    dd.save_to_disk(str(tmp_path / "cifar100"))
    assert _assert_round_trip(tmp_path, "cifar100", expected, CIFAR100_NAMES).layout == "hf-disk"


def test_auto_detect_prefers_torchvision_and_override_picks_another(tmp_path: Path) -> None:
    pickled = write_cifar_pickles(tmp_path, "cifar10", byte_keys=True)
    parquet = write_parquet(tmp_path / "elsewhere", "cifar10")
    assert find_source("cifar10", tmp_path).layout == "torchvision"
    assert read_source("cifar10", tmp_path).train.labels.tolist() == pickled["train"][1].tolist()
    chosen = read_source("cifar10", tmp_path, source=f"parquet:{tmp_path / 'elsewhere'}")
    np.testing.assert_array_equal(chosen.test.images, parquet["test"][0])


def test_hub_is_only_named_never_fetched_here(tmp_path: Path) -> None:
    assert find_source("cifar100", tmp_path, "hub") == Source("hub", "uoft-cs/cifar100")
    with pytest.raises(UserError, match="does not apply"):
        find_source("imagenet", tmp_path, "torchvision")


def test_explicit_path_without_data_names_layouts(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not hold cifar10 in the parquet layout"):
        find_source("cifar10", tmp_path, f"parquet:{tmp_path}")


def test_image_folder_prepares_low_resolution_arrays(tmp_path: Path) -> None:
    write_image_folder(tmp_path / "imagenet", classes=3, per_class=2)
    manifest = prepare_dataset("imagenet", tmp_path, resolution=16)
    assert manifest.layout == "imagefolder"
    loaded = load_prepared("imagenet", tmp_path, resolution=16)
    assert loaded.train.images.shape == (6, 3, 16, 16)
    assert loaded.test.images.shape == (6, 3, 16, 16)
    assert loaded.classes == ("n00000000", "n00000001", "n00000002")
    # Interleaved by class, so any prefix (a row limit) spans every class.
    assert loaded.train.labels.tolist() == [0, 1, 2, 0, 1, 2]
    assert (tmp_path / "prepared" / "imagenet-16px" / "manifest.json").is_file()


def test_image_folder_decodes_in_worker_processes_identically(tmp_path: Path) -> None:
    write_image_folder(tmp_path / "imagenet", classes=2, per_class=2)
    inline = prepare_dataset("imagenet", tmp_path, resolution=8)
    parallel = prepare_dataset("imagenet", tmp_path, resolution=8, workers=2)
    assert [f.sha256 for f in inline.files] == [f.sha256 for f in parallel.files]


def test_decode_image_box_resizes_shorter_side_and_crops_centre() -> None:
    image = np.arange(3 * 4 * 8, dtype=np.uint8).reshape(3, 4, 8) * 2  # H=4, W=8
    out = decode_image(encode(image), resolution=2)
    # Shorter side 4 -> 2 halves both sides (box = 2x2 means); width 4 after resize, centre columns 1..2.
    means = image.reshape(3, 2, 2, 4, 2).astype(float).mean(axis=(2, 4))
    np.testing.assert_allclose(out, means[:, :, 1:3], atol=1)
    native = decode_image(encode(image))
    np.testing.assert_array_equal(native, image)


def test_decode_image_accepts_a_path_and_converts_grey_to_rgb(tmp_path: Path) -> None:
    path = tmp_path / "grey.png"
    Image.fromarray(np.full((5, 7), 9, dtype=np.uint8)).save(path)
    out = decode_image(str(path))
    assert out.shape == (3, 5, 7) and (out == 9).all()


def test_unreadable_pickle_names_the_file(tmp_path: Path) -> None:
    write_cifar_pickles(tmp_path, "cifar10", byte_keys=False)
    batch = tmp_path / "cifar-10-batches-py" / "data_batch_3"
    batch.write_bytes(batch.read_bytes()[:100])
    with pytest.raises(UserError, match="data_batch_3"):
        prepare_dataset("cifar10", tmp_path)


def test_missing_batch_file_names_it(tmp_path: Path) -> None:
    write_cifar_pickles(tmp_path, "cifar10", byte_keys=True)
    (tmp_path / "cifar-10-batches-py" / "test_batch").unlink()
    with pytest.raises(UserError, match="test_batch is missing"):
        prepare_dataset("cifar10", tmp_path)


def test_undecodable_image_names_the_row(tmp_path: Path) -> None:
    write_parquet(tmp_path / "cifar10", "cifar10", corrupt_test_row=3)
    with pytest.raises(UserError, match=r"test row 3"):
        prepare_dataset("cifar10", tmp_path)


def test_imagenet_parquet_in_hub_snapshot_naming_without_hf_metadata(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(1)
    folder = tmp_path / "imagenet" / "data"
    folder.mkdir(parents=True)
    for split, n in (("train", 5), ("validation", 3)):
        blobs = [encode(rng.integers(0, 256, (3, 30 + 4 * i, 50), dtype=np.uint8), "JPEG") for i in range(n)]
        table = pa.table({"image": [{"bytes": b, "path": None} for b in blobs], "label": [7 * i for i in range(n)]})
        pq.write_table(table, folder / f"{split}-00000-of-00001.parquet", row_group_size=2)
    manifest = prepare_dataset("imagenet", tmp_path, resolution=16, limit=4)
    assert manifest.layout == "parquet" and (manifest.train_count, manifest.test_count) == (4, 3)
    loaded = load_prepared("imagenet", tmp_path, resolution=16, allow_partial=True)
    assert loaded.train.images.shape == (4, 3, 16, 16)
    assert loaded.train.labels.tolist() == [0, 7, 14, 21]
    assert loaded.num_classes == 1000 and loaded.classes[7] == "7"


def test_truncated_parquet_is_a_user_error(tmp_path: Path) -> None:
    write_parquet(tmp_path / "cifar10", "cifar10")
    path = tmp_path / "cifar10" / "test.parquet"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(UserError, match="unreadable parquet"):
        prepare_dataset("cifar10", tmp_path)
    assert not (tmp_path / "prepared" / "cifar10").exists()
