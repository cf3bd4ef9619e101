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
