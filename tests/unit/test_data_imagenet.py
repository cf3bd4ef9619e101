"""Full-resolution ImageNet loader on a tiny JPEG tree: shapes, seeded augmentation, no global RNG use."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from data_fakes import write_image_folder

from uniads_bench.data.imagenet import imagenet_loader
from uniads_bench.errors import UserError


@pytest.fixture
def root(tmp_path: Path) -> Path:
    write_image_folder(tmp_path, classes=2, per_class=3)
    return tmp_path


def _all(loader: torch.utils.data.DataLoader) -> tuple[torch.Tensor, torch.Tensor]:
    xs, ys = zip(*loader, strict=True)
    return torch.cat(xs), torch.cat(ys)


def test_train_batches_are_seeded_by_epoch_and_leave_global_rng_alone(root: Path) -> None:
    state = torch.get_rng_state()
    x, y = _all(imagenet_loader(root, "train", batch_size=2, workers=0, seed=1))
    assert x.shape == (6, 3, 224, 224) and sorted(y.tolist()) == [0, 0, 0, 1, 1, 1]
    again, _ = _all(imagenet_loader(root, "train", batch_size=2, workers=0, seed=1))
    other, _ = _all(imagenet_loader(root, "train", batch_size=2, workers=0, seed=1, epoch=1))
    assert torch.equal(x, again) and not torch.equal(x, other)
    assert torch.equal(torch.get_rng_state(), state)


def test_workers_do_not_change_an_epoch(root: Path) -> None:
    inline = _all(imagenet_loader(root, "train", batch_size=4, workers=0, seed=2))
    parallel = _all(imagenet_loader(root, "train", batch_size=4, workers=2, seed=2))
    assert torch.equal(inline[0], parallel[0]) and torch.equal(inline[1], parallel[1])


def test_val_is_in_order_with_centre_crop(root: Path) -> None:
    x, y = _all(imagenet_loader(root, "val", batch_size=4, workers=0, seed=0))
    assert x.shape == (6, 3, 224, 224)
    assert y.tolist() == [0, 1, 0, 1, 0, 1]


def test_missing_split_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="train/<class>/"):
        imagenet_loader(tmp_path, "train", batch_size=2, workers=0, seed=0)


def test_stream_trains_and_scores_through_the_engine(tmp_path: Path) -> None:
    """The ImageNet final phase: the engine's loop reads a full-resolution stream like an array dataset."""
    from uniads_bench.config import Recipe
    from uniads_bench.data.imagenet import ImageFolderStream
    from uniads_bench.engine.train import evaluate_top1, train_model
    from uniads_bench.models.digits import DigitsCNN

    write_image_folder(tmp_path, classes=2, per_class=4)
    train = ImageFolderStream(tmp_path, "train", workers=0, device=torch.device("cpu"))
    val = ImageFolderStream(tmp_path, "val", workers=0, device=torch.device("cpu"))
    assert len(train) == 8 and len(val) == 8 and not train.supports_teacher_cache
    model = DigitsCNN(width=4, depth=1, num_classes=2, in_channels=3)
    before = [p.clone() for p in model.parameters()]
    train_model(model, Recipe(epochs=1, batch_size=4, lr=0.1), train, seed=0)
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    assert 0.0 <= evaluate_top1(model, val) <= 100.0


def test_final_phase_without_the_image_tree_names_the_layout(tmp_path: Path) -> None:
    import dataclasses

    import numpy as np

    from uniads_bench.config import load_suite
    from uniads_bench.data.arrays import DatasetArrays, ImageArrays
    from uniads_bench.runner.context import device_splits

    suite = dataclasses.replace(load_suite("imagenet"), val_count=2)
    tiny = ImageArrays(np.zeros((10, 3, 8, 8), np.uint8), np.arange(10, dtype=np.int64) % 2)
    data = DatasetArrays("imagenet", tiny, tiny, ("a", "b"), (0.5,) * 3, (0.25,) * 3)
    with pytest.raises(UserError, match="ImageFolder tree"):
        device_splits(suite, data, torch.device("cpu"), tmp_path)
