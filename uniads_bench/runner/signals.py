"""SIGINT/SIGTERM during a run: stop at once, never mid-record, and say how to resume.

The handler raises `RunInterrupted` wherever the run is (usually mid-training); the unfinished evaluation
is simply trained again on resume, with the same seed, exactly as after `kill -9`. Raising at once instead
of setting a flag checked between evaluations keeps Ctrl-C responsive during long trainings. The only
writes a signal must not cut are journal appends, which block both signals while they write (see
`signals_blocked`); summary and leaderboard files are written atomically, so an interrupt leaves the old file.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class RunInterrupted(BaseException):
    """A run stopped by SIGINT or SIGTERM; the CLI exits with 128 + the signal number (130, 143).

    A BaseException, like KeyboardInterrupt: the engine records a candidate's own exceptions as `failed` and
    goes on, and a signal arriving mid-training must not be mistaken for one.
    """

    def __init__(self, signum: int, run_dir: Path | None = None, how: str = "") -> None:
        self.signum = signum
        self.run_dir = run_dir
        self.exit_code = 128 + signum
        how = how or (f"continue with the same command plus --resume {run_dir}" if run_dir else "")
        super().__init__(f"interrupted by {signal.Signals(signum).name}" + (f"; {how}" if how else ""))


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM raise `RunInterrupted`; the previous handlers come back after.

    Outside the main thread (where Python cannot install handlers) the block changes nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        raise RunInterrupted(signum)

    previous = {s: signal.signal(s, handle) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


@contextmanager
def signals_blocked() -> Iterator[None]:
    """Hold SIGINT and SIGTERM until the block ends, so a record is written whole; they are delivered after."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
