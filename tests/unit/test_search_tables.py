"""Replaying a table: which recorded row answers an ask, what it is charged, and the errors a user can cause."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from uniads_bench.budget import FlopCost
from uniads_bench.candidate import Candidate
from uniads_bench.errors import UserError
from uniads_bench.results import Fidelity
from uniads_bench.search.base import Ask
from uniads_bench.search.tables import TABLE_FORMAT, TableEvaluator, load_table, sha256_file
from uniads_bench.space.grid import space_to_json
from uniads_bench.space.space import Gene, Space

SPACE = Space((Gene("temperature", "distill", (1.0, 4.0)),), "kd")
COST = {"profile": "unit", "flops_per_second": 1e9, "teacher_macs": 1000, "train_samples": 100, "eval_samples": 10}
HEADER = "point,distiller,distill.temperature,epochs,seed,guard,status,reason,val_top1,test_top1,train_loss,params," \
         "macs,epochs_done,teacher_views,charge_gpu_hours,seconds\n"


def write_table(directory: Path) -> Path:
    """Two points x fidelities (1, 3) x seeds (0, 1); point t=4 at 1 epoch seed 1 was rejected by a loss rule
    and has an unguarded row beside it."""
    lines = []
    for t in (1.0, 4.0):
        point = SPACE.candidate({"temperature": t}).id
        for epochs in (1, 3):
            for seed in (0, 1):
                top1 = 10 * t + epochs + seed
                if t == 4.0 and epochs == 1 and seed == 1:
                    lines.append(f"{point},kd,{t},{epochs},{seed},True,rejected,kd term dwarfs ce,5.0,,9.0,100,50,"
                                 f"0.25,1,0,0\n")
                    lines.append(f"{point},kd,{t},{epochs},{seed},False,ok,,{top1},{top1 - 1},1.0,100,50,{epochs},"
                                 f"{epochs},0,0\n")
                else:
                    lines.append(f"{point},kd,{t},{epochs},{seed},True,ok,,{top1},{top1 - 1},1.0,100,50,{epochs},"
                                 f"{epochs},0,0\n")
    directory.mkdir()
    (directory / "table.csv").write_text(HEADER + "".join(lines))
    manifest = {"format": TABLE_FORMAT, "suite": "s", "track": "t", "space": space_to_json(SPACE), "param_cap": 1000,
                "fidelities": [1, 3], "seeds": [0, 1], "points": 2, "budget_gpu_hours": 1.0, "cost": COST,
                "sha256": {"table.csv": sha256_file(directory / "table.csv")}}
    (directory / "manifest.json").write_text(json.dumps(manifest))
    return directory


def ask(t: float, epochs: int, guard: bool = True) -> Ask:
    return Ask(SPACE.candidate({"temperature": t}), Fidelity(epochs), guard)


def test_a_fixed_seed_answers_with_its_rows_and_unguarded_asks_get_the_unguarded_row(tmp_path) -> None:
    evaluator = TableEvaluator(load_table(write_table(tmp_path / "t")), 0, {"seed": "1"})
    assert evaluator.evaluate(ask(1.0, 3)).top1 == 14.0
    assert evaluator.evaluate(ask(4.0, 1)).status == "rejected"
    unguarded = evaluator.evaluate(ask(4.0, 1, guard=False))
    assert unguarded.status == "ok" and unguarded.top1 == 42.0
    assert evaluator.evaluate(ask(1.0, 3, guard=False)).top1 == 14.0  # no unguarded row: the guards never fired


def test_seeds_are_drawn_per_candidate_and_fidelity_from_the_search_seed(tmp_path) -> None:
    table = load_table(write_table(tmp_path / "t"))
    draws = {s: TableEvaluator(table, s, {}).evaluate(ask(1.0, 3)).top1 for s in range(20)}
    assert set(draws.values()) == {13.0, 14.0}  # both recorded seeds occur
    assert TableEvaluator(table, 7, {}).evaluate(ask(1.0, 3)).top1 == draws[7]  # and the draw is repeatable


def test_charges_follow_the_cost_model_with_teacher_views_once_per_search(tmp_path) -> None:
    evaluator = TableEvaluator(load_table(write_table(tmp_path / "t")), 0, {"seed": "0"})
    plan = evaluator.plan(ask(1.0, 3))
    assert (plan.student_macs, plan.epochs, plan.views) == (50, 3, ("0", "1", "2"))
    assert evaluator.cost == FlopCost(1e9, 1000)


def test_the_regret_of_a_choice_is_its_shortfall_from_the_best_point_in_test_top1(tmp_path) -> None:
    evaluator = TableEvaluator(load_table(write_table(tmp_path / "t")), 0, {})
    assert evaluator.best_test_top1 == pytest.approx(42.5)  # t=4 at 3 epochs: (42 + 43) / 2
    assert evaluator.regret(ask(1.0, 3).candidate) == pytest.approx(30.0)
    assert evaluator.regret(None) == pytest.approx(42.5)


def test_asks_a_table_cannot_answer_are_user_errors(tmp_path) -> None:
    table = load_table(write_table(tmp_path / "t"))
    evaluator = TableEvaluator(table, 0, {})
    with pytest.raises(UserError, match="outside the grid"):
        evaluator.evaluate(Ask(Candidate.make({}, "kd", {"temperature": 2.0}), Fidelity(3), True))
    with pytest.raises(UserError, match="holds fidelities"):
        evaluator.evaluate(ask(1.0, 2))
    with pytest.raises(UserError, match="has seeds"):
        TableEvaluator(table, 0, {"seed": "5"})
    with pytest.raises(UserError, match="is not a table"):
        load_table(tmp_path)


def test_a_sampled_table_is_described_but_not_searched(tmp_path) -> None:
    directory = write_table(tmp_path / "t")
    manifest = json.loads((directory / "manifest.json").read_text())
    (directory / "manifest.json").write_text(json.dumps({**manifest, "sampled": True}))
    with pytest.raises(UserError, match="stratified sample"):
        TableEvaluator(load_table(directory), 0, {})


@pytest.mark.parametrize("manifest", sorted(Path(__file__).resolve().parents[2].glob("tables/*/manifest.json")),
                         ids=lambda p: p.parent.name)
def test_a_committed_table_records_the_known_points_a_build_would(manifest: Path) -> None:
    from uniads_bench.config import load_suite
    from uniads_bench.runner.table import known_json

    recorded = json.loads(manifest.read_text())
    table = load_table(manifest.parent)
    assert recorded["known"] == known_json(table.space, load_suite(recorded["suite"]), recorded["track"])
    known = TableEvaluator(table, 0, {}).known
    assert [c.id for c in known] == [Candidate.from_json(k["candidate"]).id for k in recorded["known"]]
    assert {c.id for c in known} <= {row["point"] for row in table.rows}  # points of the grid, value types too
