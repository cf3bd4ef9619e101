"""`teacher train|import|verify`, `data prepare|verify`, `models` and `space` through the real CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

CIFAR10_JPEG = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "cifar10-jpeg"


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "uniads_bench", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600)


def small_digits_suite(tmp_path: Path) -> str:
    """The digits suite with a 3-epoch teacher recipe, so the test trains its teacher in seconds."""
    from importlib import resources

    text = resources.files("uniads_bench.suites").joinpath("digits.toml").read_text()
    path = tmp_path / "digits-small.toml"
    path.write_text(text.replace("[teacher_recipe]\nepochs = 40", "[teacher_recipe]\nepochs = 3"))
    assert path.read_text() != text
    return str(path)


def test_teacher_train_verify_import_and_bad_checkpoints(tmp_path) -> None:
    cache = ["--cache-dir", str(tmp_path / "cache")]
    suite = small_digits_suite(tmp_path)
    trained = cli("teacher", "train", suite, "cnn", *cache, cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    assert "test top-1" in trained.stdout
    verified = cli("teacher", "verify", suite, "cnn", *cache, cwd=tmp_path)
    assert verified.returncode == 0 and "sha256 ok" in verified.stdout

    (checkpoint,) = (tmp_path / "cache" / "teachers" / "digits").glob("*.pt")
    state = torch.load(checkpoint, weights_only=True)
    mdistiller_layout = tmp_path / "ckpt_epoch_240.pth"
    torch.save({"model": {f"module.{k}": v for k, v in state.items()}, "epoch": 240}, mdistiller_layout)
    imported = cli("teacher", "import", suite, "cnn", str(mdistiller_layout), *cache, cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert (tmp_path / "cache" / "teachers" / "registry.json").exists()

    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(mdistiller_layout.read_bytes()[:200])
    wrong = tmp_path / "wrong.pth"
    torch.save({"conv.weight": torch.zeros(3)}, wrong)
    for bad, message in ((truncated, "cannot be read"), (wrong, "does not fit model")):
        result = cli("teacher", "import", suite, "cnn", str(bad), *cache, cwd=tmp_path)
        assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr

    # A cached checkpoint altered on disk is caught by its sha256 before use.
    cached = tmp_path / "cache" / "teachers" / "digits" / "cnn-digits_cnn_teacher-imported.pt"
    data = bytearray(cached.read_bytes())
    data[-10] ^= 0xFF
    cached.write_bytes(bytes(data))
    result = cli("teacher", "verify", suite, "cnn", *cache, cwd=tmp_path)
    assert result.returncode == 2 and "sha256" in result.stderr


def test_models_and_space_commands(tmp_path) -> None:
    models = cli("models", "--dataset", "cifar100", cwd=tmp_path)
    assert models.returncode == 0 and "resnet32x4" in models.stdout and "7.434M" in models.stdout
    space = cli("space", "digits", "cnn", cwd=tmp_path)
    assert space.returncode == 0 and "temperature" in space.stdout
    bad = cli("space", "digits", "nosuch", cwd=tmp_path)
    assert bad.returncode == 2 and "no track 'nosuch'" in bad.stderr


def test_data_prepare_missing_then_real_cifar10(tmp_path) -> None:
    missing = cli("data", "prepare", "cifar10", "--data-dir", str(tmp_path / "data"), cwd=tmp_path)
    assert missing.returncode == 2 and "cifar-10-batches-py" in missing.stderr
    if not CIFAR10_JPEG.exists():
        pytest.skip("shared CIFAR-10 JPEG data not present")
    prepared = cli("data", "prepare", "cifar10", "--data-dir", str(tmp_path / "data"), "--source",
                   f"parquet:{CIFAR10_JPEG}", "--limit", "300", cwd=tmp_path)
    assert prepared.returncode == 0, prepared.stderr
    verified = cli("data", "verify", "cifar10", "--data-dir", str(tmp_path / "data"), cwd=tmp_path)
    assert verified.returncode == 0 and "match their sha256" in verified.stdout


def test_offline_search_on_the_diswot_table_and_synthetic(tmp_path) -> None:
    table = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "diswot-s1" / "resnet20_depth_cifar100.csv"
    specs = ["synthetic:smooth"] + ([f"replay:{table}?metric=top1_kd"] if table.exists() else [])
    for spec in specs:
        result = cli("search", "digits", "cnn", "--method", "uniads", "--evaluator", spec, "--budget", "6",
                     cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "hypervolume" in result.stdout and "chosen" in result.stdout
    bad = cli("search", "digits", "cnn", "--method", "kd", "--evaluator", "synthetic:smooth", cwd=tmp_path)
    assert bad.returncode == 2 and "fixed method" in bad.stderr
