"""The joint search space: genes and the per-track space (candidates are ground-floor vocabulary: `candidate.py`)."""

from uniads_bench.space.space import Gene, Space, known_points, track_space

__all__ = ["Gene", "Space", "known_points", "track_space"]
