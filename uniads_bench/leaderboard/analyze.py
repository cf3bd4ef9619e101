"""Search-result analysis of a run (`uniads-bench analyze RUN_DIR`): which gene options the searches favour,
and which genes matter for accuracy, per track, over all search methods and seeds and per method.

Option frequency. For every gene and option, its share among the Pareto-optimal and among the top-k results
is set against its share among what was sampled. *Sampled* is every evaluation at the lowest rung of its
search (what the search proposed, rejected candidates included; for searches without halving the lowest rung
is the top one). *Results* are the feasible evaluations at the top fidelity (`search.epochs`); the Pareto set
is their non-dominated subset on (validation error, params), pooled over the seeds of the pool; top-k are the
k = max(1, floor(10%)) most accurate (ties: fewer params, then journal order). Counts are of evaluations, not
distinct candidates, so a candidate re-evaluated by two seeds counts twice. Lift = share in the set / share
sampled: above 1, the option is over-represented among good results. Genes with one option in a track are
left out (they carry no information).

Gene importance (`IMPORTANCE_METHOD`): a random forest (scikit-learn, 100 trees, random state derived from
the pool's seeds and names) is fitted on the results (genes ordinal-encoded -> validation top-1). A gene's
first-order importance, in the spirit of functional ANOVA (Hutter et al., 2014), is the variance over its
observed options of the forest's marginal prediction (the mean prediction over the results with that gene set
to the option), normalised so the genes sum to 1. The marginal is taken over the observed results, not a
uniform grid over the space, because the forest is only trustworthy near the data; the out-of-bag R^2 says how
far to trust it. Below `MIN_IMPORTANCE_POINTS` results the pool gets a note and no importances.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.ensemble import RandomForestRegressor
from tabulate import tabulate

from uniads_bench.candidate import Candidate
from uniads_bench.durable import atomic_write_json, atomic_write_text
from uniads_bench.leaderboard.plots import importance_plot, pareto_mask
from uniads_bench.leaderboard.searchlog import SearchRun, TrackSettings, load_run, search_runs, track_settings
from uniads_bench.rng import derive_seed
from uniads_bench.search.base import Observation, feasible
from uniads_bench.search.metrics import normalised_points

TOP_FRACTION = 0.1
MIN_IMPORTANCE_POINTS = 5
FOREST_TREES = 100
ALL_METHODS = "all"
IMPORTANCE_METHOD = ("first-order functional-ANOVA-style importance on a random-forest surrogate "
                     f"({FOREST_TREES} trees, ordinal-encoded genes -> validation top-1 at the top fidelity; "
                     "variance of each gene's marginal prediction over its observed options, normalised to sum 1)")


@dataclass(frozen=True)
class OptionFrequency:
    """How often one option of one gene was sampled, and how often it is among the Pareto and top-k results.

    Lifts are None when the option was never sampled (it can then only appear through a higher rung).
    """

    gene: str
    option: str
    sampled: int
    sampled_share: float
    pareto: int
    pareto_share: float
    pareto_lift: float | None
    top: int
    top_share: float
    top_lift: float | None


@dataclass(frozen=True)
class GeneImportance:
    """A gene's normalised first-order importance for validation top-1."""

    gene: str
    importance: float


@dataclass(frozen=True)
class PoolAnalysis:
    """The analysis of one pool of searches: all methods of a track together, or one method (all seeds)."""

    pool: str
    seeds: tuple[int, ...]
    sampled: int
    results: int
    pareto: int
    top_k: int
    frequencies: tuple[OptionFrequency, ...]
    importances: tuple[GeneImportance, ...]
    importance_note: str


@dataclass(frozen=True)
class TrackAnalysis:
    """The analysis of one track: its settings and one `PoolAnalysis` per pool (``all`` first)."""

    track: str
    param_cap: int
    max_epochs: int
    pools: tuple[PoolAnalysis, ...]


@dataclass(frozen=True)
class AnalysisReport:
    """The search-result analysis of a run; tracks without search methods are absent."""

    run_dir: str
    suite: str
    importance_method: str
    tracks: tuple[TrackAnalysis, ...]


def candidate_genes(candidate: Candidate) -> dict[str, Any]:
    """A candidate's genes under one flat namespace: ``arch.*``, ``distiller``, ``distill.*``, ``optim.*``."""
    genes: dict[str, Any] = {f"arch.{k}": v for k, v in candidate.arch}
    genes["distiller"] = candidate.distiller
    genes.update({f"distill.{k}": v for k, v in candidate.hparams})
    genes.update({f"optim.{k}": v for k, v in candidate.optim})
    return genes


def _option_order(values: Sequence[Any]) -> list[Any]:
    """Distinct options in their natural order (numbers numerically, anything else by text)."""
    distinct = set(values)
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in distinct):
        return sorted(distinct)
    return sorted(distinct, key=str)


def _results(runs: Sequence[SearchRun], settings: TrackSettings) -> list[Observation]:
    return [o for r in runs for o in r.observations
            if o.ask.fidelity.epochs == settings.max_epochs and feasible(o.result, settings.param_cap)]


def _sampled(runs: Sequence[SearchRun]) -> list[Observation]:
    """Every evaluation at the lowest rung of its own search."""
    out = []
    for run in runs:
        if run.observations:
            lowest = min(o.ask.fidelity.epochs for o in run.observations)
            out.extend(o for o in run.observations if o.ask.fidelity.epochs == lowest)
    return out


def top_k(results: Sequence[Observation]) -> list[Observation]:
    """The k = max(1, floor(10%)) most accurate results; ties go to fewer params, then earlier results."""
    k = max(1, int(TOP_FRACTION * len(results))) if results else 0
    order = sorted(range(len(results)), key=lambda i: (-results[i].result.top1, results[i].result.params, i))
    return [results[i] for i in order[:k]]


def pareto_set(results: Sequence[Observation], param_cap: int, max_epochs: int) -> list[Observation]:
    """The non-dominated results on (validation error, params)."""
    mask = pareto_mask(normalised_points(results, param_cap, max_epochs))
    return [o for o, keep in zip(results, mask, strict=True) if keep]


def option_frequencies(sampled: Sequence[Observation], pareto: Sequence[Observation], top: Sequence[Observation],
                       genes: Sequence[str]) -> list[OptionFrequency]:
    """Counts, shares and lifts of every option of `genes` (options seen anywhere, in natural order)."""
    def counts(observations: Sequence[Observation], gene: str) -> Counter:
        return Counter(candidate_genes(o.ask.candidate).get(gene) for o in observations)

    def share(count: int, total: int) -> float:
        return count / total if total else 0.0

    rows = []
    for gene in genes:
        c_sampled, c_pareto, c_top = counts(sampled, gene), counts(pareto, gene), counts(top, gene)
        for option in _option_order([v for v in c_sampled | c_pareto | c_top if v is not None]):
            s = share(c_sampled[option], len(sampled))
            p, t = share(c_pareto[option], len(pareto)), share(c_top[option], len(top))
            rows.append(OptionFrequency(gene, str(option), c_sampled[option], s, c_pareto[option], p,
                                        p / s if s else None, c_top[option], t, t / s if s else None))
    return rows


def gene_importance(results: Sequence[Observation], genes: Sequence[str],
                    seed: int) -> tuple[list[GeneImportance], str]:
    """First-order importances of `genes` for top-1 (see the module docstring), sorted high to low, and a note
    (sample size and out-of-bag R^2, or why there are none)."""
    n = len(results)
    if n < MIN_IMPORTANCE_POINTS:
        return [], f"too few results for a surrogate (n={n} < {MIN_IMPORTANCE_POINTS}); no importances"
    rows = [candidate_genes(o.ask.candidate) for o in results]
    varying = [g for g in genes if len({r.get(g) for r in rows}) > 1]
    if not varying:
        return [], f"no gene varies among the {n} results; no importances"
    options = {g: _option_order([r.get(g) for r in rows]) for g in varying}
    x = np.array([[options[g].index(r.get(g)) for g in varying] for r in rows], dtype=float)
    y = np.array([o.result.top1 for o in results])
    forest = RandomForestRegressor(n_estimators=FOREST_TREES, min_samples_leaf=2, oob_score=True,
                                   random_state=seed % 2**32)
    with warnings.catch_warnings():
        # Tiny pools leave a few points without out-of-bag trees; sklearn warns, the score is still usable.
        warnings.simplefilter("ignore", UserWarning)
        forest.fit(x, y)
    variances = []
    for j, gene in enumerate(varying):
        # One predict over every option's copy of the data: per option, the results with gene j set to it.
        grid = np.repeat(x[None], len(options[gene]), axis=0)
        grid[:, :, j] = np.arange(len(options[gene]))[:, None]
        marginal = forest.predict(grid.reshape(-1, x.shape[1])).reshape(len(options[gene]), n).mean(axis=1)
        variances.append(float(np.var(marginal)))
    total = sum(variances)
    importances = [GeneImportance(g, v / total if total else 0.0) for g, v in zip(varying, variances, strict=True)]
    importances.sort(key=lambda g: (-g.importance, g.gene))
    oob = float(forest.oob_score_)
    return importances, f"n={n} results, out-of-bag R^2 {oob:.2f}" + (" (low: treat as noise)" if oob < 0.2 else "")


def analyze_pool(name: str, runs: Sequence[SearchRun], settings: TrackSettings, genes: Sequence[str]) -> PoolAnalysis:
    """Option frequencies and gene importances of the search runs `runs` (one pool) of a track."""
    sampled, results = _sampled(runs), _results(runs, settings)
    pareto, top = pareto_set(results, settings.param_cap, settings.max_epochs), top_k(results)
    seeds = tuple(sorted({r.seed for r in runs}))
    importances, note = gene_importance(results, genes, derive_seed(seeds, "analysis", settings.track, name))
    return PoolAnalysis(name, seeds, len(sampled), len(results), len(pareto), len(top),
                        tuple(option_frequencies(sampled, pareto, top, genes)), tuple(importances), note)


def analyze_track(runs: Sequence[SearchRun], settings: TrackSettings) -> TrackAnalysis:
    """Pools ``all`` (every search method and seed) then each method (sorted), over the genes that vary."""
    values: dict[str, set[str]] = {}
    for run in runs:
        for o in run.observations:
            for gene, value in candidate_genes(o.ask.candidate).items():
                values.setdefault(gene, set()).add(repr(value))
    genes = sorted(g for g, v in values.items() if len(v) > 1)
    pools = [analyze_pool(ALL_METHODS, runs, settings, genes)]
    for method in sorted({r.method for r in runs}):
        pools.append(analyze_pool(method, [r for r in runs if r.method == method], settings, genes))
    return TrackAnalysis(settings.track, settings.param_cap, settings.max_epochs, tuple(pools))


def analyze(run_dir: Path) -> AnalysisReport:
    """The search-result analysis of a run directory, per track with search methods.

    Args:
        run_dir: a directory written by `uniads-bench run` (``journal.jsonl`` and ``config.json``); it may be
            unfinished. Nothing in it is modified.

    Returns:
        The report; `write_analysis` renders it.

    Raises:
        UserError: `run_dir` is not a run directory, or its journal or config is damaged.
    """
    records, config = load_run(Path(run_dir))
    runs = search_runs(records)
    settings = track_settings(config)
    tracks = tuple(analyze_track([r for r in runs if r.track == name], s)
                   for name, s in settings.items() if any(r.track == name for r in runs))
    return AnalysisReport(str(run_dir), config["suite"]["name"], IMPORTANCE_METHOD, tracks)


def _lift(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _frequency_table(pool: PoolAnalysis) -> str:
    body = [[f.gene, f.option, f"{f.sampled} ({100 * f.sampled_share:.0f}%)",
             f"{f.pareto} ({100 * f.pareto_share:.0f}%)", _lift(f.pareto_lift),
             f"{f.top} ({100 * f.top_share:.0f}%)", _lift(f.top_lift)] for f in pool.frequencies]
    return tabulate(body, headers=["gene", "option", "sampled", "Pareto", "lift", f"top-{pool.top_k}", "lift"],
                    tablefmt="github", disable_numparse=True,
                    colalign=("left", "left", "right", "right", "right", "right", "right"))


def _importance_table(track: TrackAnalysis) -> str:
    genes = sorted({g.gene for p in track.pools for g in p.importances})
    values = {p.pool: {g.gene: g.importance for g in p.importances} for p in track.pools}
    body = [[gene] + [f"{values[p.pool][gene]:.2f}" if gene in values[p.pool] else "-" for p in track.pools]
            for gene in genes]
    return tabulate(body, headers=["gene"] + [p.pool for p in track.pools], tablefmt="github", disable_numparse=True)


def render_analysis(report: AnalysisReport) -> str:
    """The report as Markdown: per track, an overview, gene importances, and per pool an option-frequency table."""
    lines = [f"# Search-result analysis: {report.suite}", "", f"Run: `{report.run_dir}`", "",
             "Sampled: evaluations at the lowest rung of each search. Results: feasible evaluations at the top "
             "fidelity. Pareto: non-dominated results on (val error, params), pooled over seeds. Top-k: the "
             f"{TOP_FRACTION:.0%} most accurate results (at least 1). Lift: share in the set / share sampled.", "",
             f"Importance: {report.importance_method}.", ""]
    if not report.tracks:
        lines.append("No track of this run has search evaluations; nothing to analyse.")
    for track in report.tracks:
        lines += [f"## Track {track.track} (cap {track.param_cap:,} params, top fidelity {track.max_epochs} epochs)",
                  "", tabulate([[p.pool, ",".join(map(str, p.seeds)), p.sampled, p.results, p.pareto, p.top_k,
                                 p.importance_note] for p in track.pools],
                               headers=["pool", "seeds", "sampled", "results", "Pareto", "top-k", "surrogate"],
                               tablefmt="github"), ""]
        if any(p.importances for p in track.pools):
            lines += ["### Gene importance for validation top-1", "", _importance_table(track), ""]
        for pool in track.pools:
            lines += [f"### Option frequency: {pool.pool}", "", _frequency_table(pool), ""]
    return "\n".join(lines)


def write_analysis(report: AnalysisReport, out_dir: Path) -> list[Path]:
    """Write ``analysis.md``, ``analysis.json`` and one ``<suite>-<track>-importance.png`` per track with
    importances into `out_dir` (created if needed; the CLI passes ``RUN_DIR/analysis``).

    Returns:
        The files written.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    markdown, data = out_dir / "analysis.md", out_dir / "analysis.json"
    atomic_write_text(markdown, render_analysis(report) + "\n")
    atomic_write_json(data, asdict(report))
    paths = [markdown, data]
    for track in report.tracks:
        values = {p.pool: {g.gene: g.importance for g in p.importances} for p in track.pools if p.importances}
        if values:
            paths.append(importance_plot(values, out_dir / f"{report.suite}-{track.track}-importance.png",
                                         f"{report.suite} / {track.track}: gene importance for val top-1"))
    return paths

