"""Search efficiency at zero GPU cost: every search method on the synthetic problems and the DisWOT replay table.

Claim measured: at equal budgets (cost units = full-fidelity trainings of a model at the parameter cap), how
much hypervolume (error x params/cap, reference (1, 1.1), feasible full-fidelity results only) and how low a
best error each method reaches after 25/50/100% of its budget, and the *regret* of what it hands to the final
phase at 100%: the problem's best feasible true top-1 minus the true top-1 of the chosen candidate (the
synthetic problems' full-fidelity scores carry a seed spread, so a lucky run can fool a search and the regret
shows it). Mean +- standard error over seeds, and paired tests (Wilcoxon signed-rank and paired t on the same
seeds) of uniads against every other method and its ablations.
Writes ``benchmarks/results/search_efficiency.{json,md,png}``.

Usage: ``python benchmarks/search_efficiency.py [--seeds 10] [--workers 2] [--out benchmarks/results]``
(about 1-4 minutes on 2 CPU cores).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from uniads_bench.search.evaluators import make_evaluator, run_offline_search
from uniads_bench.search.metrics import NO_RESULT_ERROR, REFERENCE_POINT, anytime, hypervolume
from uniads_bench.search.synthetic import PROBLEMS

DISWOT = Path(__file__).resolve().parents[2] / "shared/data/diswot-s1/resnet20_depth_cifar100.csv"
ABLATIONS = ("uniads:no-halving", "uniads:no-shrinking", "uniads:no-rejection")
METHODS = ("random", "random+halving", "uniads", *ABLATIONS, "nevergrad:DiscreteOnePlusOne",
           "nevergrad:PortfolioDiscreteOnePlusOne", "nevergrad:TwoPointsDE", "nevergrad:NGOpt")
FRACTIONS = (0.25, 0.5, 1.0)
GRID = tuple(np.linspace(0.02, 1.0, 50).round(4))
COMPARE = tuple(("uniads", m) for m in METHODS if m != "uniads")


def problems() -> dict[str, tuple[str, float]]:
    """Problem label -> (evaluator spec, budget in cost units)."""
    out = {"synthetic:smooth": ("synthetic:smooth", 40.0), "synthetic:rugged": ("synthetic:rugged", 40.0)}
    if DISWOT.is_file():
        # 64 candidates, cap = median params; lower rungs see the table value through the default fidelity model.
        out["diswot:resnet20-kd"] = (f"replay:{DISWOT}?metric=top1_kd", 8.0)
    return out


def run_one(job: tuple[str, str, str, float, int]) -> dict[str, Any]:
    """One (problem, method, seed): anytime metrics at the report fractions and on the plot grid."""
    label, method, spec, budget, seed = job
    start = time.perf_counter()
    trace = run_offline_search(method, spec, budget, seed)
    regret = make_evaluator(spec, seed).regret(trace.chosen)
    args = (trace.observations, trace.charges, budget, trace.param_cap, trace.max_epochs)
    report = anytime(*args, fractions=FRACTIONS)
    curve = anytime(*args, fractions=GRID)
    return {
        "problem": label, "method": method, "seed": seed, "evaluations": len(trace.observations),
        "full_fidelity_evaluations": sum(o.ask.fidelity.epochs == trace.max_epochs for o in trace.observations),
        "spent": trace.spent, "seconds": time.perf_counter() - start, "regret": regret,
        "hv": [p.hypervolume for p in report], "best_error": [p.best_error for p in report],
        "hv_curve": [p.hypervolume for p in curve],
    }


def optimum_hv(spec: str) -> float:
    """Hypervolume of the best attainable front (synthetic: exact; replay: every feasible table row)."""
    kind, _, name = spec.partition(":")
    if kind == "synthetic":
        return hypervolume(PROBLEMS[name].true_front())
    evaluator = make_evaluator(spec, 0)
    rows = [(1 - r["top1"] / 100, r["params"] / evaluator.param_cap) for r in evaluator.table.values()
            if r["status"] == "ok" and r["params"] <= evaluator.param_cap]
    return hypervolume(np.array(rows))


def mean_se(values: list[float]) -> tuple[float, float]:
    arr = np.asarray(values, dtype=float)
    return float(arr.mean()), float(arr.std(ddof=1) / np.sqrt(len(arr))) if len(arr) > 1 else 0.0


def paired(a: list[float], b: list[float]) -> dict[str, float]:
    """Paired tests of a against b over the same seeds (differences a - b)."""
    diff = np.asarray(a) - np.asarray(b)
    if np.allclose(diff, 0):
        return {"mean_diff": 0.0, "wilcoxon_p": 1.0, "ttest_p": 1.0}
    return {"mean_diff": float(diff.mean()), "wilcoxon_p": float(stats.wilcoxon(a, b).pvalue),
            "ttest_p": float(stats.ttest_rel(a, b).pvalue)}


def summarise(runs: list[dict[str, Any]], specs: dict[str, tuple[str, float]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for label, (spec, budget) in specs.items():
        entry: dict[str, Any] = {"spec": spec, "budget": budget, "optimum_hv": optimum_hv(spec), "methods": {}}
        by_method = {m: sorted((r for r in runs if r["problem"] == label and r["method"] == m),
                               key=lambda r: r["seed"]) for m in METHODS}
        for method, rs in by_method.items():
            entry["methods"][method] = {
                **{f"hv@{int(f * 100)}": mean_se([r["hv"][i] for r in rs]) for i, f in enumerate(FRACTIONS)},
                **{f"best_error@{int(f * 100)}": mean_se([r["best_error"][i] for r in rs])
                   for i, f in enumerate(FRACTIONS)},
                "regret@100": mean_se([r["regret"] for r in rs]),
                "seeds_without_result@100": sum(r["best_error"][-1] >= NO_RESULT_ERROR for r in rs),
                "evaluations": mean_se([r["evaluations"] for r in rs]),
                "full_fidelity_evaluations": mean_se([r["full_fidelity_evaluations"] for r in rs]),
                "spent": mean_se([r["spent"] for r in rs]),
                "seconds_per_run": mean_se([r["seconds"] for r in rs]),
            }
        entry["paired"] = {
            f"{a} vs {b}": {"hv@100": paired([r["hv"][-1] for r in by_method[a]], [r["hv"][-1] for r in by_method[b]]),
                            "best_error@100": paired([r["best_error"][-1] for r in by_method[a]],
                                                     [r["best_error"][-1] for r in by_method[b]]),
                            "regret@100": paired([r["regret"] for r in by_method[a]],
                                                 [r["regret"] for r in by_method[b]])}
            for a, b in COMPARE
        }
        summary[label] = entry
    return summary


def markdown(summary: dict[str, Any], meta: dict[str, Any]) -> str:
    lines = [
        "# Search efficiency (offline evaluators, zero GPU)", "",
        f"Generated by `python benchmarks/search_efficiency.py --seeds {meta['seeds']}` in "
        f"{meta['wall_seconds']:.0f} s on {meta['cpu_count']} CPU cores ({meta['platform']}); "
        f"Python {meta['python']}, numpy {meta['numpy']}, pymoo {meta['pymoo']}, nevergrad {meta['nevergrad']}.", "",
        f"Hypervolume of feasible full-fidelity results in (error, params/cap) against {REFERENCE_POINT}; best error "
        "= 1 - top-1/100 (1.0 until a feasible full-fidelity result exists; 'seeds w/o result' counts seeds that "
        "never got one); regret = best feasible true top-1 minus the chosen candidate's (points, lower is better). "
        "Mean +- standard error over "
        f"{meta['seeds']} seeds; budgets in full-fidelity trainings of a cap-sized model, equal for every method.",
    ]
    for label, entry in summary.items():
        lines += ["", f"## {label} (budget {entry['budget']:g}, optimum HV {entry['optimum_hv']:.4f})", "",
                  "| method | HV@25% | HV@50% | HV@100% | best err@25% | best err@50% | best err@100% | regret@100% | "
                  "evals | full-fid. evals | seeds w/o result |", "|---|---|---|---|---|---|---|---|---|---|---|"]
        for method, m in entry["methods"].items():
            cells = [f"{m[k][0]:.4f} +- {m[k][1]:.4f}" for k in ("hv@25", "hv@50", "hv@100", "best_error@25",
                                                                   "best_error@50", "best_error@100")]
            cells.append(f"{m['regret@100'][0]:.2f} +- {m['regret@100'][1]:.2f}")
            lines.append(f"| {method} | " + " | ".join(cells) + f" | {m['evaluations'][0]:.1f} | "
                         f"{m['full_fidelity_evaluations'][0]:.1f} | {m['seeds_without_result@100']} |")
        lines += ["", "Paired tests at 100% of budget (difference = first - second; HV higher is better, error "
                  "and regret lower are better):", ""]
        for pair, tests in entry["paired"].items():
            for metric, t in tests.items():
                lines.append(f"- {pair}, {metric}: mean diff {t['mean_diff']:+.4f}, Wilcoxon p = "
                             f"{t['wilcoxon_p']:.3g}, paired t p = {t['ttest_p']:.3g}")
    return "\n".join(lines) + "\n"


def plot(runs: list[dict[str, Any]], summary: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(summary), figsize=(5.5 * len(summary), 4.2), squeeze=False)
    for ax, (label, entry) in zip(axes[0], summary.items(), strict=True):
        for method in METHODS:
            curves = np.array([r["hv_curve"] for r in runs if r["problem"] == label and r["method"] == method])
            mean = curves.mean(axis=0)
            se = curves.std(axis=0, ddof=1) / np.sqrt(len(curves))
            ax.plot(GRID, mean, label=method, lw=2 if method == "uniads" else 1.2,
                    ls="--" if method in ABLATIONS else "-")
            ax.fill_between(GRID, mean - se, mean + se, alpha=0.15)
        ax.axhline(entry["optimum_hv"], color="k", ls=":", lw=1, label="optimum")
        ax.set(title=f"{label} (budget {entry['budget']:g})", xlabel="fraction of budget spent",
               ylabel="hypervolume (feasible, full fidelity)")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("results"))
    args = parser.parse_args()
    specs = problems()
    jobs = [(label, method, spec, budget, seed) for label, (spec, budget) in specs.items() for method in METHODS
            for seed in range(args.seeds)]
    start = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        runs = list(pool.map(run_one, jobs, chunksize=4))
    wall = time.perf_counter() - start
    import nevergrad
    import pymoo

    meta = {"seeds": args.seeds, "wall_seconds": wall, "cpu_count": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "numpy": np.__version__, "pymoo": pymoo.__version__,
            "nevergrad": nevergrad.__version__, "methods": METHODS, "fractions": FRACTIONS,
            "reference_point": REFERENCE_POINT}
    summary = summarise(runs, specs)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "search_efficiency.json").write_text(json.dumps({"meta": meta, "summary": summary, "runs": runs},
                                                                indent=1) + "\n")
    (args.out / "search_efficiency.md").write_text(markdown(summary, meta))
    plot(runs, summary, args.out / "search_efficiency.png")
    print(markdown(summary, meta))
    return 0


if __name__ == "__main__":
    sys.exit(main())
