"""The failure policy of a search: when crashing evaluations end it, and the error that says so."""

from __future__ import annotations

from collections import deque

from uniads_bench.errors import UserError
from uniads_bench.results import EvalResult


class SearchAborted(UserError):
    """A search stopped by its failure budget; exit code 3 tells it apart from bad input (2)."""

    exit_code = 3


class FailureBudget:
    """The share of failed (`failed`/`oom`) evaluations over a search's last `window` evaluations.

    Rejected (over the parameter cap, at chance) and diverged candidates are what a search is for and do
    not count; crashes of a plug-in or of the machine do, since every further evaluation would crash too.
    """

    FAILURES = ("failed", "oom")

    def __init__(self, max_share: float, window: int) -> None:
        self.max_share = max_share
        self.recent: deque[EvalResult] = deque(maxlen=window)

    def record(self, result: EvalResult) -> str | None:
        """Add one result; return a summary when the window is full and its failure share is too high."""
        self.recent.append(result)
        failed = [r for r in self.recent if r.status in self.FAILURES]
        if len(self.recent) < (self.recent.maxlen or 0) or len(failed) <= self.max_share * len(self.recent):
            return None
        counts = ", ".join(f"{s}: {sum(r.status == s for r in failed)}" for s in self.FAILURES)
        return (f"{len(failed)} of the last {len(self.recent)} evaluations failed ({counts}; more than "
                f"search.max_failure_share = {self.max_share}); last reason: {failed[-1].reason}")
