"""The engine on real digits data: guards reject bad candidates, crashes become statuses, the teacher cache
serves exactly what the teacher computes, and evaluation repeats exactly."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from uniads_bench.candidate import Candidate
from uniads_bench.config import load_suite
from uniads_bench.data.digits import load_digits_arrays
from uniads_bench.data.loader import Augment
from uniads_bench.engine.train import teacher_epoch_outputs, train_candidate
from uniads_bench.results import Fidelity
from uniads_bench.runner.context import build_context
from uniads_bench.runner.options import RunOptions, resolve_suite

REFERENCE = {"width": 8, "depth": 1}


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    suite = resolve_suite(load_suite("digits"), RunOptions(budget_scale=0.25))
    context, _ = build_context(suite, suite.tracks[0], load_digits_arrays(), torch.device("cpu"),
                               Path(tmp_path_factory.mktemp("cache")), Path("unused"), log=lambda _: None)
    return context


def kd(weight: float = 0.9, **optim) -> Candidate:
    return Candidate.make(REFERENCE, "kd", {"temperature": 4.0, "ce_weight": 0.1, "kd_weight": weight}, optim)


def test_huge_kd_weight_is_rejected_and_next_candidate_trains(ctx) -> None:
    bad = train_candidate(ctx, kd(weight=1e6), Fidelity(2), seed=0, phase="search", guard=True)
    assert bad.status == "rejected" and "dwarf" in bad.reason
    assert bad.epochs_done < 2  # stopped early, charged only what it used
    good = train_candidate(ctx, kd(), Fidelity(4), seed=0, phase="search", guard=True)
    assert good.status == "ok" and good.top1 > 25.0  # chance is 10%


def test_exploding_learning_rate_is_caught(ctx) -> None:
    result = train_candidate(ctx, kd(lr_mult=1e5), Fidelity(2), seed=0, phase="search", guard=True)
    assert result.status == "rejected"
    assert "non-finite" in result.reason or "diverged" in result.reason or "chance" in result.reason
    outside = train_candidate(ctx, kd(lr_mult=1e5), Fidelity(2), seed=0, phase="final", guard=False)
    assert outside.status in ("diverged", "ok")


def test_crash_and_oom_become_statuses(ctx, monkeypatch) -> None:
    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("uniads_bench.engine.train.evaluate_top1", boom)
    failed = train_candidate(ctx, kd(), Fidelity(1), seed=0, phase="search")
    assert failed.status == "failed" and "boom" in failed.reason and "Traceback" in failed.traceback

    def oom(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr("uniads_bench.engine.train.evaluate_top1", oom)
    assert train_candidate(ctx, kd(), Fidelity(1), seed=0, phase="search").status == "oom"


def test_parameter_cap_rejects_before_training(ctx) -> None:
    big = Candidate.make({"width": 32, "depth": 3}, "ce")
    result = train_candidate(ctx, big, Fidelity(5), seed=0, phase="search", param_cap=6000)
    assert result.status == "rejected" and "cap" in result.reason and result.epochs_done == 0


def test_teacher_cache_serves_exactly_the_teacher_outputs(ctx) -> None:
    hits, misses = ctx.cache.hits, ctx.cache.misses
    train_candidate(ctx, kd(), Fidelity(1), seed=11, phase="search")
    train_candidate(ctx, kd(weight=0.5), Fidelity(1), seed=11, phase="search")
    assert ctx.cache.misses - misses == 1 and ctx.cache.hits - hits == 1
    data = ctx.search_train
    plan = data.plan(11, 0, Augment(1, False))
    logits, features = ctx.cache.get("search/11/0", lambda: pytest.fail("must be cached"))
    fresh_logits, fresh_features = teacher_epoch_outputs(ctx.teacher, data, plan, 1, ctx.bf16("search"))
    assert torch.equal(logits, fresh_logits) and torch.equal(features, fresh_features)


def test_evaluation_repeats_exactly(ctx) -> None:
    torch.use_deterministic_algorithms(True)
    try:
        a = train_candidate(ctx, kd(), Fidelity(2), seed=3, phase="search")
        b = train_candidate(ctx, kd(), Fidelity(2), seed=3, phase="search")
    finally:
        torch.use_deterministic_algorithms(False)
    assert a.top1 == b.top1 and a.loss_last == b.loss_last
    c = train_candidate(ctx, kd(), Fidelity(2), seed=4, phase="search")
    assert c.loss_last != a.loss_last


def test_a_signal_mid_training_stops_the_run_instead_of_failing_the_candidate(ctx, monkeypatch) -> None:
    import signal

    from uniads_bench.runner.signals import RunInterrupted

    def interrupted(*args, **kwargs):
        raise RunInterrupted(signal.SIGTERM)

    monkeypatch.setattr("uniads_bench.engine.train.evaluate_top1", interrupted)
    with pytest.raises(RunInterrupted):
        train_candidate(ctx, kd(), Fidelity(1), seed=0, phase="search")


@pytest.mark.slow
def test_compiled_final_training_trains_through_torch_compile(ctx) -> None:
    """`--compile`: the final phase runs the student through torch.compile (inductor, a C++ compiler on the
    CPU) and reaches the accuracy of the eager run; search rungs stay eager."""
    from dataclasses import replace

    from torch._dynamo.utils import counters

    counters.clear()
    compiled = train_candidate(replace(ctx, compile_final=True), kd(), Fidelity(3), seed=0, phase="final")
    assert counters["stats"]["unique_graphs"] >= 1
    eager = train_candidate(ctx, kd(), Fidelity(3), seed=0, phase="final")
    assert compiled.status == "ok" and abs(compiled.top1 - eager.top1) < 5.0
    counters.clear()
    train_candidate(replace(ctx, compile_final=True), kd(), Fidelity(1), seed=0, phase="search")
    assert counters["stats"]["unique_graphs"] == 0


def test_precision_rules_and_a_bf16_candidate_on_the_cpu(ctx) -> None:
    """`--precision`: auto is bf16 for CUDA search rungs only (final phases and teachers fp32, as the
    references); bf16 autocast also trains on a CPU, to the same accuracy band."""
    from dataclasses import replace

    from uniads_bench.engine.train import use_bf16
    from uniads_bench.errors import UserError

    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert [use_bf16(cuda, "auto", phase) for phase in ("search", "final", "teacher")] == [True, False, False]
    assert not any(use_bf16(cpu, "auto", phase) for phase in ("search", "final", "teacher"))
    assert use_bf16(cpu, "bf16", "final") and not use_bf16(cpu, "bf16", "teacher")
    assert not use_bf16(cuda, "fp32", "search")
    with pytest.raises(UserError, match="unknown precision 'fp8'"):
        use_bf16(cpu, "fp8", "search")
    fp32 = train_candidate(ctx, kd(), Fidelity(4), seed=0, phase="search")
    bf16 = train_candidate(replace(ctx, precision="bf16"), kd(), Fidelity(4), seed=0, phase="search")
    assert bf16.status == "ok" and bf16.top1 > 25.0 and abs(bf16.top1 - fp32.top1) < 10.0
    assert bf16.loss_last != fp32.loss_last  # it really ran in another precision
