"""Teachers: trained once per (suite, track, recipe) or imported from a checkpoint, cached with a record of
their sha256, test accuracy and provenance.

A cached teacher is verified by sha256 before every use; a mismatch is a clear error naming the file,
never a silent retrain over a corrupt checkpoint. An imported teacher takes precedence over a trained one.
All records of a cache are also listed in ``teachers/registry.json``.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from uniads_bench.config import Suite, Track
from uniads_bench.data.loader import DeviceDataset
from uniads_bench.durable import atomic_write_bytes, atomic_write_json
from uniads_bench.engine.train import evaluate_top1, train_model
from uniads_bench.errors import UserError
from uniads_bench.models.base import build_seeded
from uniads_bench.rng import derive_seed

TEACHER_SEED = 0
# Accuracy may move this much between devices and kernels before `verify` calls a teacher changed.
VERIFY_TOLERANCE_PCT = 0.1


@dataclass(frozen=True)
class TeacherRecord:
    """Provenance of a cached teacher checkpoint."""

    suite: str
    track: str
    model: str
    sha256: str
    test_top1: float
    origin: str
    recipe: dict[str, Any]
    seed: int
    torch: str


def build_teacher_model(name: str, num_classes: int) -> nn.Module:
    """The (untrained) teacher network called `name`: a digits CNN or any zoo model, its initial weights a
    function of the teacher seed alone, so a trained teacher is the same on every run."""
    from uniads_bench.models.digits import TEACHERS
    from uniads_bench.models.zoo import build_model

    seed = derive_seed(TEACHER_SEED, "teacher-init", name)
    if name in TEACHERS:
        return build_seeded(lambda: TEACHERS[name](num_classes), seed)
    return build_model(name, num_classes, seed=seed)


def trained_path(cache_dir: Path, suite: Suite, track: Track, train_images: int) -> Path:
    """Where the teacher trained with the suite's teacher recipe on `train_images` images is cached."""
    key = json.dumps({"recipe": asdict(suite.teacher_recipe), "dataset": suite.dataset, "images": train_images},
                     sort_keys=True)
    return cache_dir / "teachers" / suite.name / f"{track.name}-{track.teacher}-{_short_hash(key)}.pt"


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def imported_path(cache_dir: Path, suite: Suite, track: Track) -> Path:
    return cache_dir / "teachers" / suite.name / f"{track.name}-{track.teacher}-imported.pt"


def cached_teacher(
    cache_dir: Path, suite: Suite, track: Track, train_images: int
) -> tuple[Path, TeacherRecord] | None:
    """The checkpoint and record of the track's teacher, imported first, or None when there is none."""
    for path in (imported_path(cache_dir, suite, track), trained_path(cache_dir, suite, track, train_images)):
        record_path = path.with_suffix(".json")
        if path.exists() and record_path.exists():
            try:
                return path, TeacherRecord(**json.loads(record_path.read_text()))
            except (json.JSONDecodeError, TypeError) as exc:
                raise UserError(f"teacher record {record_path} is damaged ({exc}); delete it and its .pt") from exc
    return None


def load_teacher(path: Path, record: TeacherRecord, model: nn.Module) -> nn.Module:
    """Load a cached checkpoint into `model` after checking its sha256 against the record."""
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != record.sha256:
        raise UserError(f"teacher checkpoint {path} does not match its recorded sha256; delete it to retrain "
                        "or re-import it")
    try:
        model.load_state_dict(torch.load(io.BytesIO(data), map_location="cpu", weights_only=True))
    except (RuntimeError, KeyError, EOFError) as exc:
        raise UserError(f"teacher checkpoint {path} does not fit model {record.model!r}: {exc}") from exc
    return model


def ensure_teacher(
    suite: Suite, track: Track, train: DeviceDataset, test: DeviceDataset, num_classes: int, cache_dir: Path,
    log=print,
) -> tuple[nn.Module, TeacherRecord]:
    """The track's teacher, frozen and in eval mode: loaded from the cache (verified), or trained and cached."""
    model = build_teacher_model(track.teacher, num_classes)
    found = cached_teacher(cache_dir, suite, track, len(train))
    if found is not None:
        path, record = found
        load_teacher(path, record, model)
    elif not track.teacher_train:
        raise UserError(f"track {suite.name}/{track.name} needs an imported teacher ({track.teacher}) and none is "
                        f"cached in {cache_dir}; run `uniads-bench teacher import {suite.name} {track.name} PATH` "
                        "with its published weights")
    else:
        log(f"[{suite.name}/{track.name}] training teacher {track.teacher} for {suite.teacher_recipe.epochs} epochs")
        train_model(model, suite.teacher_recipe, train, TEACHER_SEED)
        record = _store(cache_dir, trained_path(cache_dir, suite, track, len(train)), suite, track, model, test,
                        f"trained on {len(train)} images",
                        asdict(suite.teacher_recipe))
        log(f"[{suite.name}/{track.name}] teacher test top-1 {record.test_top1:.2f}% (sha256 {record.sha256[:12]})")
    return _frozen(model.to(train.device)), record


def import_teacher(
    suite: Suite, track: Track, source: Path, test: DeviceDataset, num_classes: int, cache_dir: Path
) -> TeacherRecord:
    """Import a checkpoint (mdistiller/RepDistiller ``{"model": state_dict}``, ``{"state_dict": ...}`` or a
    plain state_dict), score it on the test split and cache it as the track's teacher."""
    if not source.is_file():
        raise UserError(f"teacher checkpoint {source} does not exist")
    raw = source.read_bytes()
    try:
        checkpoint = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise UserError(f"teacher checkpoint {source} cannot be read ({type(exc).__name__}: {exc}); "
                        "is the file complete?") from exc
    state = _state_dict(checkpoint, source)
    model = build_teacher_model(track.teacher, num_classes)
    try:
        model.load_state_dict(_adapt_keys(state, model))
    except RuntimeError as exc:
        raise UserError(f"teacher checkpoint {source} does not fit model {track.teacher!r}: {exc}") from exc
    origin = f"imported from {source} (sha256 {hashlib.sha256(raw).hexdigest()})"
    return _store(cache_dir, imported_path(cache_dir, suite, track), suite, track, model.to(test.device), test,
                  origin, {})


def verify_teacher(suite: Suite, track: Track, train_images: int, test: DeviceDataset, num_classes: int,
                   cache_dir: Path) -> tuple[TeacherRecord, float]:
    """Check the cached teacher's sha256 and re-measure its test accuracy; raise if either moved."""
    found = cached_teacher(cache_dir, suite, track, train_images)
    if found is None:
        raise UserError(f"no teacher cached for {suite.name}/{track.name} in {cache_dir}; run "
                        f"`uniads-bench teacher train {suite.name} {track.name}` or `teacher import`")
    path, record = found
    model = load_teacher(path, record, build_teacher_model(track.teacher, num_classes)).to(test.device)
    top1 = evaluate_top1(model, test)
    if abs(top1 - record.test_top1) > VERIFY_TOLERANCE_PCT:
        raise UserError(f"teacher {path} scores {top1:.2f}% on the test split but its record says "
                        f"{record.test_top1:.2f}%")
    return record, top1


def _store(cache_dir: Path, path: Path, suite: Suite, track: Track, model: nn.Module, test: DeviceDataset,
           origin: str, recipe: dict[str, Any]) -> TeacherRecord:
    top1 = evaluate_top1(model, test)
    buffer = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, buffer)
    data = buffer.getvalue()
    record = TeacherRecord(suite.name, track.name, track.teacher, hashlib.sha256(data).hexdigest(), top1, origin,
                           recipe, TEACHER_SEED, torch.__version__)
    atomic_write_bytes(path, data)
    atomic_write_json(path.with_suffix(".json"), asdict(record))
    registry_path = cache_dir / "teachers" / "registry.json"
    registry = json.loads(registry_path.read_text()) if registry_path.exists() else {}
    registry[str(path.relative_to(cache_dir / "teachers"))] = asdict(record)
    atomic_write_json(registry_path, registry)
    return record


def _state_dict(checkpoint: Any, source: Path) -> dict[str, torch.Tensor]:
    if isinstance(checkpoint, dict):
        for key in ("model", "state_dict"):
            if isinstance(checkpoint.get(key), dict):
                return checkpoint[key]
        if checkpoint and all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
            return checkpoint
    raise UserError(f"teacher checkpoint {source} holds no state_dict (expected a state_dict, or one under "
                    "'model' or 'state_dict')")


def _adapt_keys(state: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """Strip DataParallel's ``module.`` prefix and map RepDistiller's ResNet50 names to ours."""
    state = {k.removeprefix("module."): v for k, v in state.items()}
    if set(state) != set(model.state_dict()):
        from uniads_bench.models.cifar.resnet_imagenet_style import from_repdistiller_state_dict

        renamed = from_repdistiller_state_dict(state)
        if set(renamed) == set(model.state_dict()):
            return renamed
    return state


def _frozen(model: nn.Module) -> nn.Module:
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model
