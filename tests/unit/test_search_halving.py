"""Successive halving: rungs, promotion by non-dominated rank then crowding (by accuracy into the top rung),
infeasible never promoted, a rung the budget cannot afford dropped."""

from __future__ import annotations

import pytest

from tests.unit.search_fakes import CAP, names, obs
from uniads_bench.candidate import Candidate
from uniads_bench.search.base import best_feasible
from uniads_bench.search.halving import Bracket, HalvingSchedule, drop_unaffordable, promote, rank_order, rung_epochs


@pytest.mark.parametrize(("r_min", "eta", "top", "expected"), [
    (1, 3, 10, (1, 3, 10)), (3, 3, 27, (3, 9, 27)), (1, 3, 9, (1, 3, 9)), (10, 3, 10, (10,)), (1, 2, 10, (1, 2, 4, 10)),
])
def test_rungs(r_min: int, eta: int, top: int, expected: tuple[int, ...]) -> None:
    assert rung_epochs(r_min, eta, top) == expected


def test_default_schedule_has_three_rungs() -> None:
    schedule = HalvingSchedule.from_options({}, 27)
    assert schedule.rungs == (3, 9, 27) and schedule.bracket_size == 9
    assert [schedule.survivors(n) for n in (1, 2, 3, 9, 12)] == [1, 1, 1, 3, 4]


def test_promotion_prefers_lower_rank_then_crowding() -> None:
    # Front 0 is a (lowest error), b, c (fewest params); e is dominated by b only, d by b and e.
    rung = [obs("a", 80, 900), obs("b", 70, 500), obs("c", 60, 100), obs("d", 65, 600), obs("e", 70, 510)]
    order = names([rung[i].ask.candidate for i in rank_order(rung, CAP)])
    assert set(order[:3]) == {"a", "b", "c"}  # the first front
    assert order[:2] == ["a", "c"]  # extremes of the front have infinite crowding distance
    assert order[3:] == ["e", "d"]  # e is on the second front, d on the third
    assert names(promote(rung, 2, CAP)) == ["a", "c"]


def test_infeasible_never_promoted() -> None:
    rung = [obs("over", 99, CAP + 1), obs("rej", 99, 10, status="rejected"), obs("div", 99, 10, status="diverged"),
            obs("ok", 10, 900)]
    assert names(promote(rung, 3, CAP)) == ["ok"]
    assert promote([obs("over", 99, CAP + 1)], 1, CAP) == []


def test_ties_go_to_ask_order() -> None:
    rung = [obs("x", 70, 500), obs("y", 70, 500), obs("z", 70, 500)]
    assert names(promote(rung, 2, CAP)) == ["x", "y"]


def test_only_equal_fidelity_is_compared() -> None:
    with pytest.raises(ValueError, match="one fidelity"):
        rank_order([obs("a", 70, 1, epochs=3), obs("b", 60, 1, epochs=9)], CAP)


def test_bracket_guards_only_the_lowest_rung_and_uses_highest_rung_result() -> None:
    candidates = [Candidate.make({"name": str(i)}, "fake") for i in range(9)]
    bracket = Bracket(candidates, HalvingSchedule((3, 9, 27), 3), CAP)
    seen = []
    while not bracket.done:
        asks = bracket.asks()
        seen.append((asks[0].fidelity.epochs, len(asks), {a.guard for a in asks}))
        bracket.tell([obs(a.candidate.arch_dict["name"], 50 + int(a.candidate.arch_dict["name"]), 100,
                          a.fidelity.epochs) for a in asks])
    assert seen == [(3, 9, {True}), (9, 3, {False}), (27, 1, {False})]
    assert bracket.promotions == [[c.id for c in candidates[8:5:-1]], [candidates[8].id]]
    assert bracket.reached[candidates[8].id].ask.fidelity.epochs == 27
    assert bracket.asks() == []


def test_bracket_ends_when_nothing_is_feasible() -> None:
    bracket = Bracket([Candidate.make({"name": "a"}, "fake")], HalvingSchedule((3, 9), 3), CAP)
    bracket.tell([obs("a", 90, 10, status="rejected")])
    assert bracket.done and bracket.promotions == [[]]


def test_ablation_options_give_one_rung_or_no_guard() -> None:
    assert HalvingSchedule.from_options({"halving": False}, 27).rungs == (27,)
    unguarded = HalvingSchedule.from_options({"loss_rejection": False}, 27)
    bracket = Bracket([Candidate.make({"name": "a"}, "fake")], unguarded, CAP)
    assert [a.guard for a in bracket.asks()] == [False]


def test_the_choice_is_made_at_the_highest_fidelity_reached() -> None:
    """A 1-epoch score never beats a 3-epoch one; when the budget ended every bracket below its top rung,
    the best low-rung result is handed on instead of nothing."""
    top_rung = [obs("a", 60.0, 500, epochs=3), obs("b", 50.0, 400, epochs=3)]
    low_rung = [obs("c", 90.0, 300, epochs=1), obs("d", 70.0, 200, epochs=1), obs("e", 95.0, 2 * CAP, epochs=1)]
    assert names([best_feasible(low_rung + top_rung, CAP)]) == ["a"]
    assert names([best_feasible(low_rung, CAP)]) == ["c"]  # "e" is over the cap
    assert best_feasible([obs("f", 99.0, 100, epochs=3, status="diverged")], CAP) is None


def test_the_top_rung_slot_goes_to_the_most_accurate_candidate() -> None:
    # The smallest candidate asks first and ends the front as the most accurate does: by crowding both tie, and
    # ask order gave it the single top-rung slot, though the final choice ranks by accuracy (issue 19).
    bracket = Bracket([Candidate.make({"name": n}, "fake") for n in ("small", "mid", "best")],
                      HalvingSchedule((1, 3), 3), CAP)
    bracket.tell([obs("small", 60, 100, epochs=1), obs("mid", 70, 500, epochs=1), obs("best", 80, 900, epochs=1)])
    assert names([a.candidate for a in bracket.asks()]) == ["best"]
    assert names(promote(bracket.observed[0], 1, CAP)) == ["small"]  # an intermediate rung keeps the front's spread


def test_a_bracket_whose_next_rung_does_not_fit_ends_there() -> None:
    def bracket() -> Bracket:
        return Bracket([Candidate.make({"name": str(i)}, "fake") for i in range(9)], HalvingSchedule((1, 3, 9), 3),
                       CAP)

    def tell_rung(b: Bracket, asks: list) -> None:
        b.tell([obs(a.candidate.arch_dict["name"], 50 + int(a.candidate.arch_dict["name"]), 100,
                    epochs=a.fidelity.epochs) for a in asks])

    lowest = bracket()
    assert not drop_unaffordable(lowest, lowest.asks()) and not lowest.done  # nothing cheaper: the search ends
    upper = bracket()
    tell_rung(upper, upper.asks())
    assert drop_unaffordable(upper, upper.asks()) and upper.done  # the rung is dropped, a new bracket may start
    moved_on = bracket()
    tell_rung(moved_on, moved_on.asks())
    rung1 = moved_on.asks()
    tell_rung(moved_on, rung1[:2])  # two of three 3-epoch asks fitted: the bracket promoted among them
    assert drop_unaffordable(moved_on, rung1[2:]) and not moved_on.done
    assert [a.fidelity.epochs for a in moved_on.asks()] == [9]


def test_a_bracket_costs_each_rung_its_survivors_times_its_share_of_the_top_fidelity() -> None:
    schedule = HalvingSchedule((1, 3, 9), eta=3)
    # 9 at 1/9, 3 at 3/9, 1 at 9/9 of a top-fidelity training.
    assert schedule.bracket_cost(9) == pytest.approx(3.0)
    assert schedule.bracket_cost(2) == pytest.approx(2 / 9 + 3 / 9 + 1)  # one survivor at least per rung
