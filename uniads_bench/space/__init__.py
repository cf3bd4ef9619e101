"""The joint search space: genes and the per-track space (candidates are ground-floor vocabulary: `candidate.py`)."""

from uniads_bench.space.space import Gene, Space, track_space

__all__ = ["Gene", "Space", "track_space"]
