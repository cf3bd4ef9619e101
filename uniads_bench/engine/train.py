"""Train one candidate at one fidelity and score it: the function a search calls hundreds of times.

The loop keeps data on the device, takes teacher outputs from the track's cache when the distiller reads
only logits and pooled features, and reads loss values back to the host only every `check_every` steps
for the guards. Every failure mode of a candidate ends in an `EvalResult` with a status and a reason, so
one bad candidate never stops a search.
"""

from __future__ import annotations

import contextlib
import functools
import time
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import torch
from torch import Tensor, nn

from uniads_bench.budget import over_cap_reason
from uniads_bench.candidate import Candidate
from uniads_bench.config import Recipe
from uniads_bench.data.loader import Augment, DeviceDataset, EpochPlan, batch_bounds, train_batch_bounds
from uniads_bench.distill import Distiller, Progress, build_distiller
from uniads_bench.engine.teacher_cache import TeacherCache
from uniads_bench.errors import UserError
from uniads_bench.models.counting import count_flops, count_params
from uniads_bench.models.family import StudentFamily
from uniads_bench.models.taps import TapDims, Taps
from uniads_bench.results import EvalResult, Fidelity
from uniads_bench.rng import derive_seed

# Batch sizes of the no-grad passes (teacher outputs, scoring): large batches keep a GPU busy, while on a CPU
# activations of a 512-image batch spill out of the caches (measured 1.6x slower for a resnet32x4 teacher).
TEACHER_BATCH = {"cuda": 512, "cpu": 64}
EVAL_BATCH = {"cuda": 1024, "cpu": 64}
PRECISIONS = ("auto", "bf16", "fp32")


def use_bf16(device: torch.device, precision: str, phase: str) -> bool:
    """Whether a training or scoring of `phase` ("search", "final" or "teacher") runs under bf16 autocast.

    ``auto``: search rungs on CUDA only, where bf16 pays most and a rung's ranking is all that is read; final
    phases and teachers train and score in fp32, as the KD references do, so a leaderboard row can match them
    (what bf16 changes: `benchmarks/bf16_effect.py`). ``bf16``: every phase, also on a CPU (fast where it has
    AVX512-BF16 or AMX: measured 2x on this project's EPYC). ``fp32``: never. BatchNorm stays fp32.
    """
    if precision not in PRECISIONS:
        raise UserError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    if phase not in ("search", "final", "teacher"):
        raise ValueError(f"unknown phase {phase!r}")
    if precision == "auto":
        return device.type == "cuda" and phase == "search"
    return precision == "bf16" and phase != "teacher"


def _no_grad_batch(sizes: dict[str, int], device: torch.device) -> int:
    return sizes.get(device.type, sizes["cpu"])


class TrainData(Protocol):
    """What the training loop reads: a `DeviceDataset` (arrays on the device), or a stream of decoded
    full-resolution batches (`data.imagenet.ImageFolderStream`), which the teacher cache cannot serve."""

    device: torch.device
    supports_teacher_cache: bool

    def __len__(self) -> int: ...

    def batches(
        self, seed: int, epoch: int, batch_size: int, augment: Augment
    ) -> Iterator[tuple[int, int, Tensor, Tensor]]: ...

    def eval_batches(self, batch_size: int) -> Iterator[tuple[Tensor, Tensor]]: ...


@dataclass(frozen=True)
class Guards:
    """Loss-rejection thresholds (applied in full during the lowest rung of a search)."""

    check_every: int = 10
    max_distill_to_ce: float = 1e3
    divergence_factor: float = 10.0
    chance_margin: float = 1.5
    full: bool = False


@dataclass
class TrackContext:
    """Everything the engine needs to evaluate candidates of one track on one device."""

    name: str
    family: StudentFamily
    num_classes: int
    input_shape: tuple[int, int, int]
    search_train: DeviceDataset
    val: DeviceDataset
    final_train: TrainData
    test: TrainData
    teacher: nn.Module
    recipe: Recipe
    device: torch.device
    cache: TeacherCache
    guards: Guards = field(default_factory=Guards)
    final_input_shape: tuple[int, int, int] | None = None  # when the final phase trains at another resolution
    compile_final: bool = False  # torch.compile the student's forward in final-phase trainings (long runs)
    precision: str = "auto"  # of candidates' trainings and scoring, per phase (see `use_bf16`)

    @property
    def teacher_dims(self) -> TapDims:
        return self.teacher.tap_dims()

    def bf16(self, phase: str) -> bool:
        """Whether candidates of `phase` train and are scored under bf16 autocast."""
        return use_bf16(self.device, self.precision, phase)


@dataclass
class _Fit:
    """What the training loop observed."""

    status: str = "ok"
    reason: str = ""
    epochs_done: float = 0.0
    loss_first: dict[str, float] = field(default_factory=dict)
    loss_last: dict[str, float] = field(default_factory=dict)
    views: list[str] = field(default_factory=list)
    epoch_top1: list[float] = field(default_factory=list)  # scored after each epoch (final phase only)


def apply_optim_genes(recipe: Recipe, candidate: Candidate) -> Recipe:
    """The recipe with the candidate's optimisation genes applied (learning-rate multiplier, weight decay)."""
    optim = candidate.optim_dict
    return replace(
        recipe,
        lr=recipe.lr * float(optim.get("lr_mult", 1.0)),
        weight_decay=float(optim.get("weight_decay", recipe.weight_decay)),
    )


def candidate_size(ctx: TrackContext, candidate: Candidate) -> tuple[int, int]:
    """(parameters, multiply-accumulates per image) of the candidate's student, without training it."""
    with _seeded(0, torch.device("cpu")):
        student = ctx.family.build(candidate.arch_dict, ctx.num_classes)
    return count_params(student), count_flops(student, ctx.input_shape)


def train_candidate(
    ctx: TrackContext,
    candidate: Candidate,
    fidelity: Fidelity,
    seed: int,
    phase: str,
    guard: bool = False,
    param_cap: int | None = None,
    score_test: bool = False,
) -> EvalResult:
    """Train `candidate` for `fidelity.epochs` and score it.

    Args:
        phase: ``"search"`` trains on the search split and scores validation accuracy; ``"final"`` trains
            on train+validation and scores the test split, once, at the last epoch.
        guard: apply the full loss-rejection protocol (the lowest rung of a search).
        param_cap: a student above this many parameters is rejected before any training.
        score_test: also score a completed search-phase training on the test split (`EvalResult.test_top1`);
            scoring draws no randomness, so the training and its validation score are what a search gets.

    Returns:
        An EvalResult; candidate failures are statuses, never exceptions. User errors (an unknown
        distiller, bad hyperparameters) still raise `UserError`.
    """
    train_ds, score_ds = (ctx.search_train, ctx.val) if phase == "search" else (ctx.final_train, ctx.test)
    bf16 = ctx.bf16(phase)
    started = time.perf_counter()
    hits0, misses0 = ctx.cache.hits, ctx.cache.misses
    with _seeded(derive_seed(seed, "train", candidate.id, fidelity.epochs, phase), ctx.device):
        student = ctx.family.build(candidate.arch_dict, ctx.num_classes)
        distiller = build_distiller(candidate.distiller, student.tap_dims(), ctx.teacher_dims, candidate.hparams_dict)
        params = count_params(student)
        shape = ctx.final_input_shape if phase == "final" and ctx.final_input_shape else ctx.input_shape
        macs = count_flops(student, shape)
        fit = _Fit()
        top1, tb, test_top1 = 0.0, "", None
        try:
            if param_cap is not None and params > param_cap:
                fit.status, fit.reason = "rejected", over_cap_reason(params, param_cap)
                return _result(ctx, candidate, fit, 0.0, params, macs, started, hits0, misses0, "")
            student.to(ctx.device, memory_format=_memory_format(ctx.device))
            distiller.to(ctx.device)
            recipe = apply_optim_genes(ctx.recipe, candidate)
            fit = _fit(student, distiller, train_ds, recipe, fidelity.epochs, seed, phase,
                       replace(ctx.guards, full=guard), ctx.teacher, ctx.cache, candidate.hparams_dict,
                       compiled=ctx.compile_final and phase == "final", bf16=bf16,
                       score_each_epoch=score_ds if phase == "final" else None)
            completed = fit.epoch_top1 and fit.epochs_done == fidelity.epochs
            top1 = fit.epoch_top1[-1] if completed else evaluate_top1(student, score_ds, bf16)
            if guard and fit.status == "ok" and top1 <= ctx.guards.chance_margin * 100.0 / ctx.num_classes:
                fit.status, fit.reason = "rejected", f"accuracy at chance ({top1:.1f}%) at the end of the rung"
            if score_test and phase == "search" and fit.status == "ok":
                test_top1 = evaluate_top1(student, ctx.test, bf16)
        except UserError:
            raise
        except torch.cuda.OutOfMemoryError:
            fit.status, fit.reason, tb = "oom", "out of device memory", traceback.format_exc()
        except Exception as exc:  # a candidate's crash is recorded, the search goes on
            fit.status, fit.reason, tb = "failed", f"{type(exc).__name__}: {exc}", traceback.format_exc()
        finally:
            del student, distiller
            if ctx.device.type == "cuda":
                torch.cuda.empty_cache()
    return _result(ctx, candidate, fit, top1, params, macs, started, hits0, misses0, tb, test_top1)


def _result(
    ctx: TrackContext, candidate: Candidate, fit: _Fit, top1: float, params: int, macs: int, started: float,
    hits0: int, misses0: int, tb: str, test_top1: float | None = None,
) -> EvalResult:
    return EvalResult(
        candidate_id=candidate.id,
        status=fit.status,
        reason=fit.reason,
        top1=top1,
        params=params,
        macs=macs,
        epochs_done=fit.epochs_done,
        teacher_views=tuple(fit.views),
        wall_seconds=time.perf_counter() - started,
        loss_first=fit.loss_first,
        loss_last=fit.loss_last,
        cache_hits=ctx.cache.hits - hits0,
        cache_misses=ctx.cache.misses - misses0,
        traceback=tb,
        best_epoch_top1=max(fit.epoch_top1) if fit.epoch_top1 else None,
        best_epoch=1 + fit.epoch_top1.index(max(fit.epoch_top1)) if fit.epoch_top1 else None,
        test_top1=test_top1,
    )


def _fit(
    student: nn.Module,
    distiller: Distiller,
    data: TrainData,
    recipe: Recipe,
    epochs: int,
    seed: int,
    phase: str,
    guards: Guards | None,
    teacher: nn.Module | None = None,
    cache: TeacherCache | None = None,
    distiller_hparams: Mapping[str, Any] | None = None,
    compiled: bool = False,
    bf16: bool = False,
    score_each_epoch: TrainData | None = None,
) -> _Fit:
    """The training loop; `guards` None means no guards at all, else the full protocol when `guard`.

    `compiled` runs the student's forward through `torch.compile`: its compile time (tens of seconds) pays
    off only over a long training, so the engine asks for it in final-phase trainings only.
    `score_each_epoch` is scored after every epoch into `epoch_top1`: the final phase does it on the test split
    so that a row can show the best-test-epoch figure that mdistiller's README reports beside the last-epoch
    one; searches never pass it, so no search decision can see a test score.
    """
    augment = Augment(recipe.augment_pad, recipe.augment_flip)
    bounds = train_batch_bounds(len(data), recipe.batch_size)
    total_steps = epochs * len(bounds)
    milestones = [round(f * total_steps) for f in recipe.milestones]
    trainable = list(student.parameters()) + list(distiller.parameters())
    optimizer = torch.optim.SGD(trainable, lr=recipe.lr, momentum=recipe.momentum, weight_decay=recipe.weight_decay)
    needs = type(distiller).needs_for(distiller_hparams or {})
    cached = cache is not None and bool(needs) and "stages" not in needs and data.supports_teacher_cache
    check_every = guards.check_every if guards else 50
    fit = _Fit()
    window: dict[str, Tensor] = {}
    step = 0
    forward_taps = torch.compile(student.forward_taps) if compiled else student.forward_taps
    student.train()
    distiller.train()
    for epoch in range(epochs):
        epoch_teacher = None
        if cached:
            key = f"{phase}/{seed}/{epoch}"
            fit.views.append(key)
            plan = data.plan(seed, epoch, augment)
            epoch_teacher = cache.get(key, functools.partial(teacher_epoch_outputs, teacher, data, plan, augment.pad,
                                                             bf16))
        for start, stop, x, y in data.batches(seed, epoch, recipe.batch_size, augment):
            lr = recipe.lr * recipe.gamma ** sum(step >= m for m in milestones)
            for group in optimizer.param_groups:
                group["lr"] = lr
            x = _layout(x)
            with _autocast(data.device, bf16):
                s_taps = forward_taps(x, stages="stages" in needs)
                if not needs:
                    t_taps = None
                elif epoch_teacher is not None:
                    t_taps = Taps(epoch_teacher[0][start:stop], epoch_teacher[1][start:stop])
                else:
                    with torch.inference_mode():
                        online = teacher.forward_taps(x, stages=True)
                    t_taps = Taps(online.logits.clone(), online.features.clone(),
                                  tuple(stage.clone() for stage in online.stages))
                terms = distiller(s_taps, t_taps, y, Progress(epoch + (start / len(data)), epochs))
            loss = sum(terms.values())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            for name, value in terms.items():
                window[name] = window.get(name, 0.0) + value.detach().float()
            if step % check_every == 0 or step == total_steps:
                means = {k: float(v) / ((step - 1) % check_every + 1) for k, v in window.items()}
                window = {}
                first_window = not fit.loss_first
                if first_window:
                    fit.loss_first = means
                fit.loss_last = means
                fit.epochs_done = step / len(bounds)
                verdict = _judge(means, fit.loss_first, guards, first_window) if guards else None
                if verdict:
                    fit.status, fit.reason = verdict
                    return fit
        if score_each_epoch is not None:
            fit.epoch_top1.append(evaluate_top1(student, score_each_epoch, bf16))
            student.train()
    fit.epochs_done = float(epochs)
    return fit


def _judge(
    means: dict[str, float], first: dict[str, float], guards: Guards, first_window: bool
) -> tuple[str, str] | None:
    """The guards' verdict on one window of mean loss terms, or None to keep training.

    Outside the lowest rung (`guards.full` false) a broken candidate is `diverged`; inside it, `rejected`
    (with the extra distillation-to-CE test), which the search treats as infeasible.
    """
    guard = guards.full
    bad = [k for k, v in means.items() if not torch.isfinite(torch.tensor(v))]
    if bad:
        return ("rejected" if guard else "diverged"), f"non-finite loss term(s) {', '.join(bad)}"
    total, start = sum(means.values()), sum(first.values())
    if not first_window and total > guards.divergence_factor * max(start, 1e-8):
        return ("rejected" if guard else "diverged"), f"loss diverged from {start:.4g} to {total:.4g}"
    if guard and first_window and "ce" in means:
        distill = total - means["ce"]
        if distill > guards.max_distill_to_ce * max(means["ce"], 1e-8):
            return "rejected", f"distillation terms ({distill:.3g}) dwarf cross-entropy ({means['ce']:.3g})"
    return None


def teacher_epoch_outputs(teacher: nn.Module, data: DeviceDataset, plan: EpochPlan, pad: int,
                          bf16: bool) -> tuple[Tensor, Tensor]:
    """The teacher's logits and pooled features for every sample of an epoch plan, in plan order."""
    logits, features = [], []
    with torch.inference_mode(), _autocast(data.device, bf16):
        for start, stop in batch_bounds(len(data), _no_grad_batch(TEACHER_BATCH, data.device), drop_last=False):
            x, _ = data.batch(plan, start, stop, pad)
            taps = teacher.forward_taps(x)
            logits.append(taps.logits.float())
            features.append(taps.features.float())
    return torch.cat(logits), torch.cat(features)


def evaluate_top1(model: nn.Module, data: TrainData, bf16: bool = False) -> float:
    """Top-1 accuracy (%) of `model` on `data`, without augmentation, with one host sync."""
    model.eval()
    correct = torch.zeros((), dtype=torch.int64, device=data.device)
    with torch.inference_mode(), _autocast(data.device, bf16):
        for x, y in data.eval_batches(_no_grad_batch(EVAL_BATCH, data.device)):
            correct += (model(_layout(x)).argmax(1) == y).sum()
    return 100.0 * int(correct) / len(data)


def train_model(model: nn.Module, recipe: Recipe, data: TrainData, seed: int) -> None:
    """Train a network with cross-entropy for `recipe.epochs` (teachers): the same loop, no guards, fp32."""
    with _seeded(derive_seed(seed, "teacher"), data.device):
        model.to(data.device, memory_format=_memory_format(data.device))
        distiller = build_distiller("ce", model.tap_dims(), model.tap_dims(), {})
        fit = _fit(model, distiller, data, recipe, recipe.epochs, seed, "teacher", guards=None)
    if fit.status != "ok":
        raise RuntimeError(f"teacher training failed: {fit.reason}")


@contextlib.contextmanager
def _seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Run the block with torch's global RNG forked and seeded, so initialisation is a function of `seed`."""
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def _memory_format(device: torch.device) -> torch.memory_format:
    return torch.channels_last if device.type == "cuda" else torch.preserve_format


def _layout(x: Tensor) -> Tensor:
    """channels_last on CUDA, where tensor-core convolutions want it; CPU keeps the default layout."""
    return x.contiguous(memory_format=torch.channels_last) if x.is_cuda else x


def _autocast(device: torch.device, bf16: bool) -> contextlib.AbstractContextManager:
    return torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
