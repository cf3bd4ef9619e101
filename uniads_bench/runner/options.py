"""A run's options: what the command line chose, the suite they resolve to, the device and determinism."""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from uniads_bench.config import Suite, split_problems
from uniads_bench.errors import UserError


@dataclass(frozen=True)
class RunOptions:
    """Command-line choices that shape a run. Paths and how evaluations run (`workers`, `executor`,
    `ray_address`, `compile`) are not part of the resolved config: they do not change what a run decides.
    `precision` changes the numbers, so it is recorded beside the config and a resume must keep it."""

    tracks: tuple[str, ...] = ()
    methods: tuple[str, ...] = ()
    seeds: tuple[int, ...] = ()
    budget_scale: float = 1.0
    data_limit: int | None = None
    device: str = "auto"
    deterministic: bool = False
    out_dir: Path = Path("runs")
    resume: Path | None = None
    data_dir: Path = Path("data")
    leaderboard_dir: Path = Path("leaderboards")
    cache_dir: Path = field(default_factory=lambda: Path(os.environ.get("UNIADS_CACHE", "~/.cache/uniads-bench")))
    workers: int = 1
    executor: str = "local"
    ray_address: str | None = None
    compile: bool = False
    precision: str = "auto"


def resolve_suite(suite: Suite, options: RunOptions) -> Suite:
    """The suite restricted to the chosen tracks, methods and seeds, with budgets and epochs scaled."""
    problems = []
    for kind, chosen, available in (
        ("track", options.tracks, [t.name for t in suite.tracks]),
        ("method", options.methods, list(suite.methods)),
    ):
        problems += [f"unknown {kind} {c!r}; suite {suite.name} has: {', '.join(available)}" for c in chosen
                     if c not in available]
    if len(set(options.seeds)) != len(options.seeds):
        problems.append(f"--seeds has duplicates: {list(options.seeds)}")
    if not (math.isfinite(options.budget_scale) and options.budget_scale > 0):
        problems.append(f"--budget-scale must be a finite number > 0, got {options.budget_scale}")
    if options.data_limit is not None and options.data_limit < 20:
        problems.append(f"--data-limit must be at least 20 images, got {options.data_limit}")
    if options.executor == "ray" and options.workers > 1:
        problems.append("--workers applies to the local executor; with --executor ray each track's resources "
                        "decide how many evaluations share a device")
    if options.ray_address and options.executor != "ray":
        problems.append("--ray-address needs --executor ray")
    if problems:
        raise UserError("bad run options:", problems)

    def scale(epochs: int) -> int:
        return max(1, round(epochs * options.budget_scale))

    resolved = dataclasses.replace(
        suite,
        tracks=tuple(t for t in suite.tracks if not options.tracks or t.name in options.tracks),
        methods=tuple(m for m in suite.methods if not options.methods or m in options.methods),
        seeds=options.seeds or suite.seeds,
        val_count=suite.val_count if options.data_limit is None else min(suite.val_count, options.data_limit // 10),
        recipe=dataclasses.replace(suite.recipe, epochs=scale(suite.recipe.epochs)),
        teacher_recipe=dataclasses.replace(suite.teacher_recipe, epochs=scale(suite.teacher_recipe.epochs)),
        search=dataclasses.replace(
            suite.search,
            budget_gpu_hours=suite.search.budget_gpu_hours * options.budget_scale,
            epochs=scale(suite.search.epochs),
        ),
    )
    if options.data_limit is not None:
        problems = split_problems(resolved, options.data_limit)
        if problems:
            raise UserError("bad run options:", problems)
    return resolved


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda was asked for but no CUDA device is available; use --device cpu or auto")
    return torch.device(name)


def set_deterministic(enabled: bool) -> None:
    """Deterministic algorithms (and cuBLAS workspace) for bit-repeatable runs on one machine."""
    if enabled:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
    else:
        torch.backends.cudnn.benchmark = True
