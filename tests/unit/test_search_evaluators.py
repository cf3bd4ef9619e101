"""Offline evaluators (replay and synthetic), journal -> table, offline search and anytime metrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from uniads_bench.candidate import Candidate
from uniads_bench.errors import UserError
from uniads_bench.journal import EvaluationRecord, JournalRecord, RetryRecord
from uniads_bench.results import EvalResult, Fidelity
from uniads_bench.search.base import Ask
from uniads_bench.search.evaluators import (
    cifar_resnet_params,
    journal_to_table,
    make_evaluator,
    parse_spec,
    run_offline_search,
    table_csv,
)
from uniads_bench.search.metrics import anytime, hypervolume, journal_observations, normalised_points
from uniads_bench.search.synthetic import PROBLEMS

DISWOT = Path(__file__).resolve().parents[3] / "shared/data/diswot-s1/resnet20_depth_cifar100.csv"
needs_diswot = pytest.mark.skipif(not DISWOT.is_file(), reason="DisWOT table not present")


def test_resnet_formula_matches_resnet20() -> None:
    assert cifar_resnet_params(3, 3, 3) == 278_324  # counted on uniads_bench.models.cifar.resnet.resnet(20)
    assert cifar_resnet_params(5, 5, 5) == 472_756  # ResNet-32


def test_parse_spec() -> None:
    assert parse_spec("replay:t.csv?metric=top1_kd&cap=5") == ("replay", "t.csv", {"metric": "top1_kd", "cap": "5"})
    with pytest.raises(UserError):
        parse_spec("real")


@needs_diswot
def test_diswot_table_replays_with_inferred_space() -> None:
    evaluator = make_evaluator(f"replay:{DISWOT}?metric=top1_kd&noise=0&bias=0", seed=0)
    assert [(g.name, g.options) for g in evaluator.space.genes] == [(d, (1, 3, 5, 7)) for d in ("d1", "d2", "d3")]
    candidate = evaluator.space.candidate({"d1": 1, "d2": 1, "d3": 1})
    result = evaluator.evaluate(Ask(candidate, Fidelity(3), True))
    assert result.ok and result.top1 == pytest.approx(61.87) and result.params == cifar_resnet_params(1, 1, 1)
    vanilla = make_evaluator(f"replay:{DISWOT}?metric=top1_vanilla&cap=300000", seed=0)
    assert vanilla.evaluate(Ask(candidate, Fidelity(27), True)).top1 == pytest.approx(60.2)
    assert vanilla.param_cap == 300_000
    feasible = [r["top1"] for r in evaluator.table.values() if r["params"] <= evaluator.param_cap]
    assert evaluator.regret(candidate) == pytest.approx(max(feasible) - 61.87)
    assert evaluator.regret(None) == pytest.approx(max(feasible))


def test_synthetic_fidelity_is_deterministic_and_the_top_carries_a_seed_spread() -> None:
    evaluator = make_evaluator("synthetic:smooth", seed=3)
    candidate = evaluator.space.sample(np.random.default_rng(0))
    low = [evaluator.evaluate(Ask(candidate, Fidelity(3), True)).top1 for _ in range(2)]
    assert low[0] == low[1]
    assert make_evaluator("synthetic:smooth", seed=4).evaluate(Ask(candidate, Fidelity(3), True)).top1 != low[0]
    truth = PROBLEMS["smooth"].truth(evaluator.space.values(candidate))
    exact = make_evaluator("synthetic:smooth?spread=0", seed=3).evaluate(Ask(candidate, Fidelity(27), False))
    assert exact.top1 == pytest.approx(truth.top1) and exact.params == truth.params
    # Like a real training's seed-to-seed spread: a full-fidelity score is the truth plus N(0, 0.5) per run seed.
    tops = [make_evaluator("synthetic:smooth", seed).evaluate(Ask(candidate, Fidelity(27), False)).top1 - truth.top1
            for seed in range(200)]
    assert abs(np.mean(tops)) < 0.15 and np.std(tops) == pytest.approx(0.5, rel=0.2)


def test_regret_scores_the_truth_of_what_a_search_hands_on() -> None:
    evaluator = make_evaluator("synthetic:smooth", seed=0)
    problem = PROBLEMS["smooth"]
    candidate = evaluator.space.sample(np.random.default_rng(1))
    truth = problem.truth(evaluator.space.values(candidate))
    assert evaluator.regret(None) == pytest.approx(problem.best_top1()) == pytest.approx(
        100 * (1 - problem.true_front()[:, 0].min()))
    expected = problem.best_top1() - (truth.top1 if truth.params <= problem.param_cap and not truth.rejected else 0)
    assert evaluator.regret(candidate) == pytest.approx(expected) and evaluator.regret(candidate) >= 0


def test_true_fronts_are_non_dominated_and_feasible() -> None:
    for name in ("smooth", "rugged"):
        front = PROBLEMS[name].true_front()
        assert len(front) > 5 and (front[:, 1] <= 1.0).all()
        assert (front[1:, 0] > front[:-1, 0]).all() and (front[1:, 1] < front[:-1, 1]).all()


def journal(candidates: list[Candidate]) -> list[JournalRecord]:
    records: list[JournalRecord] = [RetryRecord("t/m/0/search/0", 1, "worker died")]
    for i, c in enumerate(candidates):
        for epochs in (3, 9):
            result = EvalResult(c.id, "ok" if i else "rejected", "", 50.0 + i + epochs, 1000 * (i + 1), 5, epochs, (),
                                1.0)
            records.append(EvaluationRecord(f"t/m/0/search/{len(records)}", "t", "search", 0, c, epochs,
                                            epochs == 3, 0.5, 0.5 * len(records), result))
    final = EvalResult(candidates[1].id, "ok", "", 70.0, 2000, 5, 9, (), 1.0)
    records.append(EvaluationRecord("t/m/0/final", "t", "final", 0, candidates[1], 9, False, 0.0, 0.0, final))
    return records


def test_journal_table_round_trip_keeps_candidate_ids(tmp_path: Path) -> None:
    candidates = [Candidate.make({"depth": d}, "uniads", {"tau": t, "transform": "tanh"}, {"lr_mult": 1.0})
                  for d, t in ((1, 4.0), (2, 8.0), (3, 4.0))]
    rows = journal_to_table(journal(candidates))
    assert len(rows) == 6 and rows[0]["distill.tau"] == 4.0
    path = tmp_path / "table.csv"
    path.write_text(table_csv(rows))
    evaluator = make_evaluator(f"replay:{path}", seed=0)
    assert evaluator.max_epochs == 9 and evaluator.space.distiller == "uniads"
    assert evaluator.evaluate(Ask(candidates[2], Fidelity(9), False)).top1 == 61.0
    assert evaluator.evaluate(Ask(candidates[2], Fidelity(5), True)).top1 == 55.0  # the 3-epoch row
    assert evaluator.evaluate(Ask(candidates[0], Fidelity(9), False)).status == "rejected"
    observations, charges = journal_observations(journal(candidates))
    assert len(observations) == 6 and sum(charges) == 3.0


def test_anytime_metrics() -> None:
    trace = run_offline_search("random", "synthetic:smooth", budget=10, seed=0)
    points = anytime(trace.observations, trace.charges, trace.budget, trace.param_cap, trace.max_epochs)
    assert [p.fraction for p in points] == [0.25, 0.5, 1.0]
    assert all(a.hypervolume <= b.hypervolume and a.best_error >= b.best_error
               for a, b in zip(points, points[1:], strict=False))
    assert points[-1].spent == pytest.approx(trace.spent) and trace.spent <= 10
    full = normalised_points(trace.observations, trace.param_cap, trace.max_epochs)
    assert points[-1].hypervolume == pytest.approx(hypervolume(full))
    assert hypervolume(PROBLEMS["smooth"].true_front()) > points[-1].hypervolume
    assert hypervolume(full[:0]) == 0.0


def test_offline_searches_reject_over_cap_students_for_free_as_runs_do() -> None:
    """One accounting rule: an over-cap student costs a real run nothing (rejected before training), so it
    costs an offline search nothing either."""
    trace = run_offline_search("random", "synthetic:rugged", budget=6, seed=3)
    over = [(o, c) for o, c in zip(trace.observations, trace.charges, strict=True)
            if o.result.params > trace.param_cap]
    assert over, "the rugged problem has students over its cap"
    assert all(o.result.status == "rejected" and o.result.epochs_done == 0 and c == 0 for o, c in over)
    assert trace.spent <= 6
