"""The run loop: tracks x methods x seeds, search phase then final phase, journaled and resumable.

Every evaluation is appended to the run's journal before the run moves on. Resuming replays the same
deterministic sequence of asks; evaluations found in the journal are served from it instead of being
trained again, so an interrupted run finishes with the same results as an uninterrupted one. One process
writes a run directory at a time (`run_lock`); SIGINT/SIGTERM stop the run between journal records
(`stop_on_signals`); a search whose evaluations keep failing is aborted (`FailureBudget`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import os
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from uniads_bench.config import Suite, load_suite
from uniads_bench.data.arrays import DatasetArrays
from uniads_bench.distill import get_distiller
from uniads_bench.engine.cost import CostModel, load_profile
from uniads_bench.engine.result import EvalResult, Fidelity
from uniads_bench.engine.train import TrackContext, candidate_size
from uniads_bench.errors import UserError
from uniads_bench.leaderboard import (
    LeaderboardRow,
    board_json,
    load_board,
    mean_std,
    merge_rows,
    render_markdown,
    reported_rows,
)
from uniads_bench.leaderboard.render import track_table
from uniads_bench.models.counting import count_flops
from uniads_bench.rng import numpy_generator
from uniads_bench.runner.atomic import atomic_write_json, atomic_write_text, remove_stale_temps
from uniads_bench.runner.context import build_context, load_arrays
from uniads_bench.runner.executors import (
    Executor,
    InlineExecutor,
    Outcome,
    ProcessExecutor,
    threads_per_worker,
    worker_devices,
)
from uniads_bench.runner.journal import Journal
from uniads_bench.runner.ledger import BudgetLedger, PlannedEvaluation
from uniads_bench.runner.lock import board_lock, run_lock
from uniads_bench.runner.provenance import provenance
from uniads_bench.runner.signals import RunInterrupted, stop_on_signals
from uniads_bench.runner.teachers import TeacherRecord
from uniads_bench.runner.worker import EvalTask, WorkerSpec, adopt_context
from uniads_bench.search import Ask, FixedMethod, SearchSetup, get_method, make_searcher
from uniads_bench.search.loop import search_loop
from uniads_bench.search.methods import Method
from uniads_bench.search.metrics import hypervolume, normalised_points
from uniads_bench.space import Candidate, track_space

Log = Callable[[str], None]
Job = tuple[str, int]  # (method, seed)


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

    return dataclasses.replace(
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


class SearchAborted(UserError):
    """A search stopped by its failure budget; exit code 3 tells it apart from bad input (2)."""

    exit_code = 3


class FailureBudget:
    """The share of failed (`failed`/`oom`) evaluations over a search's last `window` evaluations.

    Rejected (over the parameter cap, at chance) and diverged candidates are what a search is for and do
    not count; crashes of a plug-in or of the machine do, since every further evaluation would crash too.
    """

    FAILURES = ("failed", "oom")

    def __init__(self, max_share: float, window: int) -> None:
        self.max_share = max_share
        self.recent: deque[EvalResult] = deque(maxlen=window)

    def record(self, result: EvalResult) -> str | None:
        """Add one result; return a summary when the window is full and its failure share is too high."""
        self.recent.append(result)
        failed = [r for r in self.recent if r.status in self.FAILURES]
        if len(self.recent) < (self.recent.maxlen or 0) or len(failed) <= self.max_share * len(self.recent):
            return None
        counts = ", ".join(f"{s}: {sum(r.status == s for r in failed)}" for s in self.FAILURES)
        return (f"{len(failed)} of the last {len(self.recent)} evaluations failed ({counts}; more than "
                f"search.max_failure_share = {self.max_share}); last reason: {failed[-1].reason}")


@dataclass
class RunResult:
    """What `run_suite` hands back to the CLI."""

    run_dir: Path
    rows: list[LeaderboardRow]
    table: str
    board_path: Path


@dataclass(frozen=True)
class SeedOutcome:
    """One (method, seed) of a track: its final result (None when the search found nothing feasible), and
    for search methods the GPU-hours charged and evaluations made."""

    final: EvalResult | None
    spent_gpu_hours: float | None
    evaluations: int
    wall_seconds: float
    hypervolume: float | None = None


class Runner:
    """Owns one run directory: its config, journal, evaluations, ledgers and outputs.

    The (method, seed) pairs of a track are independent; with an executor of several slots they run side by
    side in threads of this process, each sending its batches to the executor. Rows, ledgers and journal keys
    do not depend on that order, so the leaderboard is the same for every executor.
    """

    def __init__(self, suite: Suite, options: RunOptions, run_dir: Path, log: Log,
                 methods: Mapping[str, Method] | None = None) -> None:
        self.suite = suite
        self.methods = dict(methods or {})
        self.options = options
        self.run_dir = run_dir
        self.log = log
        self.journal = Journal(run_dir / "journal.jsonl")
        self.replay = {r["key"]: r for r in self.journal.read() if r["type"] != "retry"}
        self.device = pick_device(options.device)
        self.profile = load_profile(suite.hardware_profile)
        self.spec = WorkerSpec(suite, options.data_dir, options.cache_dir.expanduser(), options.data_limit,
                               options.deterministic, compile_final=options.compile, precision=options.precision)
        self.executor: Executor = InlineExecutor(self.spec, str(self.device))

    def run(self, data: DatasetArrays) -> RunResult:
        prov = provenance(self.device, self.suite.config_hash())
        atomic_write_json(self.run_dir / "provenance.json", prov)
        rows: list[LeaderboardRow] = []
        summary: dict[str, Any] = {"suite": self.suite.name, "run_id": self.run_dir.name, "tracks": {}}
        self.executor = make_executor(self.options, self.spec, self.device, self.log)
        try:
            for track in self.suite.tracks:
                ctx, teacher = build_context(self.suite, track, data, self.device,
                                             self.options.cache_dir.expanduser(), self.options.data_dir, self.log,
                                             compile_final=self.options.compile, precision=self.options.precision)
                track_rows = self._track_rows(ctx, teacher, prov)
                rows += track_rows
                summary["tracks"][track.name] = {"teacher": dataclasses.asdict(teacher),
                                                 "rows": [r.to_json() for r in track_rows]}
        finally:
            self.executor.close()
        table = "\n\n".join(f"{self.suite.name} / {t.name}\n" + track_table([r for r in rows if r.track == t.name])
                            for t in self.suite.tracks)
        atomic_write_json(self.run_dir / "summary.json", summary)
        atomic_write_text(self.run_dir / "leaderboard.md", render_markdown(self.suite.name, rows))
        self._publish(rows, prov)
        return RunResult(self.run_dir, rows, table, self.options.leaderboard_dir / f"{self.suite.name}.md")

    def _track_rows(self, ctx: TrackContext, teacher: TeacherRecord, prov: dict[str, Any]) -> list[LeaderboardRow]:
        """Every method at every seed on one track, one leaderboard row per method."""
        adopt_context(self.spec, ctx)
        cost = CostModel(self.profile, count_flops(ctx.teacher, ctx.input_shape))
        jobs = [(name, seed) for name in self.suite.methods for seed in self.suite.seeds]
        outcomes = self._run_jobs(jobs, lambda job: self._seed_outcome(ctx, cost, *job))
        if isinstance(self.executor, InlineExecutor):
            self.log(f"[{ctx.name}] teacher cache: {ctx.cache.stats()}")
        return [self._row(ctx, teacher, name, [outcomes[(name, seed)] for seed in self.suite.seeds], prov)
                for name in self.suite.methods]

    def _run_jobs(self, jobs: list[Job], work: Callable[[Job], SeedOutcome]) -> dict[Job, SeedOutcome]:
        """`work` for every job: in order in this thread for a one-slot executor, else side by side in threads.

        The first job to fail (or an interrupt of this thread) closes the executor, which ends the others.
        """
        if self.executor.slots == 1:
            return {job: work(job) for job in jobs}
        with ThreadPoolExecutor(self.executor.slots, thread_name_prefix="job") as threads:
            futures = {job: threads.submit(work, job) for job in jobs}
            try:
                wait(futures.values(), return_when=FIRST_EXCEPTION)
                for future in futures.values():
                    if future.done() and future.exception() is not None:
                        raise future.exception()  # type: ignore[misc]
            except BaseException:
                self.executor.close()
                for future in futures.values():
                    future.cancel()
                raise
            return {job: future.result() for job, future in futures.items()}

    def _publish(self, rows: list[LeaderboardRow], prov: dict[str, Any]) -> None:
        publish_rows(self.options.leaderboard_dir, self.suite, rows)
        from uniads_bench.leaderboard.plots import track_plots  # matplotlib only when a run publishes

        # Pareto and anytime-hypervolume plots of this run's searches, next to the board.
        track_plots(self.journal.read(), config_record(self.suite, self.options), self.options.leaderboard_dir)

    def _seed_outcome(self, ctx: TrackContext, cost: CostModel, name: str, seed: int) -> SeedOutcome:
        """The search (for search methods) and the final training of one method at one seed."""
        method = self.methods.get(name) or get_method(name)
        track = self.suite.track(ctx.name)
        prefix = f"{track.name}/{name}/{seed}"
        spent: float | None = None
        volume: float | None = None
        evaluations = 0
        wall = 0.0
        if isinstance(method, FixedMethod):
            hparams = {**method.hparams, **track.method_hparams.get(name, {})}
            chosen: Candidate | None = Candidate.make(ctx.family.reference, method.distiller, hparams)
        else:
            ledger = BudgetLedger(self.suite.search.budget_gpu_hours, cost)
            chosen, wall, volume = self._search(ctx, method, seed, ledger, prefix)
            spent, evaluations = ledger.spent_gpu_hours, ledger.evaluations
            if chosen is None:
                self.log(f"[{prefix}] no feasible candidate within the budget; seed has no final result")
                return SeedOutcome(None, spent, evaluations, wall, volume)
        [final] = self._evaluate(ctx, [f"{prefix}/final"], [Ask(chosen, Fidelity(ctx.recipe.epochs), False)], seed,
                                 "final", None)
        return SeedOutcome(final, spent, evaluations, wall + final.wall_seconds, volume)

    def _row(self, ctx: TrackContext, teacher: TeacherRecord, name: str, outcomes: list[SeedOutcome],
             prov: dict[str, Any]) -> LeaderboardRow:
        method = self.methods.get(name) or get_method(name)
        track = self.suite.track(ctx.name)
        finals = [o.final for o in outcomes if o.final is not None]
        spent = [o.spent_gpu_hours for o in outcomes if o.spent_gpu_hours is not None]
        volumes = [o.hypervolume for o in outcomes if o.hypervolume is not None]
        top1 = [f.top1 for f in finals]
        mean, std = mean_std(top1)
        best = [f.best_epoch_top1 for f in finals if f.best_epoch_top1 is not None]
        best_mean, best_std = mean_std(best) if best and len(best) == len(finals) else (None, None)
        return LeaderboardRow(
            suite=self.suite.name, track=track.name, method=name, kind="measured",
            student=self._student_label(ctx, method, finals),
            params=round(mean_std([f.params for f in finals])[0]) if finals else 0,
            macs=round(mean_std([f.macs for f in finals])[0]) if finals else 0,
            top1_mean=mean, top1_std=std, n=len(finals), top1_per_seed=tuple(top1),
            seeds=tuple(self.suite.seeds), hardware=prov["hardware"],
            budget_declared_gpu_hours=0.0 if isinstance(method, FixedMethod) else self.suite.search.budget_gpu_hours,
            budget_used_gpu_hours=mean_std(spent)[0] if spent else 0.0,
            search_evaluations=sum(o.evaluations for o in outcomes),
            hypervolume=mean_std(volumes)[0] if volumes else None,
            wall_seconds=sum(o.wall_seconds for o in outcomes), budget_scale=self.options.budget_scale,
            data_limit=self.options.data_limit or 0, precision="bf16" if ctx.bf16 else "fp32", teacher=track.teacher,
            teacher_top1=teacher.test_top1, config_hash=self.suite.config_hash(), git_commit=prov["git_commit"],
            package_version=prov["package_version"], torch=prov["torch"], run_id=self.run_dir.name,
            statuses=tuple(f.status for f in finals), best_epoch_top1_mean=best_mean, best_epoch_top1_std=best_std,
        )

    def _student_label(self, ctx: TrackContext, method: Any, finals: list[EvalResult]) -> str:
        if isinstance(method, FixedMethod):
            return "reference " + " ".join(f"{k}={v}" for k, v in sorted(ctx.family.reference.items()))
        return f"searched ({len(finals)} seeds)"

    def _search(self, ctx: TrackContext, method: Any, seed: int, ledger: BudgetLedger,
                prefix: str) -> tuple[Candidate | None, float, float]:
        """Run one search; returns its chosen candidate, measured seconds and final hypervolume (feasible results
        at the top fidelity, normalised as in `search.metrics`)."""
        track = self.suite.track(ctx.name)
        setup = SearchSetup(track_space(track), track.param_cap, self.suite.search.epochs,
                            numpy_generator(seed, "search", track.name, method.name), dict(method.options))
        searcher = make_searcher(method.searcher, setup)
        failures = FailureBudget(self.suite.search.max_failure_share, self.suite.search.failure_window)

        def evaluate(asks: list[Ask], start: int) -> list[EvalResult]:
            keys = [f"{prefix}/search/{start + i}" for i in range(len(asks))]
            results = self._evaluate(ctx, keys, asks, seed, "search", ledger)
            for done, result in enumerate(results, start=start + 1):
                verdict = failures.record(result)
                if verdict is not None:
                    atomic_write_json(self.run_dir / "aborted.json", {
                        "search": prefix, "after_evaluations": done, "summary": verdict,
                        "recent": [{"status": r.status, "reason": r.reason} for r in failures.recent]})
                    raise SearchAborted(f"search {prefix} aborted: {verdict}; see {self.run_dir / 'aborted.json'}")
            return results

        history = search_loop(searcher, evaluate, lambda asks: ledger.admit([self._plan(ctx, a, seed) for a in asks]),
                              max_evaluations=self.suite.search.max_evaluations)
        wall = sum(o.result.wall_seconds for o in history)
        chosen = searcher.chosen()
        key = f"{prefix}/search-end"
        if key not in self.replay:
            self.journal.append({"type": "search", "key": key, "track": track.name, "method": method.name,
                                 "seed": seed, "chosen": chosen.to_json() if chosen else None,
                                 "evaluations": ledger.evaluations, "spent_gpu_hours": ledger.spent_gpu_hours,
                                 "state": searcher.state()})
        self.log(f"[{prefix}] search done: {ledger.evaluations} evaluations, "
                 f"{ledger.spent_gpu_hours:.4g} of {ledger.declared_gpu_hours:.4g} GPU-h; chosen "
                 f"{chosen.describe() if chosen else 'none'}")
        volume = hypervolume(normalised_points(history, track.param_cap, self.suite.search.epochs))
        return chosen, wall, volume

    def _plan(self, ctx: TrackContext, ask: Ask, seed: int) -> PlannedEvaluation:
        """What the ask would charge if it trained to the end. A student over the parameter cap is rejected
        before training, so it is planned (and charged) as free."""
        params, macs = candidate_size(ctx, ask.candidate)
        if params > self.suite.track(ctx.name).param_cap:
            return PlannedEvaluation(0, 0, 0, 0)
        needs = get_distiller(ask.candidate.distiller).needs_for(ask.candidate.hparams_dict)
        views = [f"search/{seed}/{e}" for e in range(ask.fidelity.epochs)] if needs and "stages" not in needs else []
        return PlannedEvaluation(macs, ask.fidelity.epochs, len(ctx.search_train), len(ctx.val), tuple(views))

    def _evaluate(self, ctx: TrackContext, keys: list[str], asks: list[Ask], seed: int, phase: str,
                  ledger: BudgetLedger | None) -> list[EvalResult]:
        """A batch of journaled evaluations, in ask order: each is served from the journal on resume, or sent to
        the executor; results are charged and appended to the journal in ask order as soon as they are in."""
        track = self.suite.track(ctx.name)
        for key, ask in zip(keys, asks, strict=True):
            if key in self.replay and self.replay[key]["candidate_id"] != ask.candidate.id:
                raise UserError(f"journal record {key} holds candidate {self.replay[key]['candidate_id']} but the run "
                                f"asked for {ask.candidate.id}: the journal does not belong to this config")
        todo = [i for i, key in enumerate(keys) if key not in self.replay]
        tasks = [EvalTask(keys[i], ctx.name, asks[i].candidate, asks[i].fidelity.epochs, seed, phase, asks[i].guard,
                          track.param_cap if phase == "search" else None) for i in todo]
        arrived: dict[int, Outcome] = {}
        results: list[EvalResult] = []
        finished = self.executor.evaluate(tasks) if tasks else iter(())
        while len(results) < len(keys):
            position = len(results)
            if keys[position] in self.replay:
                results.append(self._book(ctx, keys[position], asks[position], seed, phase, ledger, None))
                continue
            while position not in arrived:
                task_index, outcome = next(finished)
                arrived[todo[task_index]] = outcome
            results.append(self._book(ctx, keys[position], asks[position], seed, phase, ledger, arrived[position]))
        return results

    def _book(self, ctx: TrackContext, key: str, ask: Ask, seed: int, phase: str, ledger: BudgetLedger | None,
              outcome: Outcome | None) -> EvalResult:
        """Charge one evaluation and journal it (with any retries it needed); `outcome` None: from the journal."""
        result = EvalResult.from_json(self.replay[key]["result"]) if outcome is None else outcome.result
        charge = 0.0
        if ledger is not None:
            scored = len(ctx.val) if result.epochs_done > 0 else 0
            charge = ledger.charge(result.macs, result.epochs_done, len(ctx.search_train), scored,
                                   result.teacher_views)
        if outcome is not None:
            for attempt, reason in enumerate(outcome.retries, start=1):
                self.journal.append({"type": "retry", "key": key, "attempt": attempt, "reason": reason})
                self.log(f"[{key}] retried after: {reason}")
            self.journal.append({
                "type": "evaluation", "key": key, "track": ctx.name, "phase": phase, "seed": seed,
                "candidate_id": ask.candidate.id, "candidate": ask.candidate.to_json(),
                "epochs": ask.fidelity.epochs, "guard": ask.guard, "charge_gpu_hours": charge,
                "spent_gpu_hours": ledger.spent_gpu_hours if ledger else 0.0, "result": result.to_json(),
            })
        status = "" if result.ok else f" [{result.status}: {result.reason}]"
        self.log(f"[{key}] {ask.candidate.describe()} {ask.fidelity.epochs} ep: top-1 {result.top1:.2f}%"
                 f"{status} ({result.wall_seconds:.1f}s{', journal' if outcome is None else ''})")
        return result


def make_executor(options: RunOptions, spec: WorkerSpec, device: torch.device, log: Log) -> Executor:
    """The executor `options` ask for: Ray, a pool of `--workers` processes per device, or this process."""
    if options.executor == "ray":
        from uniads_bench.runner.ray_executor import RayExecutor

        return RayExecutor(spec, device.type, options.ray_address, log)
    if options.workers <= 1:
        return InlineExecutor(spec, str(device))
    devices = worker_devices(device.type if device.index is None else str(device), options.workers)
    log(f"executor: {len(devices)} worker processes on {', '.join(sorted(set(devices)))}")
    return ProcessExecutor(dataclasses.replace(spec, threads=threads_per_worker(len(devices))), devices)


def board_header(suite: Suite) -> str:
    return (f"Suite `{suite.name}` ({suite.description}). Top-1 on the test split at the last epoch of the final "
            "phase, mean ± sample std over seeds; search decisions used only the validation split. The best-epoch "
            "column is the best test top-1 over the final phase's epochs (selected on the test set, as mdistiller's "
            "README reports; `-` for rows measured before it was recorded): read it only beside published best-epoch "
            "numbers. Measured rows come from `uniads-bench run` on the hardware named in each row; published "
            "numbers are listed apart.")


def publish_rows(directory: Path, suite: Suite, rows: list[LeaderboardRow]) -> None:
    """Merge `rows` into the suite's leaderboard under its lock, so concurrent runs never drop a row."""
    path = directory / f"{suite.name}.json"
    with board_lock(path):
        write_board(directory, suite, merge_rows(load_board(path), rows + reported_rows(suite)))


def write_board(directory: Path, suite: Suite, rows: list[LeaderboardRow]) -> None:
    """Write a suite's leaderboard records (JSON) and their rendering (Markdown), each atomically. Callers hold
    the board's lock, so temp files of these two files can only be a killed writer's and are removed."""
    for name in (f"{suite.name}.json", f"{suite.name}.md"):
        remove_stale_temps(directory, name)
    atomic_write_json(directory / f"{suite.name}.json", board_json(suite.name, rows))
    atomic_write_text(directory / f"{suite.name}.md", render_markdown(suite.name, rows, board_header(suite)))


def config_record(suite: Suite, options: RunOptions) -> dict[str, Any]:
    """The resolved config written into the run directory; its hash keys resume."""
    return {"suite": suite.to_dict(), "config_hash": suite.config_hash(), "budget_scale": options.budget_scale,
            "data_limit": options.data_limit, "deterministic": options.deterministic,
            "precision": options.precision}


def _diff_keys(old: Any, new: Any, path: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        keys = sorted(set(old) | set(new))
        return [d for k in keys for d in _diff_keys(old.get(k), new.get(k), f"{path}.{k}" if path else k)]
    return [] if old == new else [f"{path}: {old!r} -> {new!r}"]


def prepare_run_dir(suite: Suite, options: RunOptions) -> Path:
    """A fresh run directory with its config, or the resume directory after checking its config matches."""
    record = config_record(suite, options)
    if options.resume is not None:
        config_path = options.resume / "config.json"
        if not config_path.is_file():
            raise UserError(f"{options.resume} is not a run directory (no config.json); give a directory "
                            "written by `uniads-bench run`")
        old = json.loads(config_path.read_text())
        if any(old.get(k, "auto" if k == "precision" else None) != record[k]
               for k in ("config_hash", "budget_scale", "data_limit", "precision")):
            diffs = _diff_keys(old, record)
            raise UserError(f"cannot resume {options.resume}: the config changed", diffs[:20])
        return options.resume
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = options.out_dir / f"{suite.name}-{stamp}-{record['config_hash'][:8]}"
    run_dir.mkdir(parents=True, exist_ok=False)
    atomic_write_json(run_dir / "config.json", record)
    return run_dir


def run_suite(name: str, options: RunOptions, log: Log = print, extra: Method | None = None) -> RunResult:
    """Validate everything, then run the suite `name` (or resume it) and publish its leaderboard.

    Args:
        extra: a method that is not registered (`compare`'s user distiller); the run then trains only it.
    """
    suite = resolve_suite(load_suite(name), options)
    if extra is not None:
        suite = dataclasses.replace(suite, methods=(extra.name,))
    pick_device(options.device)
    if options.executor == "ray":
        from uniads_bench.runner.ray_executor import import_ray

        import_ray()  # a missing extra stops the run before any write
    data = load_arrays(suite, options.data_dir, options.data_limit)  # missing data stops the run before any write
    set_deterministic(options.deterministic)
    run_dir = prepare_run_dir(suite, options)
    log(f"run directory: {run_dir}")
    started = time.perf_counter()
    with stop_on_signals(), run_lock(run_dir):
        remove_stale_temps(run_dir)  # a killed run's half-written summary or board
        try:
            result = Runner(suite, options, run_dir, log, {extra.name: extra} if extra else None).run(data)
        except RunInterrupted as exc:
            raise RunInterrupted(exc.signum, run_dir) from None
    log(f"finished in {time.perf_counter() - started:.0f}s")
    return result
