"""The joint search space: genes, frozen candidates, and the per-track space."""

from uniads_bench.space.candidate import Candidate
from uniads_bench.space.space import Gene, Space, track_space

__all__ = ["Candidate", "Gene", "Space", "track_space"]
