"""Engine speed: our candidate evaluation against a plain PyTorch KD loop, same data, models and epochs.

Both arms distil resnet32x4 into resnet8x4 with logit KD (T=4, CE 0.1 / KD 0.9, SGD lr 0.05 momentum 0.9 wd
5e-4, batch 64, crop with 4-pixel padding and flip) on the same CIFAR-10 images, and score the student once on
the same held-out images at the end. Both networks have 10 classes (CIFAR-10; the CIFAR-100 tracks use 100,
which changes only the classifier). The teacher is randomly initialised: speed does not depend on its weights.

- plain: the loop as the KD codebases write it (mdistiller, RepDistiller): a DataLoader over a Dataset of
  PIL images with torchvision RandomCrop(32, padding=4), RandomHorizontalFlip, ToTensor, Normalize and
  `--workers` workers; the teacher's forward every step in eval mode under no_grad; `loss.item()` and
  top-1/top-5 accuracy read back every step.
- ours, cold: `train_candidate` through a `TrackContext`, the first candidate of a track (the teacher cache
  computes the epoch's teacher outputs).
- ours, warm: a later candidate (the same student and loss, lr_mult 0.5, so a distinct candidate with the same
  work) whose teacher outputs the cache serves.

All arms run in one process, one after the other, with the same torch thread count, after an unscored warm-up
of both networks. `--device-figures` adds, on the same device, images/s of a resnet8x4 train step (fp32 NCHW,
bf16 NCHW, bf16 channels_last) and a `calibrate_profile` entry (`benchmarks/gpu_check.sh` uses it).

Usage: python benchmarks/engine_speed.py [--images 2048] [--epochs 1] [--threads 2] [--workers 2]
           [--device cpu] [--precision auto|bf16|fp32] [--data DIR | --no-data] [--out FILE] [--device-figures]
           [--profile DIR]
Writes benchmarks/results/engine_speed.json (or --out) and prints one summary line.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from loader_speed import SHARED_CIFAR10, PilDataset
from torch import nn
from torch.utils.data import DataLoader
from torchvision import transforms

from uniads_bench.candidate import Candidate
from uniads_bench.config import Recipe
from uniads_bench.data.arrays import ImageArrays
from uniads_bench.data.catalog import CIFAR10
from uniads_bench.data.loader import DeviceDataset
from uniads_bench.data.sources import find_source, read_source
from uniads_bench.distill.kd import kd_divergence
from uniads_bench.engine.calibrate import calibrate_profile, cpu_model, device_label, measure_throughput
from uniads_bench.engine.teacher_cache import TeacherCache
from uniads_bench.engine.train import PRECISIONS, TrackContext, train_candidate, use_bf16
from uniads_bench.errors import UserError
from uniads_bench.models.family import get_family
from uniads_bench.models.zoo import build_model
from uniads_bench.results import EvalResult, Fidelity
from uniads_bench.rng import numpy_generator, torch_generator

RESULT = Path(__file__).resolve().parent / "results" / "engine_speed.json"
NUM_CLASSES = 10
BATCH = 64
SEED = 0
KD_HPARAMS = {"temperature": 4.0, "ce_weight": 0.1, "kd_weight": 0.9}
RECIPE = Recipe(epochs=1, batch_size=BATCH, lr=0.05, augment_pad=4, augment_flip=True)


def load_data(data: Path | None, train_images: int, val_images: int) -> tuple[ImageArrays, ImageArrays, str]:
    """The first `train_images` of the CIFAR-10 train split and `val_images` of its test split, read from
    `data` (any CIFAR-10 layout `read_source` knows, as a data directory or the layout's own directory), or
    random pixels when `data` is None or absent."""
    if data is not None and data.exists():
        source = _cifar10_source(data)
        arrays = read_source("cifar10", data, source=source, limit=max(train_images, val_images))
        train = arrays.train.subset(np.arange(min(train_images, len(arrays.train))))
        val = arrays.test.subset(np.arange(min(val_images, len(arrays.test))))
        return train, val, f"CIFAR-10 ({source or 'auto-detected'} under {data})"
    rng = numpy_generator(SEED, "engine-speed-noise")
    noise = [
        ImageArrays(rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8), rng.integers(0, NUM_CLASSES, n))
        for n in (train_images, val_images)
    ]
    return noise[0], noise[1], "random uint8 (no CIFAR-10 directory given or found)"


def _cifar10_source(data: Path) -> str | None:
    """None when `data` is a data directory `read_source` searches by itself, else ``LAYOUT:PATH``."""
    if find_source("cifar10", data) is not None:
        return None
    for layout in CIFAR10.layouts:
        with contextlib.suppress(UserError):
            if find_source("cifar10", data, f"{layout}:{data}") is not None:
                return f"{layout}:{data}"
    raise UserError(f"{data} holds no CIFAR-10 in any of the layouts {', '.join(CIFAR10.layouts)}")


def frozen_teacher(device: torch.device) -> nn.Module:
    """A randomly initialised resnet32x4 in eval mode without gradients, shared by every arm."""
    teacher = build_model("resnet32x4", NUM_CLASSES, seed=SEED).to(device).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher


def warm_up(teacher: nn.Module, device: torch.device, bf16: bool) -> None:
    """One unscored teacher forward and student forward-backward, in fp32 and (when our arms use it) bf16
    autocast, so that no arm pays the one-time kernel selection and allocator growth."""
    student = build_model("resnet8x4", NUM_CLASSES, seed=SEED).to(device)
    x = torch.randn(BATCH, 3, 32, 32, generator=torch_generator(SEED, "warm-up", device=device), device=device)
    for dtype in [None] + ([torch.bfloat16] if bf16 else []):
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            with torch.no_grad():
                teacher(x)
            student(x).float().logsumexp(1).mean().backward()
    _sync(device)


def plain_kd(
    teacher: nn.Module, train: ImageArrays, val: ImageArrays, epochs: int, workers: int, device: torch.device
) -> dict[str, Any]:
    """The KD codebases' loop (see the module docstring); returns its figures, model build included."""
    assert CIFAR10.mean is not None and CIFAR10.std is not None
    started = time.perf_counter()
    normalise = [transforms.ToTensor(), transforms.Normalize(CIFAR10.mean, CIFAR10.std)]
    augment = transforms.Compose([transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip(), *normalise])
    pin = device.type == "cuda"
    loader = DataLoader(
        PilDataset(train.images, train.labels, augment), batch_size=BATCH, shuffle=True, drop_last=True,
        num_workers=workers, pin_memory=pin, generator=torch_generator(SEED, "engine-speed-plain"),
    )
    val_loader = DataLoader(
        PilDataset(val.images, val.labels, transforms.Compose(normalise)), batch_size=BATCH, num_workers=workers,
        pin_memory=pin,
    )
    student = build_model("resnet8x4", NUM_CLASSES, seed=SEED + 1).to(device)
    optimizer = torch.optim.SGD(
        student.parameters(), lr=RECIPE.lr, momentum=RECIPE.momentum, weight_decay=RECIPE.weight_decay
    )
    losses, top1, top5 = [], 0.0, 0.0
    for _ in range(epochs):
        student.train()
        for x, y in loader:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            with torch.no_grad():
                t_logits = teacher(x)
            logits = student(x)
            loss = KD_HPARAMS["ce_weight"] * F.cross_entropy(logits, y) + KD_HPARAMS["kd_weight"] * kd_divergence(
                logits, t_logits, KD_HPARAMS["temperature"]
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())  # the per-step host syncs of mdistiller's trainer
            hits = (logits.topk(5, dim=1).indices == y.view(-1, 1)).float()
            top1 += hits[:, 0].sum().item()
            top5 += hits.sum().item()
    student.eval()
    correct = 0
    with torch.no_grad():
        for x, y in val_loader:
            correct += (student(x.to(device)).argmax(1) == y.to(device)).sum().item()
    seconds = time.perf_counter() - started
    trained = epochs * len(loader) * BATCH
    return {
        "seconds": round(seconds, 2),
        "images_per_s": round(trained / seconds, 1),
        "images_trained": trained,
        "top1_val": round(100.0 * correct / len(val), 2),
        "top1_train_running": round(100.0 * top1 / trained, 2),
        "top5_train_running": round(100.0 * top5 / trained, 2),
        "loss_last": round(losses[-1], 4),
    }


def track_context(teacher: nn.Module, train: ImageArrays, val: ImageArrays, epochs: int,
                  device: torch.device, precision: str) -> TrackContext:
    """A TrackContext for the reference student of the cifar_resnet_x4 family, built without a suite."""
    assert CIFAR10.mean is not None and CIFAR10.std is not None
    train_ds, val_ds = (
        DeviceDataset(torch.from_numpy(a.images), torch.from_numpy(a.labels), CIFAR10.mean, CIFAR10.std, device)
        for a in (train, val)
    )
    return TrackContext(
        name="engine-speed", family=get_family("cifar_resnet_x4"), num_classes=NUM_CLASSES,
        input_shape=(3, 32, 32), search_train=train_ds, val=val_ds, final_train=train_ds, test=val_ds,
        teacher=teacher, recipe=Recipe(**{**RECIPE.__dict__, "epochs": epochs}), device=device,
        cache=TeacherCache(max_bytes=4 << 30), precision=precision,
    )


def ours(ctx: TrackContext, candidate: Candidate, epochs: int) -> dict[str, Any]:
    """`train_candidate` on the search split; figures from the outside clock, checks from its result."""
    started = time.perf_counter()
    result: EvalResult = train_candidate(ctx, candidate, Fidelity(epochs), seed=SEED, phase="search")
    seconds = time.perf_counter() - started
    if not result.ok:
        raise RuntimeError(f"candidate {candidate.id} ended {result.status}: {result.reason}\n{result.traceback}")
    trained = epochs * (len(ctx.search_train) // BATCH) * BATCH
    return {
        "seconds": round(seconds, 2),
        "images_per_s": round(trained / seconds, 1),
        "images_trained": trained,
        "top1_val": round(result.top1, 2),
        "loss_last": round(sum(result.loss_last.values()), 4),
        "cache_hits": result.cache_hits,
        "cache_misses": result.cache_misses,
    }


def step_figures(device: torch.device, batches: list[int], steps: int) -> dict[str, Any]:
    """Images/s of a resnet8x4 train step as the engine runs it and faster variants, and a calibrated profile."""
    variants = {
        "fp32_nchw": {},
        "bf16_nchw": {"autocast_dtype": torch.bfloat16},
        "bf16_channels_last": {"autocast_dtype": torch.bfloat16, "channels_last": True},
    }
    figures: dict[str, Any] = {}
    for batch in batches:
        for label, options in variants.items():
            model = build_model("resnet8x4", 100, seed=SEED)
            calib = measure_throughput(model, (3, 32, 32), 100, device, batch, steps, min(5, steps), **options)
            figures[f"resnet8x4_train_step_b{batch}_{label}_images_per_s"] = round(batch * steps / calib.seconds, 1)
    figures["calibrate_profile"] = calibrate_profile(device, steps=steps, warmup=min(5, steps))
    return figures


def environment(device: torch.device, threads: int, command: str) -> dict[str, Any]:
    """Where and when the figures were taken."""
    env: dict[str, Any] = {
        "date_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command,
        "device": device_label(device),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "torch_threads": threads,
    }
    if device.type == "cuda":
        env["cuda"] = torch.version.cuda
        env["nvidia_smi"] = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total,driver_version,power.limit", "--format=csv,noheader"],
            capture_output=True, text=True, check=False,
        ).stdout.strip()
    return env


def load_average() -> float:
    """The 1-minute load average: other work on the machine slows every arm, not necessarily equally."""
    return round(os.getloadavg()[0], 2)


def timed(name: str, figures: dict[str, Any], run: Callable[[], dict[str, Any]], profile_dir: Path | None) -> None:
    """Run one arm, record its figures with the load average before and after, and say so; under
    `profile_dir`, also write the torch profiler's table of the arm's operators (main process only)."""
    before = load_average()
    prof = torch.profiler.profile(activities=torch.profiler.supported_activities()) if profile_dir else None
    with prof or contextlib.nullcontext():
        figures[name] = run()
    figures[name].update(load_avg_1min_before=before, load_avg_1min_after=load_average())
    print(f"  {name}: {figures[name]['seconds']} s, {figures[name]['images_per_s']} images/s", flush=True)
    if prof is not None and profile_dir is not None:
        profile_dir.mkdir(parents=True, exist_ok=True)
        table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25)
        (profile_dir / f"engine_speed_profile_{name}.txt").write_text(table + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED_CIFAR10, help="a CIFAR-10 directory (any known layout)")
    parser.add_argument("--no-data", action="store_true", help="use random pixels instead of CIFAR-10")
    parser.add_argument("--images", type=int, default=2048, help="training images (first N of the train split)")
    parser.add_argument("--val-images", type=int, default=512, help="held-out images scored at the end")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2, help="torch threads of this process")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers of the plain loop (mdistiller: 2)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", choices=PRECISIONS, default="auto",
                        help="our arms' precision (the engine's --precision); the plain loop stays fp32")
    parser.add_argument("--device-figures", action="store_true", help="add train-step images/s and a hardware profile")
    parser.add_argument("--step-steps", type=int, default=30, help="timed steps per train-step figure")
    parser.add_argument("--step-batches", type=int, nargs="+", default=[BATCH, 512], help="train-step batch sizes")
    parser.add_argument("--profile", type=Path, default=None, help="a directory for torch profiler tables per arm")
    parser.add_argument("--out", type=Path, default=RESULT)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    command = shlex.join([Path(sys.executable).name, *sys.argv])

    train, val, described = load_data(None if args.no_data else args.data, args.images, args.val_images)
    teacher = frozen_teacher(device)
    bf16 = use_bf16(device, args.precision, "search")  # the arms train search-phase candidates
    warm_up(teacher, device, bf16)
    ctx = track_context(teacher, train, val, args.epochs, device, args.precision)
    reference = ctx.family.reference
    first = Candidate.make(reference, "kd", KD_HPARAMS)
    later = Candidate.make(reference, "kd", KD_HPARAMS, {"lr_mult": 0.5})
    print(f"engine_speed: {len(train)} images x {args.epochs} epoch(s) on {device_label(device)}", flush=True)

    figures: dict[str, Any] = {}
    timed("plain", figures, lambda: plain_kd(teacher, train, val, args.epochs, args.workers, device), args.profile)
    timed("ours_cold", figures, lambda: ours(ctx, first, args.epochs), args.profile)
    timed("ours_warm", figures, lambda: ours(ctx, later, args.epochs), args.profile)
    plain_s = figures["plain"]["seconds"]
    figures["speedup_cold"] = round(plain_s / figures["ours_cold"]["seconds"], 2)
    figures["speedup_warm"] = round(plain_s / figures["ours_warm"]["seconds"], 2)
    if args.device_figures:
        figures.update(step_figures(device, args.step_batches, args.step_steps))

    result = {
        **environment(device, args.threads, command),
        "data": described,
        "train_images": len(train),
        "val_images": len(val),
        "epochs": args.epochs,
        "batch_size": BATCH,
        "plain_workers": args.workers,
        "ours_precision": "bf16 autocast" if bf16 else "fp32",
        "models": "resnet32x4 (random init, eval) -> resnet8x4, 10 classes, logit KD T=4, CE 0.1 / KD 0.9",
        "load_avg_1min_end": load_average(),
        **figures,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    staging = args.out.with_suffix(".json.tmp")
    staging.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(staging, args.out)
    print(
        f"engine_speed: plain {plain_s} s, ours cold {figures['ours_cold']['seconds']} s "
        f"(x{figures['speedup_cold']}), ours warm {figures['ours_warm']['seconds']} s (x{figures['speedup_warm']}); "
        f"{len(train)} images x {args.epochs} epoch(s), ours in {result['ours_precision']}, {args.threads} threads, "
        f"load {result['load_avg_1min_end']}, "
        f"{result['device']} -> {args.out}"
    )


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


if __name__ == "__main__":
    main()
