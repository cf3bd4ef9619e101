"""Plots beside each leaderboard table: Pareto fronts (accuracy vs params) and anytime hypervolume.

Figures are drawn on a bare Agg canvas (no pyplot, so no global figure state and no display needed) and
saved without a timestamp or version stamp, so the same journal gives byte-identical PNGs. Only feasible
results at the top fidelity are plotted, with the normalisation of `uniads_bench.search.metrics`, so the
plotted hypervolume is the number the leaderboard reports.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

from uniads_bench.journal import JournalRecord
from uniads_bench.leaderboard.render import budget_unit
from uniads_bench.leaderboard.searchlog import SearchRun, final_results, search_runs, track_settings
from uniads_bench.results import EvalResult
from uniads_bench.search.metrics import anytime, normalised_points

ANYTIME_STEPS = 41
_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:olive")
# No "Software" (matplotlib version) chunk, so output does not change with the installed version.
_SAVE = {"dpi": 100, "metadata": {"Software": None}}


def pareto_mask(points: np.ndarray) -> np.ndarray:
    """Which rows of minimised (error, params) points are non-dominated (duplicates of a front point count)."""
    mask = np.zeros(len(points), dtype=bool)
    if len(points):
        mask[NonDominatedSorting().do(points, only_non_dominated_front=True)] = True
    return mask


def _colour(methods: Sequence[str], method: str) -> str:
    """Search methods are listed first (sorted) in every plot, so a method keeps its colour across plots."""
    return _COLOURS[list(methods).index(method) % len(_COLOURS)]


def _save(figure: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(figure)
    figure.savefig(path, **_SAVE)
    return path


def pareto_plot(runs: Sequence[SearchRun], param_cap: int, max_epochs: int, path: Path,
                finals: Mapping[str, Sequence[EvalResult]] | None = None, title: str = "") -> Path:
    """Top-1 vs params of the feasible top-fidelity search evaluations, pooled over seeds per method, with
    each method's Pareto front as a step line and final-phase results (one star per seed; fixed methods
    appear only there) for reference.

    Args:
        runs: search runs of one track (any methods and seeds).
        param_cap: the track's cap, drawn as a dashed line; results above it are not plotted.
        max_epochs: the top fidelity; lower-rung results are not comparable and are left out.
        path: PNG to write.
        finals: per method, final-phase results (test split) to overlay.
        title: figure title.

    Returns:
        `path`.
    """
    finals = finals or {}
    searched = sorted({r.method for r in runs})
    methods = searched + sorted(set(finals) - set(searched))
    figure = Figure(figsize=(8.5, 4))
    ax = figure.add_subplot()
    for i, method in enumerate(methods):
        colour = _colour(methods, method)
        observations = [o for r in runs if r.method == method for o in r.observations]
        if observations:
            points = normalised_points(observations, param_cap, max_epochs)
            params, top1 = points[:, 1] * param_cap, 100.0 * (1.0 - points[:, 0])
            ax.scatter(params, top1, s=12, alpha=0.35, color=colour,
                       label=search_label(method, len(points), len(observations), max_epochs))
            front = np.flatnonzero(pareto_mask(points))
            order = front[np.argsort(params[front], kind="stable")]
            ax.step(params[order], top1[order], where="post", color=colour, linewidth=1.5)
        if finals.get(method):
            # Fixed methods all train the reference student: their stars are dodged apart, not stacked.
            dodge = (i - (len(methods) - 1) / 2) * 0.012 * param_cap
            ax.scatter([r.params + dodge for r in finals[method]], [r.top1 for r in finals[method]], marker="*",
                       s=90, color=colour, edgecolor="black", linewidth=0.5,
                       label=final_label(method, len(finals[method])))
    ax.axvline(param_cap, color="grey", linestyle="--", linewidth=1, label="param cap")
    ax.set_xlabel("parameters (final stars dodged sideways so that none hides another)")
    ax.set_ylabel("top-1 % (search: validation, final: test)")
    ax.set_title(title or f"Pareto fronts at {max_epochs} epochs (search: val, final: test)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    figure.tight_layout()
    return _save(figure, path)


def search_label(method: str, plotted: int, evaluated: int, max_epochs: int) -> str:
    """What a Pareto plot's search marks are: validation top-1 of the feasible top-fidelity evaluations, and how
    many of the method's evaluations those are (the board counts every rung and every rejection)."""
    return f"{method}: search, val @{max_epochs} ep ({plotted} of {evaluated} evaluations)"


def final_label(method: str, seeds: int) -> str:
    """What a Pareto plot's stars are: the final phase's test top-1, one per seed."""
    return f"{method}: final, test ({seeds} seed{'s' if seeds != 1 else ''})"


def anytime_curves(runs: Sequence[SearchRun], param_cap: int, max_epochs: int,
                   budget_gpu_hours: float) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Anytime hypervolume on a common budget grid: the grid (GPU-hours) and, per method, one row per seed.

    The grid runs to the declared budget, or further when a search overran it by its last evaluation.
    """
    horizon = max([budget_gpu_hours] + [float(sum(r.charges)) for r in runs])
    fractions = np.linspace(0.0, 1.0, ANYTIME_STEPS)
    curves: dict[str, list[list[float]]] = {}
    for run in runs:
        points = anytime(run.observations, run.charges, horizon, param_cap, max_epochs, fractions)
        curves.setdefault(run.method, []).append([p.hypervolume for p in points])
    return fractions * horizon, {m: np.array(c) for m, c in sorted(curves.items())}


def anytime_plot(runs: Sequence[SearchRun], param_cap: int, max_epochs: int, budget_gpu_hours: float,
                 path: Path, title: str = "", unit: str = "GPU-hours") -> Path:
    """Anytime hypervolume vs budget spent per method: mean over seeds with a band of one standard
    deviation (none for a single seed); the declared budget is a dashed line.

    Returns:
        `path`.
    """
    grid, curves = anytime_curves(runs, param_cap, max_epochs, budget_gpu_hours)
    figure = Figure(figsize=(8.5, 4))
    ax = figure.add_subplot()
    for method, rows in curves.items():
        colour = _colour(list(curves), method)
        mean, std = rows.mean(axis=0), rows.std(axis=0)
        ax.plot(grid, mean, color=colour, label=f"{method} (n={len(rows)})")
        ax.fill_between(grid, mean - std, mean + std, color=colour, alpha=0.2, linewidth=0)
    ax.axvline(budget_gpu_hours, color="grey", linestyle="--", linewidth=1, label="budget")
    ax.set_xlabel(f"search budget spent ({unit}, cost model)")
    ax.set_ylabel("hypervolume (val error, params / cap)")
    ax.set_title(title or f"Anytime hypervolume at {max_epochs} epochs, mean ± std over seeds", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    figure.tight_layout()
    return _save(figure, path)


def importance_plot(importances: Mapping[str, Mapping[str, float]], path: Path, title: str = "") -> Path:
    """Horizontal grouped bars: per gene, one bar per pool (e.g. all methods, then each method).

    Args:
        importances: per pool name, per gene, its normalised importance.
        path: PNG to write.
        title: figure title.

    Returns:
        `path`.
    """
    pools = list(importances)
    genes = sorted({g for values in importances.values() for g in values})
    figure = Figure(figsize=(6, 1.2 + 0.45 * max(1, len(genes)) * max(1, len(pools)) ** 0.5))
    ax = figure.add_subplot()
    height = 0.8 / max(1, len(pools))
    for i, pool in enumerate(pools):
        ys = np.arange(len(genes)) + i * height
        ax.barh(ys, [importances[pool].get(g, 0.0) for g in genes], height=height, label=pool,
                color=_COLOURS[i % len(_COLOURS)])
    ax.set_yticks(np.arange(len(genes)) + 0.4 - height / 2, genes)
    ax.invert_yaxis()
    ax.set_xlabel("first-order importance (normalised to sum 1 per pool)")
    ax.set_title(title, fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    return _save(figure, path)


def track_plots(journal_records: Iterable[JournalRecord], config: Mapping[str, Any], out_dir: Path) -> list[Path]:
    """Write ``<suite>-<track>-pareto.png`` and ``<suite>-<track>-anytime.png`` into `out_dir` for every track
    of the run that has search evaluations; the runner calls this after a run, beside the leaderboard.

    Args:
        journal_records: the run journal's records.
        config: the run's resolved config (`config.json`: ``{"suite": {...}, ...}``).
        out_dir: where to write (created if needed).

    Returns:
        The files written, in track order; empty when no track ran a search method.
    """
    records = list(journal_records)
    runs = search_runs(records)
    paths: list[Path] = []
    for name, settings in track_settings(config).items():
        track_runs = [r for r in runs if r.track == name]
        if not track_runs:
            continue
        stem = Path(out_dir) / f"{settings.suite}-{name}"
        paths.append(pareto_plot(track_runs, settings.param_cap, settings.max_epochs, stem.with_name(
            stem.name + "-pareto.png"), final_results(records, name), f"{settings.suite} / {name}: accuracy vs params"))
        paths.append(anytime_plot(track_runs, settings.param_cap, settings.max_epochs, settings.budget_gpu_hours,
                                  stem.with_name(stem.name + "-anytime.png"),
                                  f"{settings.suite} / {name}: anytime hypervolume, mean ± std over seeds",
                                  budget_unit(config["suite"].get("hardware_profile", "gpu"), long=True)))
    return paths
