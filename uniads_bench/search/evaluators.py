"""Offline evaluators: benchmark search logic at zero GPU cost, through the same `search_loop` as real runs.

Specs (``--evaluator``), each optionally followed by ``?key=value&key=value`` options:

- ``synthetic:NAME`` (``smooth``, ``rugged``, ``tiny``; `search.synthetic`). Options ``bias``, ``noise``,
  ``spread`` (the seed-to-seed spread at every fidelity; ``spread=0`` makes the top fidelity exact).
- ``replay:TABLE.csv``: a table whose columns are genes, an optional ``epochs`` column, objectives and
  optional ``params``/``status`` columns; the space is inferred from the table (options sorted, numbers
  parsed). Columns named ``top1*``, ``val_top1``, ``test_top1``, ``params``, ``macs``, ``epochs``,
  ``status``, ``seed``, ``distiller`` are not genes. A column ``group.gene`` (as `journal_to_table`
  writes) puts the gene in that group, so replayed candidates keep their original ids; otherwise genes are
  architecture genes. Options: ``metric`` (accuracy column; default ``val_top1``, else ``top1``, else the
  first ``top1*`` column), ``cap`` (default: the median params of the table), ``max_epochs`` (tables without
  an ``epochs`` column; default 27), ``bias``/``noise`` (the fidelity model for tables without an epochs
  column: lower rungs see `synthetic.distort` of the table value; ``noise=0&bias=0`` makes them exact),
  ``num_classes`` (100). Without a ``params`` column, tables whose genes are exactly ``d1, d2, d3`` (the
  DisWOT ResNet-20 depth table) get the CIFAR ResNet parameter count of `cifar_resnet_params`.
  With an epochs column, an ask is answered by the row at the largest tabulated epochs not above it.
- ``table:DIR``: a tabular benchmark of real trainings (`search.tables`, built by ``uniads-bench table build``),
  charged in GPU-hours by the suite's cost model, as a real search is. Option ``seed`` (a recorded seed).

Cost (synthetic and replay): an evaluation costs ``epochs / max_epochs * params / cap`` units, i.e.
full-fidelity trainings of a model at the cap, so budgets count like GPU time (bigger, longer trainings cost
more); a rejected run is charged for the epochs it ran. `run_offline_search` charges these units (tables:
GPU-hours) and admits each batch only as far as its predicted cost fits the budget, exactly like the runner's
ledger. Every evaluator scores what a search hands on by `regret`: its best feasible true top-1 (synthetic:
the noise-free truth; replay: the table value; tables: the mean recorded test top-1) minus the candidate's.
"""

from __future__ import annotations

import csv
import functools
import io
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from uniads_bench.budget import BudgetLedger, CostModel, PlannedEvaluation, over_cap_reason, within_cap
from uniads_bench.candidate import Candidate
from uniads_bench.errors import UserError
from uniads_bench.journal import JournalRecord, evaluations
from uniads_bench.methods import SearchMethod, get_method
from uniads_bench.results import EvalResult, Fidelity
from uniads_bench.rng import numpy_generator
from uniads_bench.search.base import Ask, Observation, SearchSetup, make_searcher
from uniads_bench.search.loop import one_at_a_time, search_loop
from uniads_bench.search.synthetic import PROBLEMS, SyntheticProblem, distort
from uniads_bench.search.tables import Table, TableEvaluator, load_table
from uniads_bench.space.space import Gene, Space

NOT_GENES = {"val_top1", "test_top1", "params", "macs", "epochs", "status", "seed", "distiller"}
DEFAULT_REPLAY_EPOCHS = 27
DEFAULT_REPLAY_BIAS = 6.0
DEFAULT_REPLAY_NOISE = 1.5
CHANCE_TOP1 = 1.0  # synthetic problems model CIFAR-100


class OfflineEvaluator(Protocol):
    """What `run_offline_search` needs from an evaluator."""

    space: Space
    param_cap: int
    max_epochs: int

    def evaluate(self, ask: Ask) -> EvalResult:
        """The result of `ask`, deterministic per (evaluator seed, candidate, epochs)."""
        ...

    def predicted_params(self, candidate: Candidate) -> int:
        """Params of `candidate` before evaluating it (for the cost prediction)."""
        ...

    @property
    def cost(self) -> CostModel:
        """What the search's ledger charges with."""
        ...

    def plan(self, ask: Ask) -> PlannedEvaluation:
        """What `ask` would be charged if it trained to the end (free for a student over the cap)."""
        ...

    def charged(self, result: EvalResult) -> PlannedEvaluation:
        """What `result` is charged for."""
        ...

    def regret(self, candidate: Candidate | None) -> float:
        """The best feasible true top-1 minus the handed-on `candidate`'s (the whole best when it is None)."""
        ...


def cost_units(epochs: float, params: int, max_epochs: int, param_cap: int) -> float:
    """Full-fidelity trainings of a cap-sized model that `epochs` of a `params` model amount to."""
    return epochs / max_epochs * params / param_cap


@dataclass(frozen=True)
class OfflineCost:
    """The ledger's cost model for offline problems, whose size measure is parameters: a plan's
    `student_macs` carries the candidate's parameter count and its `epochs` the epochs trained."""

    max_epochs: int
    param_cap: int

    def charge(self, student_macs: int, epochs_done: float, train_samples: int, eval_samples: int,
               new_teacher_views: int) -> float:
        return cost_units(epochs_done, student_macs, self.max_epochs, self.param_cap)


class UnitCosting:
    """`OfflineEvaluator`'s costing in cost units, for evaluators whose size measure is parameters."""

    max_epochs: int
    param_cap: int

    def predicted_params(self, candidate: Candidate) -> int:
        raise NotImplementedError

    @property
    def cost(self) -> CostModel:
        return OfflineCost(self.max_epochs, self.param_cap)

    def plan(self, ask: Ask) -> PlannedEvaluation:
        params = self.predicted_params(ask.candidate)
        return within_cap(params, self.param_cap, PlannedEvaluation(params, ask.fidelity.epochs, 1, 0))

    def charged(self, result: EvalResult) -> PlannedEvaluation:
        return PlannedEvaluation(result.params, result.epochs_done, 1, 0)


def _result(candidate: Candidate, status: str, reason: str, top1: float, params: int, epochs: float) -> EvalResult:
    return EvalResult(candidate.id, status, reason, float(top1), int(params), 0, float(epochs), (), 0.0)


def over_cap_result(candidate: Candidate, params: int, param_cap: int) -> EvalResult:
    """What the engine returns for a student over the cap: rejected before any training."""
    return _result(candidate, "rejected", over_cap_reason(params, param_cap), 0.0, params, 0)


@dataclass(frozen=True)
class SyntheticEvaluator(UnitCosting):
    """`SyntheticProblem` truth, `distort`ed below the top fidelity and with a seed spread at every one, for run
    seed `seed`."""

    problem: SyntheticProblem
    seed: int
    bias: float
    noise: float
    spread: float = 0.0

    @property
    def space(self) -> Space:
        return self.problem.space

    @property
    def param_cap(self) -> int:
        return self.problem.param_cap

    @property
    def max_epochs(self) -> int:
        return self.problem.max_epochs

    def predicted_params(self, candidate: Candidate) -> int:
        return self.problem.truth(self.space.values(candidate)).params

    def evaluate(self, ask: Ask) -> EvalResult:
        c, epochs = ask.candidate, ask.fidelity.epochs
        truth = self.problem.truth(self.space.values(c))
        if truth.rejected and ask.guard:  # the guards stop such a run within its first epoch
            return _result(c, "rejected", "kd term dwarfs ce (synthetic)", 1.0, truth.params, min(1, epochs))
        if truth.rejected:  # unguarded, it trains to the end and learns nothing: chance on 100 classes
            return _result(c, "ok", "", CHANCE_TOP1, truth.params, epochs)
        top1 = distort(truth.top1, truth.params / self.param_cap, epochs, self.max_epochs, self.bias, self.noise,
                       self.seed, c.id, spread=self.spread)
        return _result(c, "ok", "", top1, truth.params, epochs)

    def regret(self, candidate: Candidate | None) -> float:
        if candidate is None:
            return self.problem.best_top1()
        truth = self.problem.truth(self.space.values(candidate))
        # A guarded final training stops a rejected setting as the search's guarded rungs did: it scores nothing.
        feasible = truth.params <= self.param_cap and not truth.rejected
        return self.problem.best_top1() - (truth.top1 if feasible else 0.0)


def cifar_resnet_params(d1: int, d2: int, d3: int, num_classes: int = 100) -> int:
    """Parameters of a CIFAR ResNet (basic blocks, widths 16/32/64, 1x1 conv + BN shortcuts) with the given
    blocks per stage; (3, 3, 3) is ResNet-20 (278,324 params with 100 classes)."""
    total = 3 * 16 * 9 + 2 * 16
    inplanes = 16
    for width, depth in zip((16, 32, 64), (d1, d2, d3), strict=True):
        for block in range(depth):
            cin = inplanes if block == 0 else width
            total += 9 * cin * width + 9 * width * width + 4 * width
            if block == 0 and cin != width:
                total += cin * width + 2 * width
        inplanes = width
    return total + 64 * num_classes + num_classes


def _parse(text: str) -> Any:
    if text in ("True", "False"):
        return text == "True"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _sort_key(value: Any) -> tuple[int, Any]:
    return (0, value) if isinstance(value, int | float) else (1, str(value))


class ReplayEvaluator(UnitCosting):
    """Answers asks from a table of evaluations (module docstring)."""

    def __init__(self, rows: list[dict[str, str]], options: Mapping[str, str], seed: int, source: str) -> None:
        if not rows:
            raise UserError(f"replay table {source} is empty")
        columns = list(rows[0])
        self.metric = options.get("metric") or next(
            (c for c in ("val_top1", "top1") if c in columns), next((c for c in columns if c.startswith("top1")), ""))
        if self.metric not in columns:
            raise UserError(f"replay table {source} has no accuracy column {self.metric or 'top1*'!r}")
        gene_columns = [c for c in columns if c not in NOT_GENES and not c.startswith("top1") and c != self.metric]
        self.seed = seed
        self.num_classes = int(options.get("num_classes", 100))
        self.has_epochs = "epochs" in columns
        self.bias = float(options.get("bias", DEFAULT_REPLAY_BIAS))
        self.noise = float(options.get("noise", DEFAULT_REPLAY_NOISE))
        distillers = {r.get("distiller", "table") for r in rows}
        if len(distillers) > 1:
            raise UserError(f"replay table {source} mixes distillers {sorted(distillers)}; split it")
        genes = []
        for column in gene_columns:
            group, _, name = column.rpartition(".") if "." in column else ("arch", "", column)
            options_ = sorted({_parse(r[column]) for r in rows}, key=_sort_key)
            genes.append(Gene(name, group, tuple(options_)))
        self.space = Space(tuple(genes), distillers.pop())
        self.columns = dict(zip(gene_columns, (g.name for g in genes), strict=True))
        self.table = self._index(rows)
        if "params" not in columns and {g.name for g in genes} != {"d1", "d2", "d3"}:
            raise UserError(f"replay table {source} has no params column and is not a d1/d2/d3 ResNet depth table")
        self.param_cap = int(options.get("cap", statistics.median(r["params"] for r in self.table.values())))
        self.max_epochs = (max(e for _, e in self.table) if self.has_epochs
                           else int(options.get("max_epochs", DEFAULT_REPLAY_EPOCHS)))

    def _index(self, rows: list[dict[str, str]]) -> dict[tuple[str, int], dict[str, Any]]:
        """(candidate id, epochs) -> {top1, params, status}; repeated rows (seeds) average their ok top-1."""
        grouped: dict[tuple[str, int], list[dict[str, str]]] = {}
        for row in rows:
            candidate = self.space.candidate({name: _parse(row[col]) for col, name in self.columns.items()})
            epochs = int(float(row["epochs"])) if self.has_epochs else 0
            grouped.setdefault((candidate.id, epochs), []).append(row)
        table = {}
        for key, group in grouped.items():
            ok = [r for r in group if r.get("status", "ok") == "ok"]
            first = ok[0] if ok else group[0]
            params = int(float(first["params"])) if "params" in first else cifar_resnet_params(
                *(int(first[c]) for c in sorted(self.columns, key=self.columns.get)), num_classes=self.num_classes)
            table[key] = {"top1": statistics.fmean(float(r[self.metric]) for r in ok) if ok else 0.0,
                          "params": params, "status": first.get("status", "ok")}
        return table

    def _row(self, candidate: Candidate, epochs: int) -> tuple[int, dict[str, Any]] | None:
        if not self.has_epochs:
            row = self.table.get((candidate.id, 0))
            return None if row is None else (epochs, row)
        tabulated = [e for (cid, e) in self.table if cid == candidate.id and e <= epochs]
        return (max(tabulated), self.table[(candidate.id, max(tabulated))]) if tabulated else None

    def predicted_params(self, candidate: Candidate) -> int:
        found = self._row(candidate, self.max_epochs)
        return found[1]["params"] if found else self.param_cap

    def evaluate(self, ask: Ask) -> EvalResult:
        c, epochs = ask.candidate, ask.fidelity.epochs
        found = self._row(c, epochs)
        if found is None:
            return _result(c, "failed", f"not in the replay table at <= {epochs} epochs", 0.0, 0, 0)
        at, row = found
        if row["status"] != "ok":
            return _result(c, row["status"], "replayed", 0.0, row["params"], min(1, epochs))
        top1 = row["top1"] if self.has_epochs else distort(
            row["top1"], row["params"] / self.param_cap, at, self.max_epochs, self.bias, self.noise, self.seed, c.id)
        return _result(c, "ok", "", top1, row["params"], epochs)

    def regret(self, candidate: Candidate | None) -> float:
        best = max(r["top1"] for r in self._top_rows(None))
        mine = self._top_rows(candidate) if candidate is not None else []
        return best - (mine[0]["top1"] if mine else 0.0)

    def _top_rows(self, candidate: Candidate | None) -> list[dict[str, Any]]:
        """Feasible rows at the table's top fidelity: all, or `candidate`'s (empty when it has none)."""
        top = self.max_epochs if self.has_epochs else 0
        return [row for (cid, epochs), row in self.table.items()
                if epochs == top and row["status"] == "ok" and row["params"] <= self.param_cap
                and (candidate is None or cid == candidate.id)]


def parse_spec(spec: str) -> tuple[str, str, dict[str, str]]:
    """``kind:target?k=v&k=v`` -> (kind, target, options)."""
    kind, _, rest = spec.partition(":")
    target, _, query = rest.partition("?")
    options = dict(part.split("=", 1) for part in query.split("&") if "=" in part)
    if kind not in ("synthetic", "replay", "table") or not target:
        raise UserError(f"bad offline evaluator {spec!r}; use synthetic:NAME, replay:TABLE.csv or table:DIR, each "
                        "optionally followed by ?key=value&...")
    return kind, target, options


@functools.lru_cache(maxsize=4)
def _cached_table(path: Path, mtime_ns: int) -> Table:
    """A table loaded (and verified) once per process while its file is unchanged: benchmarks run hundreds of
    searches on one table."""
    return load_table(path)


def make_evaluator(spec: str, seed: int) -> OfflineEvaluator:
    """The evaluator a spec names, for run seed `seed` (which keys its low-fidelity noise or table seeds)."""
    kind, target, options = parse_spec(spec)
    if kind == "table":
        path = Path(target).expanduser().resolve()
        csv_file = path / "table.csv"
        return TableEvaluator(_cached_table(path, csv_file.stat().st_mtime_ns if csv_file.exists() else 0), seed,
                              options)
    if kind == "synthetic":
        if target not in PROBLEMS:
            raise UserError(f"unknown synthetic problem {target!r}; known: {', '.join(sorted(PROBLEMS))}")
        problem = PROBLEMS[target]
        return SyntheticEvaluator(problem, seed, float(options.get("bias", problem.bias)),
                                  float(options.get("noise", problem.noise)),
                                  float(options.get("spread", problem.spread)))
    path = Path(target).expanduser()
    if not path.is_file():
        raise UserError(f"replay table {path} not found")
    with path.open(newline="") as handle:
        return ReplayEvaluator(list(csv.DictReader(handle)), options, seed, str(path))


@dataclass(frozen=True)
class SearchTrace:
    """Everything an offline search did: its observations in ask order and what each one was charged."""

    method: str
    evaluator: str
    seed: int
    budget: float
    param_cap: int
    max_epochs: int
    observations: tuple[Observation, ...]
    charges: tuple[float, ...]
    chosen: Candidate | None

    @property
    def spent(self) -> float:
        return sum(self.charges)


def run_offline_search(method_name: str, evaluator_spec: str, budget: float, seed: int,
                       max_evaluations: int = 10_000, options: Mapping[str, Any] | None = None) -> SearchTrace:
    """Run a search method against an offline evaluator; pure (no files written).

    Args:
        method_name: a search method (``uniads``, ``random``, ``random+halving``, ``nevergrad:DE``, ...).
        evaluator_spec: ``synthetic:NAME`` or ``replay:TABLE.csv`` with optional ``?key=value`` options.
        budget: in the evaluator's cost unit: for synthetic and replay evaluators full-fidelity trainings of a
            model at the parameter cap (`cost_units`), for tables GPU-hours of the suite's hardware profile.
        seed: the run seed; the search generator is derived from (seed, "search", evaluator, method).
        options: overrides of the method's options (e.g. ``{"pop_size": 8}``).

    Example:
        >>> trace = run_offline_search("uniads", "synthetic:smooth", budget=20, seed=0)
        >>> trace.spent <= 20
        True
    """
    method = get_method(method_name)
    if not isinstance(method, SearchMethod):
        raise UserError(f"{method_name!r} is a fixed method; offline search needs a search method")
    evaluator = make_evaluator(evaluator_spec, seed)
    # A table's searches draw from the stream a real search of its track draws from, so they ask alike.
    stream = evaluator.track if isinstance(evaluator, TableEvaluator) else evaluator_spec
    known = evaluator.known if isinstance(evaluator, TableEvaluator) else ()
    ledger = BudgetLedger(budget, evaluator.cost)
    # What a real search of the same track is told (the runner plans its first known point); an offline
    # problem's unit is itself a full-fidelity training of a cap-sized student.
    affordable = (ledger.affordable(evaluator.plan(Ask(known[0], Fidelity(evaluator.max_epochs), True))) if known
                  else budget)
    setup = SearchSetup(evaluator.space, evaluator.param_cap, evaluator.max_epochs,
                        numpy_generator(seed, "search", stream, method_name), {**method.options, **(options or {})},
                        known, affordable)
    searcher = make_searcher(method.searcher, setup)
    charges: list[float] = []

    def evaluate(ask: Ask) -> EvalResult:
        # As in a real run: a student over the cap is rejected before training, at no charge.
        params = evaluator.predicted_params(ask.candidate)
        result = (over_cap_result(ask.candidate, params, evaluator.param_cap) if params > evaluator.param_cap
                  else evaluator.evaluate(ask))
        spent = evaluator.charged(result)
        charges.append(ledger.charge(spent.student_macs, spent.epochs, spent.train_samples, spent.eval_samples,
                                     spent.views))
        return result

    def admit(asks: list[Ask]) -> int:
        return ledger.admit([evaluator.plan(ask) for ask in asks])

    history = search_loop(searcher, one_at_a_time(evaluate), admit, max_evaluations).history
    return SearchTrace(method_name, evaluator_spec, seed, budget, evaluator.param_cap, evaluator.max_epochs,
                       tuple(history), tuple(charges), searcher.chosen())


GROUPS = (("arch", "arch_dict"), ("distill", "hparams_dict"), ("optim", "optim_dict"))


def journal_to_table(records: Iterable[JournalRecord]) -> list[dict[str, Any]]:
    """Replay-table rows from a run journal's search evaluations (``uniads-bench replay build RUN_DIR``).

    Gene columns are ``group.gene`` so `ReplayEvaluator` rebuilds candidates with their original ids; one row
    per evaluation, with ``epochs``, ``seed``, ``top1``, ``params``, ``macs``, ``status`` and ``distiller``.
    """
    rows = []
    for record in evaluations(records, "search"):
        candidate, result = record.candidate, record.result
        row: dict[str, Any] = {"distiller": candidate.distiller}
        for group, attr in GROUPS:
            row.update({f"{group}.{k}": v for k, v in getattr(candidate, attr).items()})
        row.update({"epochs": record.epochs, "seed": record.seed, "top1": result.top1,
                    "params": result.params, "macs": result.macs, "status": result.status})
        rows.append(row)
    return rows


def table_csv(rows: list[dict[str, Any]]) -> str:
    """CSV text of replay-table rows (columns in first-seen order), ready for an atomic write."""
    fieldnames = list(dict.fromkeys(key for row in rows for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fieldnames)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
