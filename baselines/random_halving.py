"""Random search with successive halving: uniform samples promoted through epoch rungs by the shared halving code."""

from uniads_bench.methods import SearchMethod

METHOD = SearchMethod(
    name="random+halving",
    searcher="random+halving",
    description="uniform random samples of the joint space, successive halving over epoch rungs (eta=3)",
)
