"""Hand-made observations for the search unit tests."""

from __future__ import annotations

from uniads_bench.candidate import Candidate
from uniads_bench.results import EvalResult, Fidelity
from uniads_bench.search.base import Ask, Observation

CAP = 1000


def obs(name: str, top1: float, params: int, epochs: int = 3, status: str = "ok") -> Observation:
    """An observation of a candidate named `name` (one arch gene) with these outcomes."""
    candidate = Candidate.make({"name": name}, "fake")
    result = EvalResult(candidate.id, status, "", top1, params, 0, float(epochs), (), 0.0)
    return Observation(Ask(candidate, Fidelity(epochs), guard=True), result)


def names(candidates: list[Candidate]) -> list[str]:
    return [c.arch_dict["name"] for c in candidates]
