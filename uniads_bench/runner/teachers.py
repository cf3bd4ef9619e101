"""Teachers: trained once per (suite, track, recipe), cached with their sha256 and test accuracy.

A cached teacher is verified by sha256 before use; a mismatch is a clear error naming the file, never a
silent retrain over a corrupt checkpoint.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from uniads_bench.config import Suite, Track
from uniads_bench.data.loader import DeviceDataset
from uniads_bench.engine.train import evaluate_top1, train_model
from uniads_bench.errors import UserError
from uniads_bench.runner.atomic import atomic_write_bytes, atomic_write_json

TEACHER_SEED = 0


@dataclass(frozen=True)
class TeacherRecord:
    """Provenance of a cached teacher checkpoint."""

    suite: str
    track: str
    model: str
    sha256: str
    test_top1: float
    recipe: dict
    seed: int
    torch: str


def build_teacher_model(name: str, num_classes: int) -> nn.Module:
    """The (untrained) teacher network called `name`."""
    from uniads_bench.models.digits import TEACHERS

    if name not in TEACHERS:
        raise UserError(f"unknown teacher model {name!r}; known: {', '.join(sorted(TEACHERS))}")
    return TEACHERS[name](num_classes)


def teacher_path(cache_dir: Path, suite: Suite, track: Track) -> Path:
    recipe_hash = hashlib.sha256(json.dumps(asdict(suite.teacher_recipe), sort_keys=True).encode()).hexdigest()[:10]
    return cache_dir / "teachers" / suite.name / f"{track.name}-{track.teacher}-{recipe_hash}.pt"


def ensure_teacher(
    suite: Suite, track: Track, train: DeviceDataset, test: DeviceDataset, num_classes: int, cache_dir: Path,
    log=print,
) -> tuple[nn.Module, TeacherRecord]:
    """Load the cached teacher of `track` (verifying its sha256), or train, score and cache it."""
    path = teacher_path(cache_dir, suite, track)
    record_path = path.with_suffix(".json")
    model = build_teacher_model(track.teacher, num_classes)
    if path.exists() and record_path.exists():
        record = TeacherRecord(**json.loads(record_path.read_text()))
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != record.sha256:
            raise UserError(f"teacher checkpoint {path} does not match its recorded sha256; delete it to retrain")
        try:
            model.load_state_dict(torch.load(io.BytesIO(data), map_location="cpu", weights_only=True))
        except (RuntimeError, KeyError) as exc:
            raise UserError(f"teacher checkpoint {path} does not fit model {track.teacher!r}: {exc}") from exc
        model.to(train.device)
    else:
        log(f"[{suite.name}/{track.name}] training teacher {track.teacher} for {suite.teacher_recipe.epochs} epochs")
        train_model(model, suite.teacher_recipe, train, TEACHER_SEED)
        top1 = evaluate_top1(model, test)
        buffer = io.BytesIO()
        torch.save({k: v.cpu() for k, v in model.state_dict().items()}, buffer)
        data = buffer.getvalue()
        record = TeacherRecord(
            suite.name, track.name, track.teacher, hashlib.sha256(data).hexdigest(), top1,
            asdict(suite.teacher_recipe), TEACHER_SEED, torch.__version__,
        )
        atomic_write_bytes(path, data)
        atomic_write_json(record_path, asdict(record))
        log(f"[{suite.name}/{track.name}] teacher test top-1 {top1:.2f}% (sha256 {record.sha256[:12]})")
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model, record


