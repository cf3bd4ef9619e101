"""The device loader: seeded epoch plans, batched translation and flip checked against per-image references."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from uniads_bench.data.loader import Augment, DeviceDataset, train_batch_bounds

MEAN, STD = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)


@pytest.fixture
def data() -> DeviceDataset:
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (37, 3, 8, 6), dtype=torch.uint8, generator=gen)
    labels = torch.randint(0, 10, (37,), generator=gen)
    return DeviceDataset(images, labels, MEAN, STD)


def _epoch(data: DeviceDataset, seed: int, epoch: int, batch_size: int, augment: Augment) -> tuple[torch.Tensor, ...]:
    parts = list(data.batches(seed, epoch, batch_size, augment))
    return torch.cat([p[2] for p in parts]), torch.cat([p[3] for p in parts])


def test_same_seed_and_epoch_give_identical_batches(data: DeviceDataset) -> None:
    augment = Augment(pad=2, flip=True)
    first = list(data.batches(3, 5, 8, augment))
    again = list(data.batches(3, 5, 8, augment))
    assert [(s, e) for s, e, _, _ in first][-2:] == [(24, 32), (32, 37)]  # the partial batch is trained on
    for (s1, e1, x1, y1), (s2, e2, x2, y2) in zip(first, again, strict=True):
        assert (s1, e1) == (s2, e2)
        assert torch.equal(x1, x2) and torch.equal(y1, y2)


def test_an_epoch_sees_every_image_unless_its_last_batch_would_hold_one() -> None:
    # mdistiller and RepDistiller keep the last partial batch (DataLoader's drop_last=False); a batch of one
    # sample cannot go through BatchNorm in training mode, so that one case is dropped.
    assert train_batch_bounds(4500, 64)[-1] == (4480, 4500) and len(train_batch_bounds(4500, 64)) == 71
    assert train_batch_bounds(37, 9)[-1] == (27, 36)
    assert train_batch_bounds(5, 64) == [(0, 5)]


def test_epochs_and_seeds_differ(data: DeviceDataset) -> None:
    augment = Augment(pad=2, flip=True)
    base = data.plan(3, 0, augment)
    for other in (data.plan(3, 1, augment), data.plan(4, 0, augment)):
        assert not torch.equal(base.order, other.order)
        assert not torch.equal(base.shifts, other.shifts)


def test_plan_does_not_depend_on_batch_size(data: DeviceDataset) -> None:
    augment = Augment(pad=2, flip=True)
    x7, y7 = _epoch(data, 1, 2, 7, augment)
    x10, y10 = _epoch(data, 1, 2, 10, augment)
    assert torch.equal(x7, x10) and torch.equal(y7, y10)


def test_translate_matches_per_image_crop_of_padded_image(data: DeviceDataset) -> None:
    pad = 3
    plan = data.plan(0, 0, Augment(pad=pad, flip=False))
    x, y = data.batch(plan, 0, len(data), pad)
    h, w = data.images.shape[2:]
    for i, idx in enumerate(plan.order.tolist()):
        dy, dx = plan.shifts[i].tolist()
        crop = F.pad(data.images[idx], (pad, pad, pad, pad))[:, dy : dy + h, dx : dx + w]
        assert torch.equal(x[i], data.normalise(crop[None])[0])
        assert y[i] == data.labels[idx]
    assert plan.shifts.min() == 0 and plan.shifts.max() == 2 * pad


def test_flip_mirrors_exactly_the_planned_images(data: DeviceDataset) -> None:
    plan = data.plan(0, 0, Augment(pad=0, flip=True), shuffle=False)
    x, _ = data.batch(plan, 0, len(data), pad=0)
    assert 0 < plan.flips.sum() < len(data)
    for i in range(len(data)):
        source = data.images[i].flip(-1) if plan.flips[i] else data.images[i]
        assert torch.equal(x[i], data.normalise(source[None])[0])


def test_translate_then_flip_composes(data: DeviceDataset) -> None:
    pad = 2
    plan = data.plan(9, 4, Augment(pad=pad, flip=True))
    x, _ = data.batch(plan, 5, 15, pad)
    h, w = data.images.shape[2:]
    for j, i in enumerate(range(5, 15)):
        dy, dx = plan.shifts[i].tolist()
        crop = F.pad(data.images[plan.order[i]], (pad,) * 4)[:, dy : dy + h, dx : dx + w]
        expected = crop.flip(-1) if plan.flips[i] else crop
        assert torch.equal(x[j], data.normalise(expected[None])[0])


def test_normalise_uses_mean_and_std(data: DeviceDataset) -> None:
    x = next(data.eval_batches(len(data)))[0]
    reference = (data.images.float() / 255 - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
    torch.testing.assert_close(x, reference, rtol=1e-5, atol=1e-5)
