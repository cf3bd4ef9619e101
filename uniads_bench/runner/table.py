"""`uniads-bench table build`: train every point of a track's grid at every fidelity for every seed.

The build is a run like any other: the same engine, executors (`--workers`, `--executor ray`), journal and
resume (run the same command again on the same ``--out`` and it trains only what the journal lacks). Each
(point, fidelity, seed) trains exactly as a search of that seed would train it (same split and derived seed),
with the loss guards on; where the guards rejected it, it trains again without them (a search's upper rungs,
and the no-rejection ablation, ask unguarded), so every ask a search can make has its row. Every training is
also scored on the test split.
The table and its manifest are written at the end (`search.tables` describes the format).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from uniads_bench.budget import FlopCost
from uniads_bench.candidate import Candidate
from uniads_bench.config import Suite, Track, load_suite
from uniads_bench.data.arrays import DatasetArrays
from uniads_bench.durable import atomic_write_json, atomic_write_text, remove_stale_temps
from uniads_bench.errors import UserError
from uniads_bench.journal import EvaluationRecord
from uniads_bench.locks import run_lock
from uniads_bench.models.counting import count_flops
from uniads_bench.results import Fidelity
from uniads_bench.rng import numpy_generator
from uniads_bench.runner.context import build_context, load_arrays
from uniads_bench.runner.executors import make_executor
from uniads_bench.runner.options import RunOptions, resolve_suite, set_deterministic
from uniads_bench.runner.provenance import provenance
from uniads_bench.runner.run import Runner
from uniads_bench.runner.rundir import config_record, diff_keys
from uniads_bench.runner.signals import RunInterrupted, stop_on_signals
from uniads_bench.runner.worker import adopt_context
from uniads_bench.search import Ask
from uniads_bench.search.halving import HalvingSchedule
from uniads_bench.search.tables import COLUMNS, TABLE_FORMAT, sha256_file
from uniads_bench.space import known_points, track_space
from uniads_bench.space.grid import grid_points, grid_space, settings_count, space_to_json
from uniads_bench.space.space import Space

GROUPS = (("arch", "arch_dict"), ("distill", "hparams_dict"), ("optim", "optim_dict"))


@dataclass(frozen=True)
class TablePlan:
    """What a build trains: the grid, its points (a sample when the grid is larger than `max_points`), the
    fidelities and the seeds."""

    track: Track
    space: Space
    points: list[Candidate]
    sampled: bool
    fidelities: tuple[int, ...]
    seeds: tuple[int, ...]

    def to_json(self) -> dict[str, Any]:
        return {"track": self.track.name, "space": space_to_json(self.space), "points": [c.id for c in self.points],
                "sampled": self.sampled, "fidelities": list(self.fidelities), "seeds": list(self.seeds)}


def table_plan(suite: Suite, track_name: str) -> TablePlan:
    """The plan of `track_name`'s table in the resolved `suite`."""
    track = suite.track(track_name)
    if track.table is None:
        raise UserError(f"track {track.name!r} of suite {suite.name!r} declares no table grid; add a "
                        f"[tracks.table] section to the suite file (docs/tables.md)")
    space = grid_space(track_space(track), track.table.genes)
    rng = numpy_generator(suite.split_seed, "table", suite.name, track.name)
    points, sampled = grid_points(space, track.table.max_points, rng)
    fidelities = track.table.epochs or HalvingSchedule.from_options({}, suite.search.epochs).rungs
    return TablePlan(track, space, points, sampled, tuple(fidelities), track.table.seeds)


class TableBuilder(Runner):
    """A `Runner` whose work is a plan's grid instead of methods and seeds."""

    def build(self, data: DatasetArrays, plan: TablePlan) -> dict[str, Any]:
        """Train (or find in the journal) every row of `plan`; returns the cost model's constants."""
        self.executor = make_executor(self.options, self.spec, self.device, self.log)
        try:
            ctx, _ = build_context(self.suite, plan.track, data, self.device, self.options.cache_dir.expanduser(),
                                   self.options.data_dir, self.log, compile_final=self.options.compile,
                                   precision=self.options.precision)
            adopt_context(self.spec, ctx)
            cap = plan.track.param_cap
            for seed in plan.seeds:
                for epochs in plan.fidelities:
                    keys = [row_key(plan.track.name, seed, epochs, c) for c in plan.points]
                    asks = [Ask(c, Fidelity(epochs), guard=True) for c in plan.points]
                    results = self._evaluate(ctx, keys, asks, seed, "search", None, score_test=True)
                    # Unguarded, a run the loss rules rejected may train on (or diverge): tabulate that too.
                    again = [c for c, r in zip(plan.points, results, strict=True)
                             if r.status == "rejected" and r.params <= cap]
                    self._evaluate(ctx, [row_key(plan.track.name, seed, epochs, c) + "/unguarded" for c in again],
                                   [Ask(c, Fidelity(epochs), guard=False) for c in again], seed, "search", None,
                                   score_test=True)
        finally:
            self.executor.close()
        return {"profile": self.profile.name, "flops_per_second": self.profile.flops_per_second,
                "teacher_macs": count_flops(ctx.teacher, ctx.input_shape), "train_samples": len(ctx.search_train),
                "eval_samples": len(ctx.val)}


def row_key(track: str, seed: int, epochs: int, candidate: Candidate) -> str:
    return f"{track}/table/{seed}/{epochs}/{candidate.id}"


def table_rows(records: list[EvaluationRecord], cost: dict[str, Any]) -> list[dict[str, Any]]:
    """One CSV row per table evaluation (`search.tables`), in journal order."""
    flops = FlopCost(cost["flops_per_second"], cost["teacher_macs"])
    rows = []
    for record in records:
        candidate, result = record.candidate, record.result
        row: dict[str, Any] = {"point": candidate.id, "distiller": candidate.distiller}
        for group, attr in GROUPS:
            row.update({f"{group}.{k}": v for k, v in getattr(candidate, attr).items()})
        scored = cost["eval_samples"] if result.epochs_done > 0 else 0
        row.update({
            "epochs": record.epochs, "seed": record.seed, "guard": record.guard, "status": result.status,
            "reason": result.reason, "val_top1": round(result.top1, 4),
            "test_top1": "" if result.test_top1 is None else round(result.test_top1, 4),
            "train_loss": round(sum(result.loss_last.values()), 6) if result.loss_last else "",
            "params": result.params, "macs": result.macs, "epochs_done": result.epochs_done,
            "teacher_views": len(result.teacher_views),
            "charge_gpu_hours": flops.charge(result.macs, result.epochs_done, cost["train_samples"], scored,
                                             len(result.teacher_views)),
            "seconds": round(result.wall_seconds, 3)})
        rows.append(row)
    return rows


def rows_csv(rows: list[dict[str, Any]]) -> str:
    """CSV text: the point and distiller, its gene columns (sorted), then the result columns."""
    genes = sorted({k for row in rows for k in row if "." in k})
    fields = ["point", "distiller", *genes, *(c for c in COLUMNS if c not in ("point", "distiller"))]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _prepare_out(out: Path, record: dict[str, Any]) -> None:
    """A fresh table directory with its config, or the directory of an unfinished build of the same plan."""
    config_path = out / "config.json"
    if config_path.is_file():
        try:
            old = json.loads(config_path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UserError(f"cannot resume the table build in {out}: its config.json does not parse ({exc}); "
                            "give a new --out") from exc
        record = json.loads(json.dumps(record))  # tuples as JSON lists, as the file holds them
        diffs = diff_keys({k: old.get(k) for k in record} if isinstance(old, dict) else {}, record)
        if diffs:
            raise UserError(f"{out} holds the build of another table or config; give a new --out, or the same "
                            "suite, track, grid and options to resume it", diffs[:20])
        return
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"{out} exists and is not a table build; give --out a new or empty directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_json(config_path, record)
    except OSError as exc:
        raise UserError(f"cannot write {config_path} ({exc.strerror or exc}); give --out a directory you can "
                        "write to") from exc


def known_json(space: Space, declared: Suite, track_name: str) -> list[dict[str, Any]]:
    """The fixed methods of the suite as declared, as points of the table's grid (`space.known_points`): what a
    search replayed on the table starts from, as a real search of the track does."""
    return [{"method": name, "candidate": candidate.to_json()}
            for name, candidate in known_points(space, declared.track(track_name), declared)]


def build_table(suite_name: str, track_name: str, options: RunOptions, out: Path, command: str,
                log: Callable[[str], None] = print) -> Path:
    """Validate, then build (or resume) the table of `track_name` into `out`; returns the table directory."""
    declared = load_suite(suite_name)
    suite = resolve_suite(declared, dataclasses.replace(options, tracks=(track_name,)))
    suite = dataclasses.replace(suite, methods=())
    plan = table_plan(suite, track_name)
    data = load_arrays(suite, options.data_dir, options.data_limit)
    set_deterministic(options.deterministic)
    record = {**config_record(suite, options), "table": plan.to_json()}
    _prepare_out(out, record)
    rows = len(plan.points) * len(plan.fidelities) * len(plan.seeds)
    sample = f" (a stratified sample of {settings_count(plan.space):,} settings)" if plan.sampled else ""
    log(f"table {suite.name}/{track_name}: {len(plan.points)} points{sample} x fidelities {list(plan.fidelities)} "
        f"x seeds {list(plan.seeds)} = {rows} trainings into {out}")
    started = time.perf_counter()
    with stop_on_signals(), run_lock(out):
        remove_stale_temps(out)
        builder = TableBuilder(suite, options, out, log)
        try:
            cost = builder.build(data, plan)
        except RunInterrupted as exc:
            raise RunInterrupted(exc.signum, out, f"run the same command again to resume the build in {out}") from None
        prefix = f"{track_name}/table/"
        records = [r for r in builder.journal.read() if isinstance(r, EvaluationRecord) and r.key.startswith(prefix)]
        atomic_write_text(out / "table.csv", rows_csv(table_rows(records, cost)))
        atomic_write_json(out / "manifest.json", {
            "format": TABLE_FORMAT, "suite": suite.name, "track": track_name, "config_hash": suite.config_hash(),
            "budget_scale": options.budget_scale, "data_limit": options.data_limit, "precision": options.precision,
            "deterministic": options.deterministic, "space": space_to_json(plan.space),
            "param_cap": plan.track.param_cap, "fidelities": list(plan.fidelities), "seeds": list(plan.seeds),
            "points": len(plan.points), "sampled": plan.sampled, "grid_settings": settings_count(plan.space),
            "max_points": plan.track.table.max_points if plan.track.table else 0,
            "budget_gpu_hours": suite.search.budget_gpu_hours, "cost": cost, "rows": len(records),
            "training_seconds": round(sum(r.result.wall_seconds for r in records), 1),
            "known": known_json(plan.space, declared, track_name),
            "sha256": {"table.csv": sha256_file(out / "table.csv")},
            "provenance": provenance(builder.device, suite.config_hash()), "command": command})
    log(f"table written: {out / 'table.csv'} ({len(records)} rows, {time.perf_counter() - started:.0f}s)")
    return out
