"""The run loop: tracks x methods x seeds, search phase then final phase, journaled and resumable.

Every evaluation is appended to the run's journal before the run moves on. Resuming replays the same
deterministic sequence of asks; evaluations found in the journal are served from it instead of being
trained again, so an interrupted run finishes with the same results as an uninterrupted one. One process
writes a run directory at a time (`run_lock`); SIGINT/SIGTERM stop the run between journal records
(`stop_on_signals`); a search whose evaluations keep failing is aborted (`FailureBudget`).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from uniads_bench.budget import BudgetLedger, FlopCost, PlannedEvaluation, within_cap
from uniads_bench.candidate import Candidate
from uniads_bench.config import Suite, load_suite
from uniads_bench.data.arrays import DatasetArrays
from uniads_bench.data.loader import Augment, DeviceDataset
from uniads_bench.distill import get_distiller
from uniads_bench.durable import atomic_write_json, atomic_write_text, remove_stale_temps
from uniads_bench.engine.cost import load_profile
from uniads_bench.engine.train import TrackContext, candidate_size
from uniads_bench.errors import UserError
from uniads_bench.journal import EvaluationRecord, RetryRecord, SearchEndRecord
from uniads_bench.leaderboard import LeaderboardRow, load_board, publish_rows, render_markdown
from uniads_bench.leaderboard.render import budget_unit, track_table, unranked_table
from uniads_bench.leaderboard.rows import RunConditions, SeedOutcome, measured_row
from uniads_bench.locks import run_lock
from uniads_bench.methods import FixedMethod, Method, get_method
from uniads_bench.models.counting import count_flops
from uniads_bench.results import EvalResult, Fidelity
from uniads_bench.rng import numpy_generator
from uniads_bench.runner.context import build_context, load_arrays
from uniads_bench.runner.executors import Executor, InlineExecutor, Outcome, make_executor
from uniads_bench.runner.failures import FailureBudget, SearchAborted
from uniads_bench.runner.journal import Journal
from uniads_bench.runner.options import RunOptions, pick_device, resolve_suite, set_deterministic
from uniads_bench.runner.progress import Progress
from uniads_bench.runner.provenance import provenance
from uniads_bench.runner.rundir import config_record, prepare_run_dir
from uniads_bench.runner.signals import RunInterrupted, stop_on_signals
from uniads_bench.runner.worker import EvalTask, WorkerSpec, adopt_context
from uniads_bench.search import Ask, SearchSetup, make_searcher
from uniads_bench.search.base import feasible
from uniads_bench.search.loop import search_loop
from uniads_bench.search.metrics import hypervolume, normalised_points
from uniads_bench.space import known_points, track_space
from uniads_bench.teachers import TeacherRecord

Log = Callable[[str], None]
Job = tuple[str, int]  # (method, seed)


@dataclass
class RunResult:
    """What `run_suite` hands back to the CLI."""

    run_dir: Path
    rows: list[LeaderboardRow]
    table: str
    board_path: Path


class Runner:
    """Owns one run directory: its config, journal, evaluations, ledgers and outputs.

    The (method, seed) pairs of a track are independent; with an executor of several slots they run side by
    side in threads of this process, each sending its batches to the executor. Rows, ledgers and journal keys
    do not depend on that order, so the leaderboard is the same for every executor.
    """

    def __init__(self, suite: Suite, options: RunOptions, run_dir: Path, log: Log,
                 methods: Mapping[str, Method] | None = None, progress: Progress | None = None,
                 known: Mapping[str, tuple[Candidate, ...]] | None = None) -> None:
        self.suite = suite
        self.methods = dict(methods or {})
        self.known = dict(known or {})  # per track: the hand-designed points its searches may start from
        self.options = options
        self.run_dir = run_dir
        self.progress = progress
        self._user_log = progress.message if progress is not None else log
        self.journal = Journal(run_dir / "journal.jsonl")
        self.replay = {r.key: r for r in self.journal.read() if not isinstance(r, RetryRecord)}
        self.device = pick_device(options.device)
        self.profile = load_profile(suite.hardware_profile)
        self.spec = WorkerSpec(suite, options.data_dir, options.cache_dir.expanduser(), options.data_limit,
                               options.deterministic, compile_final=options.compile, precision=options.precision)
        self.executor: Executor = InlineExecutor(self.spec, str(self.device))

    def log(self, line: str) -> None:
        """A message for the user, also kept in the run directory's ``run.log``."""
        self._append_log(line)
        self._user_log(line)

    def _append_log(self, line: str) -> None:
        with open(self.run_dir / "run.log", "a", encoding="utf-8") as log_file:
            log_file.write(line + "\n")

    def run(self, data: DatasetArrays) -> RunResult:
        served = sum(isinstance(r, EvaluationRecord) for r in self.replay.values())
        if served:
            self.log(f"resuming: {served} evaluations are served from the journal, the rest train now")
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
        unit = budget_unit(self.suite.hardware_profile)
        table = "\n\n".join(f"{self.suite.name} / {t.name}\n" + _printed_table([r for r in rows if r.track == t.name],
                                                                                unit) for t in self.suite.tracks)
        atomic_write_json(self.run_dir / "summary.json", summary)
        atomic_write_text(self.run_dir / "leaderboard.md", render_markdown(self.suite.name, rows, unit=unit))
        self._publish(rows, prov)
        return RunResult(self.run_dir, rows, table, self.options.leaderboard_dir / f"{self.suite.name}.md")

    def _track_rows(self, ctx: TrackContext, teacher: TeacherRecord, prov: dict[str, Any]) -> list[LeaderboardRow]:
        """Every method at every seed on one track, one leaderboard row per method."""
        adopt_context(self.spec, ctx)
        cost = FlopCost(self.profile.flops_per_second, count_flops(ctx.teacher, ctx.input_shape))
        jobs = [(name, seed) for name in self.suite.methods for seed in self.suite.seeds]
        if self.progress is not None:
            self.progress.expect(len(jobs))
        outcomes = self._run_jobs(jobs, lambda job: self._seed_outcome(ctx, cost, *job))
        if isinstance(self.executor, InlineExecutor):
            self.log(f"[{ctx.name}] teacher cache: {ctx.cache.stats()}")
        run = RunConditions(self.suite, prov, self.options.budget_scale, self.options.data_limit or 0,
                            self.run_dir.name)
        precision = "bf16" if ctx.bf16("final") else "fp32"
        return [measured_row(run, ctx.name, name, not isinstance(self.methods.get(name) or get_method(name),
                                                                  FixedMethod),
                             ctx.family.reference, [outcomes[(name, seed)] for seed in self.suite.seeds], precision,
                             teacher.test_top1, ctx.guards.chance_margin * 100.0 / ctx.num_classes)
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

    def _seed_outcome(self, ctx: TrackContext, cost: FlopCost, name: str, seed: int) -> SeedOutcome:
        """The search (for search methods) and the final training of one method at one seed."""
        method = self.methods.get(name) or get_method(name)
        track = self.suite.track(ctx.name)
        prefix = f"{track.name}/{name}/{seed}"
        spent: float | None = None
        volume: float | None = None
        evaluations = 0
        wall = 0.0
        fixed = isinstance(method, FixedMethod)
        if self.progress is not None:
            self.progress.start(prefix, None if fixed else self.suite.search.budget_gpu_hours)
        if isinstance(method, FixedMethod):
            hparams = {**method.hparams, **track.method_hparams.get(name, {})}
            chosen: Candidate | None = Candidate.make(ctx.family.reference, method.distiller, hparams)
        else:
            ledger = BudgetLedger(self.suite.search.budget_gpu_hours, cost)
            chosen, wall, volume = self._search(ctx, method, seed, ledger, prefix)
            spent, evaluations = ledger.spent_gpu_hours, ledger.evaluations
            if chosen is None:
                self.log(f"[{prefix}] no feasible candidate within the budget; seed has no final result")
                if self.progress is not None:
                    self.progress.finish(prefix, "no feasible candidate")
                return SeedOutcome(None, spent, evaluations, wall, volume)
        if self.progress is not None:
            self.progress.final(prefix, ctx.recipe.epochs)
        [final] = self._evaluate(ctx, [f"{prefix}/final"], [Ask(chosen, Fidelity(ctx.recipe.epochs), False)], seed,
                                 "final", None)
        if self.progress is not None:
            self.progress.finish(prefix, f"test top-1 {final.top1:.2f}%" if final.ok else final.status)
        return SeedOutcome(final, spent, evaluations, wall + final.wall_seconds, volume)

    def _search(self, ctx: TrackContext, method: Any, seed: int, ledger: BudgetLedger,
                prefix: str) -> tuple[Candidate | None, float, float]:
        """Run one search; returns its chosen candidate, measured seconds and final hypervolume (feasible results
        at the top fidelity, normalised as in `search.metrics`)."""
        track = self.suite.track(ctx.name)
        known = self.known.get(track.name, ())
        top = Ask(known[0], Fidelity(self.suite.search.epochs), True) if known else None
        setup = SearchSetup(track_space(track), track.param_cap, self.suite.search.epochs,
                            numpy_generator(seed, "search", track.name, method.name), dict(method.options), known,
                            ledger.affordable(self._plan(ctx, top, seed)) if top else None)
        searcher = make_searcher(method.searcher, setup)
        failures = FailureBudget(self.suite.search.max_failure_share, self.suite.search.failure_window)

        def evaluate(asks: list[Ask], start: int) -> list[EvalResult]:
            keys = [f"{prefix}/search/{start + i}" for i in range(len(asks))]
            return self._evaluate(ctx, keys, asks, seed, "search", ledger)

        end = search_loop(searcher, evaluate, lambda asks: ledger.admit([self._plan(ctx, a, seed) for a in asks]),
                          max_evaluations=self.suite.search.max_evaluations, failing=failures.record)
        history = end.history
        wall = sum(o.result.wall_seconds for o in history)
        chosen = searcher.chosen() if end.stop_reason != "failures" else None
        key = f"{prefix}/search-end"
        if key not in self.replay:
            self.journal.append(SearchEndRecord(key, track.name, method.name, seed, chosen, ledger.evaluations,
                                                ledger.spent_gpu_hours, end.stop_reason, searcher.state()))
        if end.stop_reason == "failures":
            atomic_write_json(self.run_dir / "aborted.json", {
                "search": prefix, "after_evaluations": len(history), "summary": end.detail,
                "recent": [{"status": r.status, "reason": r.reason} for r in failures.recent]})
            raise SearchAborted(f"search {prefix} aborted: {end.detail}; see {self.run_dir / 'aborted.json'}")
        top = self.suite.search.epochs
        reached = max((o.ask.fidelity.epochs for o in history if chosen and o.ask.candidate.id == chosen.id),
                      default=top)
        below = f" at {reached} of {top} epochs (no candidate reached the top rung within the budget)" \
            if reached < top else ""
        self.log(f"[{prefix}] search done ({end.stop_reason}): {ledger.evaluations} evaluations, "
                 f"{ledger.spent_gpu_hours:.4g} of {ledger.declared_gpu_hours:.4g} GPU-h; chosen "
                 f"{chosen.describe() if chosen else 'none'}{below}")
        volume = hypervolume(normalised_points(history, track.param_cap, self.suite.search.epochs))
        return chosen, wall, volume

    def _plan(self, ctx: TrackContext, ask: Ask, seed: int) -> PlannedEvaluation:
        """What the ask would charge if it trained to the end. A student over the parameter cap is rejected
        before training, so it is planned (and charged) as free."""
        params, macs = candidate_size(ctx, ask.candidate)
        needs = get_distiller(ask.candidate.distiller).needs_for(ask.candidate.hparams_dict)
        views = [f"search/{seed}/{e}" for e in range(ask.fidelity.epochs)] if needs and "stages" not in needs else []
        return within_cap(params, self.suite.track(ctx.name).param_cap, PlannedEvaluation(
            macs, ask.fidelity.epochs, len(ctx.search_train), len(ctx.val), tuple(views)))

    def _evaluate(self, ctx: TrackContext, keys: list[str], asks: list[Ask], seed: int, phase: str,
                  ledger: BudgetLedger | None, score_test: bool = False) -> list[EvalResult]:
        """A batch of journaled evaluations, in ask order: each is served from the journal on resume, or sent to
        the executor; results are charged and appended to the journal in ask order as soon as they are in.
        `score_test` also scores search-phase trainings on the test split (`table build`)."""
        track = self.suite.track(ctx.name)
        for key, ask in zip(keys, asks, strict=True):
            if key in self.replay and self._replayed(key).candidate_id != ask.candidate.id:
                raise UserError(f"journal record {key} holds candidate {self._replayed(key).candidate_id} but the run "
                                f"asked for {ask.candidate.id}: the journal does not belong to this config")
        todo = [i for i, key in enumerate(keys) if key not in self.replay]
        tasks = [EvalTask(keys[i], ctx.name, asks[i].candidate, asks[i].fidelity.epochs, seed, phase, asks[i].guard,
                          track.param_cap if phase == "search" else None, score_test) for i in todo]
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

    def _replayed(self, key: str) -> EvaluationRecord:
        record = self.replay[key]
        if not isinstance(record, EvaluationRecord):
            raise UserError(f"journal record {key} is not an evaluation: the journal does not belong to this config")
        return record

    def _book(self, ctx: TrackContext, key: str, ask: Ask, seed: int, phase: str, ledger: BudgetLedger | None,
              outcome: Outcome | None) -> EvalResult:
        """Charge one evaluation and journal it (with any retries it needed); `outcome` None: from the journal."""
        result = self._replayed(key).result if outcome is None else outcome.result
        charge = 0.0
        if ledger is not None:
            scored = len(ctx.val) if result.epochs_done > 0 else 0
            charge = ledger.charge(result.macs, result.epochs_done, len(ctx.search_train), scored,
                                   result.teacher_views)
        if outcome is not None:
            for attempt, reason in enumerate(outcome.retries, start=1):
                self.journal.append(RetryRecord(key, attempt, reason))
                self.log(f"[{key}] retried after: {reason}")
            self.journal.append(EvaluationRecord(key, ctx.name, phase, seed, ask.candidate, ask.fidelity.epochs,
                                                 ask.guard, charge, ledger.spent_gpu_hours if ledger else 0.0,
                                                 result))
        status = "" if result.ok else f" [{result.status}: {result.reason}]"
        line = (f"[{key}] {ask.candidate.describe()} {ask.fidelity.epochs} ep: top-1 {result.top1:.2f}%"
                f"{status} ({result.wall_seconds:.1f}s{', journal' if outcome is None else ''})")
        self._append_log(line)
        if self.progress is None:
            self._user_log(line)
        else:
            cap = self.suite.track(ctx.name).param_cap
            self.progress.evaluation(key, line, phase, ledger.spent_gpu_hours if ledger else 0.0,
                                     ask.fidelity.epochs, result.top1, feasible(result, cap))
        return result


def probe_methods(suite: Suite, data: DatasetArrays, extra: Mapping[str, Method]) -> None:
    """Check every distiller the run will train (each fixed method's, each searched space's) on 4 training
    images with an untrained teacher, before any run directory or training (`engine.probe`)."""
    from uniads_bench.engine.probe import probe_distiller
    from uniads_bench.models.family import track_family
    from uniads_bench.teachers import build_teacher_model

    images = DeviceDataset(torch.from_numpy(data.train.images[:4].copy()), torch.from_numpy(data.train.labels[:4]),
                           data.mean, data.std, torch.device("cpu"))
    x, y = images.batch(images.plan(0, 0, Augment(), shuffle=False), 0, len(images), 0)
    for track in suite.tracks:
        family = track_family(track)
        teacher = build_teacher_model(track.teacher, data.num_classes)
        candidates = {}
        for name in suite.methods:
            method = extra.get(name) or get_method(name)
            if isinstance(method, FixedMethod):
                hparams = {**method.hparams, **track.method_hparams.get(name, {})}
                candidates[name] = Candidate.make(family.reference, method.distiller, hparams)
            else:
                space = track_space(track)
                first = space.candidate({g.name: g.options[0] for g in space.genes})
                candidates[name] = Candidate.make(family.reference, first.distiller, first.hparams_dict)
        for candidate in dict.fromkeys(candidates.values()):
            probe_distiller(candidate, family, data.num_classes, teacher, x, y)


def _printed_table(rows: list[LeaderboardRow], unit: str) -> str:
    """A track's ranked rows, then those that are not results, as the board shows them."""
    unranked = [r for r in rows if not r.ranked]
    return track_table(rows, unit) + (f"\nnot ranked:\n{unranked_table(unranked)}" if unranked else "")


class RunHasFailedRows(UserError):
    """A run finished, but some rows are not results (exit code 4: the board holds them outside the ranking)."""

    exit_code = 4


def failed_rows_error(result: RunResult) -> RunHasFailedRows | None:
    """The error a run ends with when some of its rows failed, naming each; None when every row is a result."""
    failed = [r for r in result.rows if not r.ranked]
    if not failed:
        return None
    return RunHasFailedRows(f"{len(failed)} of {len(result.rows)} rows are not results (kept on the board outside "
                            f"the ranking; the run directory {result.run_dir} holds the journal):",
                            [f"{r.track}/{r.method}: {r.status}" for r in failed])


def run_suite(name: str, options: RunOptions, log: Log = print, extra: Method | None = None,
              progress: Progress | None = None) -> RunResult:
    """Validate everything, then run the suite `name` (or resume it) and publish its leaderboard.

    Args:
        progress: the live status of the run's jobs; without one every evaluation's line goes to `log`.
        extra: a method that is not registered (`compare`'s user distiller); the run then trains it and only the
            suite's methods that `options.methods` names (none when it names none).
    """
    declared = load_suite(name)
    suite = resolve_suite(declared, options)
    known = {t.name: tuple(c for _, c in known_points(track_space(t), t, declared)) for t in suite.tracks}
    if extra is not None:
        suite = dataclasses.replace(suite, methods=(extra.name, *(suite.methods if options.methods else ())))
    pick_device(options.device)
    if options.executor == "ray":
        from uniads_bench.runner.ray_executor import import_ray

        import_ray()  # a missing extra stops the run before any write
    data = load_arrays(suite, options.data_dir, options.data_limit)  # missing data stops the run before any write
    load_board(options.leaderboard_dir / f"{suite.name}.json")  # so does a damaged board, before hours of training
    probe_methods(suite, data, {extra.name: extra} if extra else {})  # and a distiller that breaks its contract
    set_deterministic(options.deterministic)
    run_dir = prepare_run_dir(suite, options)
    log(f"run directory: {run_dir}")
    started = time.perf_counter()
    with stop_on_signals(), run_lock(run_dir):
        remove_stale_temps(run_dir)  # a killed run's half-written summary or board
        try:
            result = Runner(suite, options, run_dir, log, {extra.name: extra} if extra else None, progress,
                            known).run(data)
        except RunInterrupted as exc:
            raise RunInterrupted(exc.signum, run_dir) from None
    log(f"finished in {time.perf_counter() - started:.0f}s")
    return result
