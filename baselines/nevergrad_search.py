"""Nevergrad optimizers over the joint space; ``nevergrad:NAME`` picks the optimizer (default DiscreteOnePlusOne)."""

from uniads_bench.methods import SearchMethod

METHOD = SearchMethod(
    name="nevergrad",
    searcher="nevergrad",
    options={"variant": "DiscreteOnePlusOne"},
    description="nevergrad optimizer over the joint space at full search fidelity, penalised parameter cap",
)
