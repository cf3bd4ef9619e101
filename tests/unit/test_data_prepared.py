"""Prepared data: manifest, integrity checks, atomic writes, missing-data messages and the split protocol."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from data_fakes import write_cifar_pickles, write_parquet

import uniads_bench.data.prepared as prepared
from uniads_bench.data.catalog import validation_count
from uniads_bench.data.prepared import (
    load_dataset_arrays,
    load_prepared,
    prepare_dataset,
    prepared_dir,
    read_manifest,
    verify_prepared,
)
from uniads_bench.errors import UserError

SHARED_CIFAR10 = Path(__file__).resolve().parents[3] / "shared" / "data" / "cifar10-jpeg"


@pytest.fixture
def cifar10_dir(tmp_path: Path) -> Path:
    write_cifar_pickles(tmp_path, "cifar10", byte_keys=True)
    prepare_dataset("cifar10", tmp_path)
    return tmp_path


def _leftovers(data_dir: Path) -> list[str]:
    return sorted(p.name for p in (data_dir / "prepared").iterdir())


def test_manifest_records_counts_hashes_and_provenance(cifar10_dir: Path) -> None:
    manifest = verify_prepared("cifar10", cifar10_dir)
    on_disk = json.loads((prepared_dir("cifar10", cifar10_dir) / "manifest.json").read_text())
    assert on_disk["dataset"] == "cifar10" and on_disk["layout"] == "torchvision"
    assert (manifest.train_count, manifest.test_count) == (20, 6)
    assert manifest.mean == (0.4914, 0.4822, 0.4465) and manifest.std == (0.2470, 0.2435, 0.2616)
    assert [f.name for f in manifest.files] == ["train_x.npy", "train_y.npy", "test_x.npy", "test_y.npy"]
    assert all(len(f.sha256) == 64 for f in manifest.files)
    assert manifest.package_version and manifest.limit is None
    assert read_manifest("cifar10", cifar10_dir) == manifest


def test_missing_data_names_every_layout_and_the_prepare_command(tmp_path: Path) -> None:
    for attempt in (prepare_dataset, load_prepared, load_dataset_arrays):
        with pytest.raises(UserError) as info:
            attempt("cifar100", tmp_path)
        text = str(info.value)
        assert f"uniads-bench data prepare cifar100 --data-dir {tmp_path}" in text
        for layout in (f"{tmp_path}/cifar-100-python/", "meta", "save_to_disk", "parquet", "uoft-cs/cifar100"):
            assert layout in text


def test_imagenet_missing_message_names_the_image_folder(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"train/<class>/\*\.JPEG"):
        load_prepared("imagenet", tmp_path)


def test_truncated_array_is_named(cifar10_dir: Path) -> None:
    path = prepared_dir("cifar10", cifar10_dir) / "train_x.npy"
    path.write_bytes(path.read_bytes()[:-10])
    for verify in (True, False):
        with pytest.raises(UserError, match=r"train_x\.npy has .* bytes.*re-run `uniads-bench data prepare"):
            load_prepared("cifar10", cifar10_dir, verify=verify)


def test_altered_byte_fails_sha256_and_names_the_file(cifar10_dir: Path) -> None:
    path = prepared_dir("cifar10", cifar10_dir) / "test_y.npy"
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))
    for check in (verify_prepared, load_prepared):
        with pytest.raises(UserError, match=r"test_y\.npy fails its sha256 check.*prepare cifar10"):
            check("cifar10", cifar10_dir)


def test_damaged_header_is_caught_even_without_hashing(cifar10_dir: Path) -> None:
    path = prepared_dir("cifar10", cifar10_dir) / "train_y.npy"
    path.write_bytes(b"garbage!" + path.read_bytes()[8:])
    with pytest.raises(UserError, match=r"train_y\.npy is not a readable array"):
        load_prepared("cifar10", cifar10_dir, verify=False)


def test_broken_manifest_is_named(cifar10_dir: Path) -> None:
    (prepared_dir("cifar10", cifar10_dir) / "manifest.json").write_text("{")
    with pytest.raises(UserError, match=r"manifest\.json is unreadable"):
        load_prepared("cifar10", cifar10_dir)


def test_failure_midway_leaves_no_prepared_directory(tmp_path: Path) -> None:
    write_parquet(tmp_path / "cifar10", "cifar10", corrupt_test_row=2)
    with pytest.raises(UserError, match="cannot decode"):
        prepare_dataset("cifar10", tmp_path)
    assert _leftovers(tmp_path) == []


def test_interrupt_keeps_the_previous_version_whole(cifar10_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = verify_prepared("cifar10", cifar10_dir)

    def interrupted(path: Path, data: bytes) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(prepared, "_write_durable", interrupted)
    with pytest.raises(KeyboardInterrupt):
        prepare_dataset("cifar10", cifar10_dir, limit=3)
    assert _leftovers(cifar10_dir) == ["cifar10"]
    assert verify_prepared("cifar10", cifar10_dir) == before


def test_prepare_again_replaces_the_old_version(cifar10_dir: Path) -> None:
    prepare_dataset("cifar10", cifar10_dir, limit=3)
    assert read_manifest("cifar10", cifar10_dir).limit == 3
    assert _leftovers(cifar10_dir) == ["cifar10"]


def test_partial_data_is_refused_unless_allowed(tmp_path: Path) -> None:
    write_cifar_pickles(tmp_path, "cifar10", byte_keys=False)
    prepare_dataset("cifar10", tmp_path, limit=5)
    with pytest.raises(UserError, match="first 5 rows"):
        load_prepared("cifar10", tmp_path)
    loaded = load_prepared("cifar10", tmp_path, allow_partial=True)
    assert len(loaded.train) == 5 and len(loaded.test) == 5


def test_load_dataset_arrays_prepares_raw_data_on_first_use(tmp_path: Path) -> None:
    expected = write_cifar_pickles(tmp_path, "cifar100", byte_keys=False)
    loaded = load_dataset_arrays("cifar100", tmp_path)
    np.testing.assert_array_equal(loaded.train.images, expected["train"][0])
    assert loaded.num_classes == 100 and loaded.image_shape == (3, 32, 32)
    assert read_manifest("cifar100", tmp_path).layout == "torchvision"


def test_digits_need_no_data_dir() -> None:
    digits = load_dataset_arrays("digits")
    assert digits.image_shape == (1, 8, 8) and digits.num_classes == 10


def test_digits_can_be_prepared_like_the_others(tmp_path: Path) -> None:
    manifest = prepare_dataset("digits", tmp_path)
    assert manifest.layout == "sklearn" and manifest.image_shape == (1, 8, 8)
    loaded = load_prepared("digits", tmp_path)
    np.testing.assert_array_equal(loaded.test.images, load_dataset_arrays("digits").test.images)


def test_unknown_dataset_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="cifar10, cifar100, digits, imagenet"):
        prepare_dataset("mnist", tmp_path)


def test_resolution_applies_only_to_resized_datasets(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="native image size"):
        prepare_dataset("cifar10", tmp_path, resolution=16)


@pytest.mark.parametrize(
    ("name", "n_train", "num_classes", "expected"),
    [
        ("cifar100", 50_000, 100, 5_000),
        ("cifar10", 50_000, 10, 5_000),
        ("imagenet", 1_281_167, 1000, 50_000),
        ("cifar10", 500, 10, 50),
        ("imagenet", 500, 1000, 50),
    ],
)
def test_validation_protocol(name: str, n_train: int, num_classes: int, expected: int) -> None:
    assert validation_count(name, n_train, num_classes) == expected


@pytest.mark.skipif(not SHARED_CIFAR10.is_dir(), reason="shared CIFAR-10 JPEG parquet not present")
def test_shared_cifar10_jpeg_subset(tmp_path: Path) -> None:
    manifest = prepare_dataset("cifar10", tmp_path, f"parquet:{SHARED_CIFAR10}", limit=500)
    assert manifest.classes[:3] == ("airplane", "automobile", "bird")
    loaded = load_prepared("cifar10", tmp_path, allow_partial=True)
    for split in (loaded.train, loaded.test):
        assert split.images.shape == (500, 3, 32, 32) and split.images.dtype == np.uint8
        assert split.labels.min() == 0 and split.labels.max() == 9
        assert len(np.unique(split.labels)) == 10
    # Real photographs, not blank decodes: pixel statistics near the published CIFAR-10 mean.
    assert abs(loaded.train.images.mean() / 255 - 0.47) < 0.05


def test_raw_but_unprepared_data_points_at_prepare(tmp_path: Path) -> None:
    write_cifar_pickles(tmp_path, "cifar10", byte_keys=True)
    with pytest.raises(UserError, match=r"not prepared yet \(raw data found at torchvision:.*data prepare cifar10"):
        load_prepared("cifar10", tmp_path)
