"""Plots and search-result analysis of a run, on small synthetic journals written here (and one real run)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from uniads_bench.errors import UserError
from uniads_bench.journal import EvaluationRecord, read_journal
from uniads_bench.leaderboard.analyze import analyze, write_analysis
from uniads_bench.leaderboard.plots import track_plots

CAP = 1000
TOP = 3
PNG = b"\x89PNG\r\n\x1a\n"


def config(tracks: tuple[str, ...] = ("t",)) -> dict[str, Any]:
    return {"suite": {"name": "s", "search": {"epochs": TOP, "budget_gpu_hours": 1.0},
                      "tracks": [{"name": name, "param_cap": CAP} for name in tracks]}}


def evaluation(method: str, seed: int, index: int, epochs: int, top1: float, params: int, status: str = "ok",
               phase: str = "search", track: str = "t", **genes: Any) -> EvaluationRecord:
    arch = {"depth": 1} | {k: v for k, v in genes.items() if k != "t"}
    candidate = {"arch": arch, "distiller": "kd", "hparams": {"temperature": genes.get("t", 4)}}
    tail = f"search/{index}" if phase == "search" else "final"
    return EvaluationRecord.from_json({"key": f"{track}/{method}/{seed}/{tail}", "track": track, "phase": phase,
            "seed": seed, "candidate": candidate, "candidate_id": f"c{index}", "epochs": epochs,
            "guard": epochs == 1, "charge_gpu_hours": 0.1,
            "result": {"candidate_id": f"c{index}", "status": status, "reason": "", "top1": top1, "params": params,
                       "macs": 10 * params, "epochs_done": float(epochs), "teacher_views": [],
                       "wall_seconds": 0.1}})


def write_run(run_dir: Path, records: list[EvaluationRecord], cfg: dict[str, Any] | None = None) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.json").write_text(json.dumps(cfg or config()))
    (run_dir / "journal.jsonl").write_text("".join(json.dumps(r.to_json()) + "\n" for r in records))
    return run_dir


def tiny_search() -> list[EvaluationRecord]:
    """Four candidates sampled at rung 1 (one rejected), three trained at the top rung: c1 and c2 are
    Pareto-optimal, c3 is dominated by c2, and c2 is the single top-k (k = max(1, 10% of 3))."""
    genes = {1: {"width": 8, "t": 1}, 2: {"width": 8, "t": 4}, 3: {"width": 16, "t": 1}, 4: {"width": 16, "t": 4}}
    rung1 = [evaluation("m", 0, i, 1, 50.0, 100 * i, "rejected" if i == 4 else "ok", **genes[i]) for i in genes]
    top = [evaluation("m", 0, 4 + i, TOP, top1, params, **genes[i])
           for i, top1, params in ((1, 80.0, 100), (2, 90.0, 200), (3, 85.0, 300))]
    return rung1 + top


def synthetic_searches() -> list[EvaluationRecord]:
    """Two methods x two seeds; uniads halves from rung 1 to the top rung, random trains at the top only.
    Accuracy is set by the width alone; the temperature is noise."""
    records = []
    rng = np.random.default_rng(0)
    for method in ("uniads", "random"):
        for seed in (0, 1):
            for index in range(12):
                width, t = int(rng.choice([8, 16, 24, 32])), int(rng.choice([1, 2, 4, 8]))
                rungs = (TOP,) if method == "random" else (1, TOP) if index % 2 else (1,)
                for epochs in rungs:
                    records.append(evaluation(method, seed, index, epochs, 40.0 + width + 0.1 * epochs, 20 * width,
                                              width=width, t=t))
            records.append(evaluation(method, seed, 0, 30, 75.0, 320, phase="final", width=16, t=4))
    records.append(evaluation("kd", 0, 0, 30, 70.0, 160, phase="final", width=8, t=4))
    return records


def frequencies(pool) -> dict[tuple[str, str], Any]:
    return {(f.gene, f.option): f for f in pool.frequencies}


def test_option_frequency_by_hand(tmp_path: Path) -> None:
    report = analyze(write_run(tmp_path / "run", tiny_search()))
    (track,) = report.tracks
    assert [p.pool for p in track.pools] == ["all", "m"]
    pool = track.pools[0]
    assert (pool.sampled, pool.results, pool.pareto, pool.top_k) == (4, 3, 2, 1)
    rows = frequencies(pool)
    # Constant genes (arch.depth, distiller) carry no information and are left out.
    assert {gene for gene, _ in rows} == {"arch.width", "distill.temperature"}
    w8, w16 = rows["arch.width", "8"], rows["arch.width", "16"]
    assert (w8.sampled, w8.sampled_share, w8.pareto, w8.pareto_share, w8.top) == (2, 0.5, 2, 1.0, 1)
    assert w8.pareto_lift == pytest.approx(2.0) and w8.top_lift == pytest.approx(2.0)
    assert w16.pareto_lift == 0.0 and w16.top_lift == 0.0
    t1, t4 = rows["distill.temperature", "1"], rows["distill.temperature", "4"]
    assert t1.pareto_lift == pytest.approx(1.0) and t4.pareto_lift == pytest.approx(1.0)
    assert t1.top_lift == 0.0 and t4.top_lift == pytest.approx(2.0)
    assert pool.importances == () and "too few" in pool.importance_note


def test_importance_ranks_the_gene_that_sets_accuracy_first(tmp_path: Path) -> None:
    report = analyze(write_run(tmp_path / "run", synthetic_searches()))
    (track,) = report.tracks
    assert [p.pool for p in track.pools] == ["all", "random", "uniads"]
    for pool in track.pools:
        assert pool.importances, pool.importance_note
        ranked = {g.gene: g.importance for g in pool.importances}
        assert pool.importances[0].gene == "arch.width" and ranked["arch.width"] > 0.8
        assert ranked["arch.width"] > ranked["distill.temperature"]
        assert sum(ranked.values()) == pytest.approx(1.0)
    # uniads samples at rung 1 (12 per seed) and keeps 6 per seed at the top rung; random samples at the top.
    assert [(p.sampled, p.results) for p in track.pools] == [(48, 36), (24, 24), (24, 12)]
    assert analyze(tmp_path / "run") == report  # deterministic, random state derived from the seeds


def test_write_analysis_writes_markdown_json_and_chart(tmp_path: Path) -> None:
    report = analyze(write_run(tmp_path / "run", synthetic_searches()))
    paths = write_analysis(report, tmp_path / "run" / "analysis")
    assert [p.name for p in paths] == ["analysis.md", "analysis.json", "s-t-importance.png"]
    markdown = paths[0].read_text()
    assert "## Track t" in markdown and "### Option frequency: uniads" in markdown and "arch.width" in markdown
    assert json.loads(paths[1].read_text())["tracks"][0]["track"] == "t"
    assert paths[2].read_bytes().startswith(PNG)


def test_track_plots_write_deterministic_pngs_and_skip_tracks_without_search(tmp_path: Path) -> None:
    records = synthetic_searches() + [evaluation("kd", 0, 0, 30, 70.0, 160, phase="final", track="fixed", width=8)]
    cfg = config(("t", "fixed"))
    first = track_plots(records, cfg, tmp_path / "a")
    assert [p.name for p in first] == ["s-t-pareto.png", "s-t-anytime.png"]
    for path in first:
        data = path.read_bytes()
        assert data.startswith(PNG) and len(data) > 1000
    second = track_plots(records, cfg, tmp_path / "b")
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]
    fixed_only = [r for r in records if r.phase == "final"]
    assert track_plots(fixed_only, cfg, tmp_path / "c") == []
    assert not (tmp_path / "c").exists()


def test_bad_run_directories_raise_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="journal.jsonl and config.json"):
        analyze(tmp_path)
    run_dir = write_run(tmp_path / "run", tiny_search())
    (run_dir / "config.json").write_text("{}")
    with pytest.raises(UserError, match="not a run config"):
        analyze(run_dir)
    write_run(run_dir, tiny_search())
    with open(run_dir / "journal.jsonl", "a") as handle:
        handle.write("{torn")  # a crash mid-append: ignored, like resume does, and the file is left alone
    size = (run_dir / "journal.jsonl").stat().st_size
    assert analyze(run_dir).tracks[0].pools[0].results == 3
    assert (run_dir / "journal.jsonl").stat().st_size == size


def test_run_without_search_methods_gives_an_empty_report(tmp_path: Path) -> None:
    finals = [r for r in synthetic_searches() if r.phase == "final"]
    report = analyze(write_run(tmp_path / "run", finals))
    assert report.tracks == ()
    assert [p.name for p in write_analysis(report, tmp_path / "out")] == ["analysis.md", "analysis.json"]


@pytest.mark.slow
def test_analysis_and_plots_of_a_real_digits_run(tmp_path: Path) -> None:
    args = ["digits", "--tracks", "cnn", "--budget-scale", "0.3", "--seeds", "0", "--methods", "random,uniads",
            "--out", str(tmp_path / "runs"), "--leaderboard-dir", str(tmp_path / "boards"),
            "--cache-dir", str(tmp_path / "cache")]
    result = subprocess.run([sys.executable, "-m", "uniads_bench", *args], cwd=tmp_path, capture_output=True,
                            text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    (run_dir,) = list((tmp_path / "runs").iterdir())
    report = analyze(run_dir)
    assert [p.pool for p in report.tracks[0].pools] == ["all", "random", "uniads"]
    assert report.tracks[0].pools[0].results > 0
    assert len(write_analysis(report, run_dir / "analysis")) >= 2
    records = read_journal(run_dir / "journal.jsonl")
    config = json.loads((run_dir / "config.json").read_text())
    assert [p.name for p in track_plots(records, config, tmp_path / "plots")] == [
        "digits-cnn-pareto.png", "digits-cnn-anytime.png"]
