"""Random search over the track's joint space (architecture and distiller genes) under the search budget."""

from uniads_bench.methods import SearchMethod

METHOD = SearchMethod(
    name="random",
    searcher="random",
    description="uniform random samples of the joint space at full search fidelity",
)
