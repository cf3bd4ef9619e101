"""uniads-bench: a reproducible benchmark suite for distillation-aware search (UniADS and baselines)."""

__version__ = "0.1.0"
