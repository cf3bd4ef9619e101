"""UniADS searcher: shrinking rules, exhaustion of a tiny space, archive and choice, ablation variants."""

from __future__ import annotations

import numpy as np
import pytest

from uniads_bench.methods import get_method
from uniads_bench.results import EvalResult, Fidelity
from uniads_bench.rng import numpy_generator
from uniads_bench.search.base import Ask, Observation, SearchSetup
from uniads_bench.search.evaluators import make_evaluator, run_offline_search
from uniads_bench.search.halving import HalvingSchedule
from uniads_bench.search.uniads import (
    DEFAULT_POP_SIZE,
    MAX_POP_SIZE,
    MIN_POP_SIZE,
    ShrinkWeights,
    UniADSSearch,
    population_size,
)
from uniads_bench.space.adapters import indices_to_candidate
from uniads_bench.space.space import Gene, Space

SPACE = Space((Gene("a", "arch", (1, 2, 3)), Gene("t", "distill", ("x", "y"))), "fake")


def test_penalise_shrinks_bad_options_spares_good_ones_and_floors() -> None:
    weights = ShrinkWeights(SPACE, rate=0.5, floor=0.2)
    bad = [SPACE.candidate({"a": 1, "t": "x"}), SPACE.candidate({"a": 2, "t": "x"})]
    spared = [SPACE.candidate({"a": 2, "t": "y"})]
    weights.penalise(bad, spared)
    assert weights.weights["a"].tolist() == [0.5, 1.0, 1.0]  # a=2 is also in a spared candidate
    assert weights.weights["t"].tolist() == [0.5, 1.0]
    for _ in range(5):
        weights.penalise(bad, spared)
    assert weights.weights["a"].tolist() == [0.2, 1.0, 1.0]  # the floor keeps every option reachable


def test_a_student_over_the_cap_costs_only_its_architecture_options_weight() -> None:
    """Its size is what failed, not its distiller: shrinking leaves the distill options of an over-cap
    rung-0 student alone, and penalises all options of one the loss rules rejected."""
    setup = SearchSetup(SPACE, 1000, 9, np.random.default_rng(0), {"shrink_rate": 0.5})
    searcher = UniADSSearch(setup)
    big, failed = SPACE.candidate({"a": 3, "t": "y"}), SPACE.candidate({"a": 1, "t": "x"})
    searcher._shrink([obs_of(big, "rejected", 0.0, 5000), obs_of(failed, "rejected", 1.0, 500)])
    assert searcher.shrink.weights["a"].tolist() == [0.5, 1.0, 0.5]
    assert searcher.shrink.weights["t"].tolist() == [0.5, 1.0]


def obs_of(candidate, status: str, top1: float, params: int) -> Observation:
    return Observation(Ask(candidate, Fidelity(1), True), EvalResult(candidate.id, status, "", top1, params, 0, 1.0,
                                                                     (), 0.0))


def test_resample_keeps_unpenalised_options_and_moves_penalised_ones() -> None:
    weights = ShrinkWeights(SPACE, rate=0.8, floor=0.05)
    rng = np.random.default_rng(0)
    assert all(weights.resample({"a": 0, "t": 1}, rng) == {"a": 0, "t": 1} for _ in range(50))
    for _ in range(3):
        weights.penalise([SPACE.candidate({"a": 1, "t": "x"})], [])
    draws = [weights.resample({"a": 0, "t": 0}, rng)["a"] for _ in range(400)]
    assert 0.9 < np.mean(np.array(draws) != 0) < 1.0  # kept with probability w / max(w) = 0.05 at most


@pytest.mark.parametrize(("rate", "floor"), [(1.0, 0.1), (0.5, 0.0), (-0.1, 0.5)])
def test_bad_shrink_options_rejected(rate: float, floor: float) -> None:
    with pytest.raises(ValueError):
        ShrinkWeights(SPACE, rate, floor)


@pytest.mark.parametrize("method", ["uniads", "random", "random+halving", "nevergrad:DiscreteOnePlusOne",
                                    "nevergrad:TwoPointsDE"])
def test_tiny_space_exhaustion_stops_the_search(method: str) -> None:
    trace = run_offline_search(method, "synthetic:tiny", budget=1e9, seed=0, max_evaluations=500)
    ids = {(o.ask.candidate.id, o.ask.fidelity.epochs) for o in trace.observations}
    assert len(ids) == len(trace.observations) <= 4 * 3  # nothing evaluated twice at one fidelity
    assert trace.chosen is not None and trace.chosen.arch_dict["b"] == 1  # a Pareto-optimal candidate


def test_uniads_archive_and_choice() -> None:
    trace = run_offline_search("uniads", "synthetic:smooth", budget=8, seed=1, options={"pop_size": 9})
    assert {o.ask.fidelity.epochs for o in trace.observations} == {3, 9, 27}
    top = [o for o in trace.observations if o.ask.fidelity.epochs == 27 and o.result.ok
           and o.result.params <= trace.param_cap]
    best = max(top, key=lambda o: (o.result.top1, -o.result.params))
    assert trace.chosen == best.ask.candidate


def test_nsga2_is_told_each_candidates_highest_rung_result() -> None:
    evaluator = make_evaluator("synthetic:rugged", seed=0)
    setup = SearchSetup(evaluator.space, evaluator.param_cap, evaluator.max_epochs, np.random.default_rng(5),
                        {"pop_size": 9})
    searcher = UniADSSearch(setup)
    while len(searcher.brackets) < 2:  # finish generation 0; asking generation 1 tells NSGA-II
        asks = searcher.ask()
        searcher.tell([Observation(a, evaluator.evaluate(a)) for a in asks])
    pop = searcher.algorithm.pop
    assert len(pop) == 9
    for x, f, g in zip(pop.get("X"), pop.get("F"), pop.get("G"), strict=True):
        obs = searcher.reached[indices_to_candidate(setup.space, x).id]
        assert obs.ask.fidelity.epochs == max(o.ask.fidelity.epochs for o in searcher.archive
                                              if o.ask.candidate == obs.ask.candidate)
        if obs.result.ok:
            assert f.tolist() == [1 - obs.result.top1 / 100, obs.result.params]
            assert g[0] == pytest.approx((obs.result.params - setup.param_cap) / setup.param_cap)
        else:
            assert f[0] == 1.0 and g[0] >= 1.0  # rejected: infeasible, behind every trained candidate


def test_no_halving_trains_every_offspring_at_full_fidelity() -> None:
    trace = run_offline_search("uniads:no-halving", "synthetic:rugged", budget=8, seed=0)
    assert {o.ask.fidelity.epochs for o in trace.observations} == {trace.max_epochs}
    assert all(o.ask.guard for o in trace.observations)  # its one rung is still the guarded lowest rung


def test_no_rejection_guards_no_rung_so_rejectable_candidates_run_to_the_end() -> None:
    full = run_offline_search("uniads", "synthetic:rugged", budget=8, seed=0)
    ablated = run_offline_search("uniads:no-rejection", "synthetic:rugged", budget=8, seed=0)
    assert any(o.result.status == "rejected" for o in full.observations)  # rugged has a rejection region
    assert not any(o.ask.guard for o in ablated.observations)
    # Only the loss rules are off: a student over the cap is still rejected before training, as in a run.
    assert not any(o.result.status == "rejected" and "exceed the cap" not in o.result.reason
                   for o in ablated.observations)
    assert any(o.result.top1 == 1.0 and o.result.epochs_done == o.ask.fidelity.epochs for o in ablated.observations)


@pytest.mark.parametrize(("method", "shrinks"), [("uniads", True), ("uniads:no-shrinking", False)])
def test_no_shrinking_keeps_sampling_weights_uniform(method: str, shrinks: bool) -> None:
    evaluator = make_evaluator("synthetic:rugged", seed=0)
    setup = SearchSetup(evaluator.space, evaluator.param_cap, evaluator.max_epochs, np.random.default_rng(0),
                        dict(get_method(method).options))
    searcher = UniADSSearch(setup)
    while len(searcher.brackets) < 3:
        asks = searcher.ask()
        searcher.tell([Observation(a, evaluator.evaluate(a)) for a in asks])
    weights = np.concatenate(list(searcher.shrink.weights.values()))
    assert bool((weights < 1.0).any()) is shrinks


def test_no_copies_reach_nsga2_survival_after_the_shrinking_repair() -> None:
    """Every population NSGA-II keeps holds distinct candidates, generation after generation."""
    evaluator = make_evaluator("synthetic:smooth", 0)
    setup = SearchSetup(evaluator.space, evaluator.param_cap, evaluator.max_epochs, numpy_generator(0, "dups"),
                        {"shrink_rate": 0.6, "shrink_floor": 0.05})
    searcher = UniADSSearch(setup)
    populations = 0
    for _ in range(400):
        asks = searcher.ask()
        if not asks:
            break
        searcher.tell([Observation(a, evaluator.evaluate(a)) for a in asks])
        members = searcher.algorithm.pop
        if members is not None and len(members):
            ids = [indices_to_candidate(setup.space, x).id for x in members.get("X")]
            assert len(ids) == len(set(ids)), f"copies in generation {searcher.algorithm.n_gen}"
            populations += 1
    assert populations > 20


@pytest.mark.parametrize("start", [True, False])
def test_the_first_generation_starts_from_the_known_points_unless_switched_off(start: bool) -> None:
    """The suite's hand-designed methods enter the initial population (then compete on their merit)."""
    evaluator = make_evaluator("synthetic:rugged", seed=0)
    known = (evaluator.space.sample(np.random.default_rng(11)), evaluator.space.sample(np.random.default_rng(12)))
    setup = SearchSetup(evaluator.space, evaluator.param_cap, evaluator.max_epochs, np.random.default_rng(5),
                        {"pop_size": 9, "start_from_known": start}, known)
    searcher = UniADSSearch(setup)
    asks = searcher.ask()
    assert len(asks) == 9 and {a.fidelity.epochs for a in asks} == {3}  # the lowest rung, like every member
    assert ([a.candidate for a in asks[:2]] == list(known)) is start
    assert searcher.state()["known"] == ([c.describe() for c in known] if start else [])


def test_auto_population_fits_several_generations_into_the_budget_and_says_so() -> None:
    schedule = HalvingSchedule((1, 3, 9), eta=3)
    # A bracket of n costs n/9 + (n//3)/3 + n//9 top-fidelity trainings: 27 -> 27/9 + 9/3 + 3 = 9.
    assert population_size("auto", schedule, budget_evaluations=4 * 9.0) == 27
    assert population_size("auto", schedule, budget_evaluations=1.0) == MIN_POP_SIZE  # too small for 4 gens
    assert population_size("auto", schedule, budget_evaluations=1e9) == MAX_POP_SIZE
    assert population_size("auto", schedule, budget_evaluations=None) == DEFAULT_POP_SIZE
    assert population_size(7, schedule, budget_evaluations=1e9) == 7
    evaluator = make_evaluator("synthetic:smooth", 0)
    setup = SearchSetup(evaluator.space, evaluator.param_cap, evaluator.max_epochs, np.random.default_rng(0),
                        {"pop_size": "auto"}, budget_evaluations=30.0)
    searcher = UniADSSearch(setup)
    assert len(searcher.ask()) == searcher.state()["pop_size"] == 25  # rungs 3, 9, 27: 4 x bracket(25) <= 30
