"""Tabular benchmarks: real trainings of every point of a grid, at every rung fidelity, for several seeds.

A table is a directory written by `uniads-bench table build` (`runner.table`):

- ``table.csv``: one row per (point, fidelity, seed) trained with the loss guards on, plus one trained without
  them where the guards rejected it (``guard`` False): the point's genes as ``group.gene`` columns, its
  ``point`` id (the candidate id), ``epochs``, ``seed``, ``guard``, ``status``, ``reason``, ``val_top1``,
  ``test_top1`` (empty unless the training completed), ``train_loss`` (the last loss window's total),
  ``params``, ``macs``, ``epochs_done``, ``teacher_views``, ``charge_gpu_hours`` (the evaluation's charge as
  the first of a search) and ``seconds`` (measured, never used for decisions).
- ``manifest.json``: the grid as a space, the fidelities and seeds, the parameter cap, the reference search
  budget, the cost model's constants, the sha256 of ``table.csv``, the build's provenance and command.

`TableEvaluator` replays a table for offline searches: an ask is answered by one recorded seed's result (the
seed drawn from the search's own stream per candidate and fidelity, or fixed with ``seed=N``), and charged
by the suite's FLOP cost model from the recorded MACs, epochs and teacher views, so a replayed search spends
its budget exactly as a real search of the same space does. Test top-1 never reaches a searcher.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from uniads_bench.budget import FlopCost, PlannedEvaluation, within_cap
from uniads_bench.candidate import Candidate
from uniads_bench.errors import UserError
from uniads_bench.results import EvalResult
from uniads_bench.rng import derive_seed
from uniads_bench.search.base import Ask
from uniads_bench.space.grid import space_from_json
from uniads_bench.space.space import Space

TABLE_FORMAT = "uniads-bench table 1"
COLUMNS = ("point", "distiller", "epochs", "seed", "guard", "status", "reason", "val_top1", "test_top1",
           "train_loss", "params", "macs", "epochs_done", "teacher_views", "charge_gpu_hours", "seconds")


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class Table:
    """A loaded table: its manifest and rows (values parsed), and the grid as a `Space`."""

    directory: Path
    manifest: dict[str, Any]
    rows: list[dict[str, Any]]
    space: Space

    @property
    def fidelities(self) -> tuple[int, ...]:
        return tuple(self.manifest["fidelities"])

    @property
    def seeds(self) -> tuple[int, ...]:
        return tuple(self.manifest["seeds"])

    @property
    def param_cap(self) -> int:
        return int(self.manifest["param_cap"])

    def frame(self) -> Any:
        """The rows as a pandas DataFrame (pandas comes with `datasets`)."""
        import pandas as pd

        return pd.DataFrame(self.rows)


def _value(column: str, text: str) -> Any:
    if text == "":
        return None
    if column in ("epochs", "seed", "params", "macs", "teacher_views"):
        return int(text)
    if column == "guard":
        return text == "True"
    if column in ("val_top1", "test_top1", "train_loss", "epochs_done", "charge_gpu_hours", "seconds"):
        return float(text)
    return text


def load_table(directory: Path, check: bool = True) -> Table:
    """Read a table directory; with `check`, its problems (`table_problems`) are one UserError."""
    manifest_path, csv_path = directory / "manifest.json", directory / "table.csv"
    if not manifest_path.is_file() or not csv_path.is_file():
        raise UserError(f"{directory} is not a table (it needs manifest.json and table.csv); build one with "
                        "`uniads-bench table build SUITE TRACK --out DIR`")
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"{manifest_path} does not parse ({exc}); rebuild the table") from exc
    if manifest.get("format") != TABLE_FORMAT:
        raise UserError(f"{manifest_path} is not a {TABLE_FORMAT!r} manifest")
    with csv_path.open(newline="") as handle:
        rows = [{k: _value(k, v) for k, v in row.items()} for row in csv.DictReader(handle)]
    table = Table(directory, manifest, rows, space_from_json(manifest["space"]))
    if check:
        problems = table_problems(table)
        if problems:
            raise UserError(f"table {directory} fails verification:", problems[:20])
    return table


def table_problems(table: Table) -> list[str]:
    """What makes a table untrustworthy: a checksum that differs, rows missing or repeated, a point whose genes
    do not give its id, an accuracy out of range, a test score on an incomplete training."""
    problems = []
    digest = sha256_file(table.directory / "table.csv")
    if digest != table.manifest["sha256"]["table.csv"]:
        problems.append(f"table.csv has sha256 {digest[:12]}..., the manifest says "
                        f"{table.manifest['sha256']['table.csv'][:12]}...: the file changed after the build")
    seen: dict[tuple[str, int, int, bool], int] = {}
    for i, row in enumerate(table.rows):
        key = (row["point"], row["epochs"], row["seed"], row["guard"])
        seen[key] = seen.get(key, 0) + 1
        if point_candidate(table.space, row).id != row["point"]:
            problems.append(f"row {i}: its genes do not give the point id {row['point']}")
        if not 0.0 <= row["val_top1"] <= 100.0:
            problems.append(f"row {i}: val_top1 {row['val_top1']} is not a percentage")
        if row["test_top1"] is not None and row["status"] != "ok":
            problems.append(f"row {i}: a test score on a {row['status']} training")
    points = {row["point"] for row in table.rows}
    if len(points) != table.manifest["points"]:
        problems.append(f"{len(points)} points in table.csv, the manifest says {table.manifest['points']}")
    guarded = {k[:3] for k in seen if k[3]}
    expected = len(points) * len(table.fidelities) * len(table.seeds)
    if len(guarded) != expected or any(n > 1 for n in seen.values()):
        problems.append(f"{len(guarded)} distinct guarded (point, fidelity, seed) rows of {expected} expected, "
                        f"{sum(n - 1 for n in seen.values())} repeated")
    rejected = {(r["point"], r["epochs"], r["seed"]) for r in table.rows
                if r["guard"] and r["status"] == "rejected" and r["params"] <= table.param_cap}
    unguarded = {k[:3] for k in seen if not k[3]}
    if unguarded != rejected:
        problems.append(f"{len(rejected)} guarded rows were rejected by the loss rules but {len(unguarded)} "
                        "unguarded rows exist: one unguarded row belongs to each of them, no other")
    return problems


def point_candidate(space: Space, row: dict[str, Any]) -> Candidate:
    """The candidate of a table row, from its ``group.gene`` columns."""
    groups: dict[str, dict[str, Any]] = {"arch": {}, "distill": {}, "optim": {}}
    for column, value in row.items():
        group, _, name = column.partition(".")
        if name and value is not None:
            groups[group][name] = _gene_value(space, name, value)
    return Candidate.make(groups["arch"], space.distiller, groups["distill"], groups["optim"])


def _gene_value(space: Space, field: str, text: Any) -> Any:
    """A gene field's value in the type the space's options have (CSV holds text)."""
    for gene in space.genes:
        names = gene.name.split("/")
        if field in names:
            for option in gene.options:
                value = str(option).split("/")[names.index(field)] if len(names) > 1 else option
                if str(value) == str(text):
                    return value
    return text


class TableCost:
    """How a table's evaluations are planned and charged: the suite's FLOP cost model on the recorded MACs,
    epochs and teacher views, exactly as the runner's ledger does (views keyed by epoch, within one search)."""

    def __init__(self, manifest: dict[str, Any]) -> None:
        cost = manifest["cost"]
        self.model = FlopCost(float(cost["flops_per_second"]), int(cost["teacher_macs"]))
        self.train_samples, self.eval_samples = int(cost["train_samples"]), int(cost["eval_samples"])
        self.param_cap = int(manifest["param_cap"])

    def plan(self, row: dict[str, Any], epochs: int) -> PlannedEvaluation:
        views = tuple(str(e) for e in range(epochs)) if row["teacher_views"] else ()
        return within_cap(row["params"], self.param_cap, PlannedEvaluation(
            row["macs"], epochs, self.train_samples, self.eval_samples, views))

    def charged(self, result: EvalResult) -> PlannedEvaluation:
        return PlannedEvaluation(result.macs, result.epochs_done, self.train_samples,
                                 self.eval_samples if result.epochs_done > 0 else 0, result.teacher_views)


class TableEvaluator:
    """Answers asks from a table (module docstring). Options: ``seed`` (a recorded seed every answer uses)."""

    def __init__(self, table: Table, seed: int, options: dict[str, str]) -> None:
        if table.manifest.get("sampled"):
            raise UserError(f"table {table.directory} holds a stratified sample of its grid, so most asks of a search "
                            "would have no row; searches replay complete grids (max_points 0, or at least the "
                            "grid's points); `table info` still describes a sample")
        self.table, self.seed = table, seed
        self.space, self.param_cap = table.space, table.param_cap
        self.max_epochs = max(table.fidelities)
        self.track = str(table.manifest["track"])
        self.budget = float(table.manifest["budget_gpu_hours"])
        self.costing = TableCost(table.manifest)
        self.fixed_seed = int(options["seed"]) if "seed" in options else None
        if self.fixed_seed is not None and self.fixed_seed not in table.seeds:
            raise UserError(f"table {table.directory} has seeds {list(table.seeds)}, not {self.fixed_seed}")
        self.rows = {(r["point"], r["epochs"], r["seed"], r["guard"]): r for r in table.rows}
        self.params = {r["point"]: r["params"] for r in table.rows}

    def row(self, candidate: Candidate, epochs: int, guard: bool = True) -> dict[str, Any]:
        if candidate.id not in self.params:
            raise UserError(f"candidate {candidate.describe()} is outside the grid of table {self.table.directory}")
        if epochs not in self.table.fidelities:
            raise UserError(f"table {self.table.directory} holds fidelities {list(self.table.fidelities)} epochs, "
                            f"not {epochs}: search it with the rungs it was built at")
        seeds = self.table.seeds
        seed = self.fixed_seed if self.fixed_seed is not None else seeds[
            derive_seed(self.seed, "table-seed", candidate.id, epochs) % len(seeds)]
        row = self.rows[(candidate.id, epochs, seed, True)]
        return self.rows.get((candidate.id, epochs, seed, False), row) if not guard else row

    @cached_property
    def known(self) -> tuple[Candidate, ...]:
        """The fixed methods of the table's suite as declared, as points of its grid (recorded by the build,
        `runner.table.known_json`): what a real search of the track starts from."""
        return tuple(Candidate.from_json(k["candidate"]) for k in self.table.manifest.get("known", ()))

    def predicted_params(self, candidate: Candidate) -> int:
        return self.row(candidate, self.max_epochs)["params"]

    @property
    def cost(self) -> FlopCost:
        return self.costing.model

    def plan(self, ask: Ask) -> PlannedEvaluation:
        return self.costing.plan(self.row(ask.candidate, ask.fidelity.epochs, ask.guard), ask.fidelity.epochs)

    def charged(self, result: EvalResult) -> PlannedEvaluation:
        return self.costing.charged(result)

    def evaluate(self, ask: Ask) -> EvalResult:
        row = self.row(ask.candidate, ask.fidelity.epochs, ask.guard)
        views = tuple(str(e) for e in range(row["teacher_views"]))
        return EvalResult(ask.candidate.id, row["status"], row["reason"] or "", row["val_top1"], row["params"],
                          row["macs"], row["epochs_done"], views, 0.0)

    def true_test_top1(self, candidate: Candidate) -> float | None:
        """Mean recorded test top-1 of `candidate` at the top fidelity over the seeds, trained as a final phase
        trains (without the loss guards); for regret, never a searcher's input. None when no seed completed."""
        rows = (self.rows.get((candidate.id, self.max_epochs, seed, False),
                              self.rows[(candidate.id, self.max_epochs, seed, True)]) for seed in self.table.seeds)
        scores = [row["test_top1"] for row in rows]
        done = [s for s in scores if s is not None]
        return sum(done) / len(done) if done else None


    @cached_property
    def best_test_top1(self) -> float:
        """The best true test top-1 of a feasible point: the reference of `regret`."""
        scores = (self.true_test_top1(c) for c in self._feasible_points())
        return max((s for s in scores if s is not None), default=0.0)

    def regret(self, candidate: Candidate | None) -> float:
        """How far the handed-on `candidate` falls short of the table's best feasible point, in test top-1
        points (the whole best score when a search hands on nothing)."""
        true = self.true_test_top1(candidate) if candidate is not None else None
        return self.best_test_top1 - (true or 0.0)

    def _feasible_points(self) -> list[Candidate]:
        seen: dict[str, Candidate] = {}
        for row in self.table.rows:
            if row["params"] <= self.param_cap:
                seen.setdefault(row["point"], point_candidate(self.space, row))
        return list(seen.values())


def point_means(table: Table, epochs: int, column: str) -> dict[str, float]:
    """Per point, the mean of `column` over the seeds whose training at `epochs` completed within the cap."""
    scores: dict[str, list[float]] = {}
    for row in table.rows:
        if row["epochs"] == epochs and row["status"] == "ok" and row["params"] <= table.param_cap:
            if row[column] is not None:
                scores.setdefault(row["point"], []).append(row[column])
    return {point: sum(v) / len(v) for point, v in scores.items()}


def spearman(a: dict[str, float], b: dict[str, float]) -> tuple[float, int]:
    """Spearman's rank correlation of two per-point scores over the points both have, and how many."""
    from scipy.stats import spearmanr

    shared = sorted(set(a) & set(b))
    if len(shared) < 3:
        return float("nan"), len(shared)
    return float(spearmanr([a[p] for p in shared], [b[p] for p in shared]).statistic), len(shared)


def describe_table(table: Table) -> str:
    """`uniads-bench table info`: the grid, the outcomes per fidelity, and how fidelities and splits agree."""
    from tabulate import tabulate

    m = table.manifest
    top = max(table.fidelities)
    lines = [f"table {m['suite']}/{m['track']}: {m['points']} points"
             + (f" (a stratified sample of {m['grid_settings']:,} settings)" if m["sampled"] else "")
             + f" x fidelities {list(table.fidelities)} x seeds {list(table.seeds)} = {len(table.rows)} rows",
             f"space: distiller {table.space.distiller}; "
             + "; ".join(f"{g.name} ({g.group}) {', '.join(map(str, g.options))}" for g in table.space.genes),
             f"parameter cap {table.param_cap:,}; reference search budget {m['budget_gpu_hours']:.4g} GPU-h of "
             f"{m['cost']['profile']}; built on {m['provenance'].get('hardware', '?')} in "
             f"{m['training_seconds']:.0f} s of training: {m['command']}"]
    top_val = point_means(table, top, "val_top1")
    rows = []
    for epochs in table.fidelities:
        here = [r for r in table.rows if r["epochs"] == epochs]
        statuses = {s: sum(r["status"] == s for r in here) for s in sorted({r["status"] for r in here})}
        val = point_means(table, epochs, "val_top1")
        rho, n = spearman(val, top_val)
        rows.append([epochs, ", ".join(f"{k} {v}" for k, v in statuses.items()),
                     f"{min(val.values()):.2f} / {sum(val.values()) / len(val):.2f} / {max(val.values()):.2f}"
                     if val else "-", f"{rho:.3f} (n={n})"])
    lines.append(tabulate(rows, ["epochs", "outcomes", "val top-1 min / mean / max", f"Spearman vs {top} epochs"],
                          tablefmt="github"))
    top_test = point_means(table, top, "test_top1")
    rho, n = spearman(top_val, top_test)
    spreads = []
    for point in top_val:
        seeds = [r["val_top1"] for r in table.rows
                 if r["point"] == point and r["epochs"] == top and r["status"] == "ok"]
        if len(seeds) > 1:
            mean = sum(seeds) / len(seeds)
            spreads.append((sum((x - mean) ** 2 for x in seeds) / (len(seeds) - 1)) ** 0.5)
    lines.append(f"at {top} epochs: Spearman(val, test) {rho:.3f} over {n} points; seed-to-seed std of val top-1 "
                 f"{sum(spreads) / len(spreads):.2f} points (mean over points)" if spreads else
                 f"at {top} epochs: Spearman(val, test) {rho:.3f} over {n} points")
    score = "test" if top_test else "validation"
    lines += ["", f"each option's feasible points, by {score} top-1 at {top} epochs (mean over seeds):",
              gene_effects(table, top_test or top_val), "",
              "the best feasible architecture under each distiller (and optimisation) option:",
              best_architectures(table, top_test or top_val)]
    if top_val:
        best_val = max(top_val, key=lambda p: top_val[p])
        best_test = max(top_test, key=lambda p: top_test[p]) if top_test else best_val
        lines.append(f"best feasible point by validation: {best_val} (val {top_val[best_val]:.2f}, test "
                     f"{top_test.get(best_val, float('nan')):.2f}); by test: {best_test} (test "
                     f"{top_test.get(best_test, float('nan')):.2f}), the regret reference")
    return "\n".join(lines)


def _points(table: Table) -> dict[str, dict[str, Any]]:
    """Gene values of every point (inactive genes absent)."""
    return {row["point"]: table.space.values(point_candidate(table.space, row)) for row in table.rows}


def gene_effects(table: Table, scores: dict[str, float]) -> str:
    """Per gene option, the mean and best top-fidelity score over the feasible points that take it."""
    from tabulate import tabulate

    values = _points(table)
    rows = []
    for gene in table.space.genes:
        for option in gene.options:
            here = [scores[p] for p in scores if values[p].get(gene.name) == option]
            if here:
                rows.append([gene.name, option, len(here), f"{sum(here) / len(here):.2f}", f"{max(here):.2f}"])
    return tabulate(rows, ["gene", "option", "feasible points", "mean top-1", "best top-1"], tablefmt="github")


def best_architectures(table: Table, scores: dict[str, float]) -> str:
    """For each option of each distill gene, the best feasible architecture among the points that take it: does
    the best student depend on the distiller (the DisWOT finding)?"""
    from tabulate import tabulate

    values = _points(table)
    arch = [g.name for g in table.space.genes if g.group == "arch"]
    rows = []
    for gene in (g for g in table.space.genes if g.group != "arch"):
        for option in gene.options:
            here = [p for p in scores if values[p].get(gene.name) == option]
            if here:
                best = max(here, key=lambda p: scores[p])
                rows.append([gene.name, option, ", ".join(f"{a}={values[best][a]}" for a in arch),
                             f"{scores[best]:.2f}"])
    return tabulate(rows, ["distill/optim gene", "option", "best architecture", "its top-1"], tablefmt="github")
