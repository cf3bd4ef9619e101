"""benchmarks/gpu_data.py: the CIFAR-10 a GPU call carries is a readable head of a copy, or learnable images."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
import gpu_data  # noqa: E402

from uniads_bench.data.sources import read_source  # noqa: E402


def test_a_subset_keeps_the_first_rows_of_each_split_in_a_layout_the_suite_reads(tmp_path: Path) -> None:
    gpu_data.generate(tmp_path / "full", {"train": 30, "test": 12})
    gpu_data.subset(tmp_path / "full", tmp_path / "head", {"train": 20, "test": 5})
    full = read_source("cifar10", tmp_path / "full", source=f"parquet:{tmp_path / 'full'}")
    head = read_source("cifar10", tmp_path / "head", source=f"parquet:{tmp_path / 'head'}")
    assert (len(head.train), len(head.test)) == (20, 5)
    assert np.array_equal(head.train.images, full.train.images[:20])  # PNG is lossless: the same pixels
    assert np.array_equal(head.test.labels, full.test.labels[:5])


def test_generated_classes_differ_in_colour_so_a_model_can_learn_them(tmp_path: Path) -> None:
    gpu_data.generate(tmp_path, {"train": 200, "test": 10})
    train = read_source("cifar10", tmp_path, source=f"parquet:{tmp_path}").train
    means = np.stack([train.images[train.labels == c].mean(axis=(0, 2, 3)) for c in np.unique(train.labels)])
    assert np.min(np.ptp(means, axis=0)) > 20  # per channel, class colours spread far beyond the noise's mean


def test_a_missing_source_is_one_clear_message_and_exit_2(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_data.py"), "--source", str(tmp_path),
                           "--out", str(tmp_path / "out")], capture_output=True, text=True)
    assert done.returncode == 2 and "train.parquet" in done.stderr and "not found" in done.stderr
    assert not (tmp_path / "out").exists()
