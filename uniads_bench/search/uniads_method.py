"""The `uniads` method: the UniADS searcher run as a leaderboard method, with its ablations as variants.

Apart from the searcher (`search/uniads.py`) so that loading a suite, which checks every method's definition,
does not import pymoo and nevergrad (measured: they were a third of `uniads-bench space`'s start-up).
"""

from uniads_bench.methods import SearchMethod

METHOD = SearchMethod(
    name="uniads",
    searcher="uniads",
    description="NSGA-II over (val error, params) under the cap, successive halving, loss rejection, space shrinking",
    # Ablations of the search machinery, one part switched off each: `uniads:no-halving` trains every
    # offspring at full fidelity, `uniads:no-shrinking` keeps sampling weights uniform, `uniads:no-rejection`
    # trains the lowest rung without the loss-rejection rules (non-finite or diverging runs still stop),
    # `uniads:no-known` starts from a purely sampled population (not from the suite's fixed methods).
    variants={"no-halving": {"halving": False}, "no-shrinking": {"shrink_rate": 0.0},
              "no-rejection": {"loss_rejection": False}, "no-known": {"start_from_known": False}},
)
