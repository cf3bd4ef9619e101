"""What a run shows its user while it works: one status per (track, method, seed) job, not a line per evaluation.

A job's status is its phase, the search budget spent of the declared one, its evaluations, the best feasible
validation top-1 so far (with the fidelity it was reached at: rung scores are not final scores), the elapsed
time and, while it searches, an ETA (the search's elapsed time scaled by the budget left).
On a terminal the active jobs are a live block redrawn in place at most every `redraw_s`; anywhere else (CI,
`docker run` without `-t`, a log file) each job prints a plain line at most every `interval_s`, and when it
ends. Messages (teacher training, a search's end, retries, warnings) print above the block. The line of every
evaluation goes to the run directory's ``run.log`` (the runner writes it) and, with ``--verbose``, here too.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

CLEAR_BLOCK = "\x1b[{n}F\x1b[J"  # cursor up n lines to column 0, clear to the end of the screen


@dataclass
class JobStatus:
    """One (track, method, seed) job as the user sees it."""

    job: str
    declared: float | None  # search budget in GPU-hours of the suite's profile; None: a fixed method
    started: float
    phase: str = "waiting"
    spent: float = 0.0
    evaluations: int = 0
    best: tuple[int, float] | None = None  # (epochs, feasible validation top-1) at the highest fidelity reached
    final_epochs: int = 0
    final_started: float = 0.0
    done: bool = False
    result: str = ""
    last_printed: float = field(default=-1e18)

    def line(self, now: float) -> str:
        elapsed = now - self.started
        if self.done:
            return f"[{self.job}] done in {_clock(elapsed)}" + (f": {self.result}" if self.result else "")
        bits = []
        if self.declared is not None:
            share = self.spent / self.declared if self.declared else 1.0
            bits.append(f"search {share:.0%} of {self.declared:.3g} h budget, {self.evaluations} evals")
            if self.best is not None:
                bits.append(f"best val {self.best[1]:.2f}% @{self.best[0]} ep")
            if self.phase == "search" and 0 < share < 1:
                bits.append(f"ETA search {_clock(elapsed * (1 - share) / share)}")
        if self.phase == "final":
            bits.append(f"final training ({self.final_epochs} ep) {_clock(now - self.final_started)} in")
        bits.append(f"{_clock(elapsed)} elapsed")
        return f"[{self.job}] " + ", ".join(bits)


class Progress:
    """The live status of a run's jobs (module docstring); safe to call from the runner's job threads."""

    def __init__(self, stream: TextIO, verbose: bool = False, live: bool | None = None, interval_s: float = 30.0,
                 redraw_s: float = 0.25, clock: Callable[[], float] = time.monotonic) -> None:
        self.stream, self.verbose, self.clock = stream, verbose, clock
        self.live = stream.isatty() if live is None else live
        self.interval_s, self.redraw_s = interval_s, redraw_s
        self.jobs: dict[str, JobStatus] = {}
        self.total = 0
        self.started = clock()
        self._drawn = 0
        self._last_draw = -1e18
        self._lock = threading.Lock()

    def expect(self, jobs: int) -> None:
        """`jobs` more jobs will run (a track's method x seed pairs)."""
        with self._lock:
            self.total += jobs

    def message(self, line: str) -> None:
        """A line the user should always see (printed above the live block)."""
        with self._lock:
            self._clear()
            self.stream.write(line + "\n")
            self._draw(force=True)

    def start(self, job: str, declared: float | None) -> None:
        """`job` begins: a search with `declared` GPU-hours of budget, or (None) a fixed method's training.
        Off a terminal its first line waits for its first evaluation or its final training."""
        with self._lock:
            self.jobs[job] = JobStatus(job, declared, self.clock(), "search" if declared is not None else "queued")
            self._draw()

    def evaluation(self, key: str, line: str, phase: str, spent: float, epochs: int, top1: float | None,
                   feasible: bool) -> None:
        """One evaluation booked by the runner: `key` is ``TRACK/METHOD/SEED/...``, `line` its log line."""
        with self._lock:
            if self.verbose:
                self._clear()
                self.stream.write(line + "\n")
            job = self.jobs.get("/".join(key.split("/")[:3]))
            if job is None:
                return
            if phase == "search":
                job.spent, job.evaluations = spent, job.evaluations + 1
                if feasible and top1 is not None and (job.best is None or (epochs, top1) > job.best):
                    job.best = (epochs, top1)
            self._tick(job, self.clock())

    def final(self, job: str, epochs: int) -> None:
        """`job` starts its final training of `epochs` epochs."""
        with self._lock:
            status = self.jobs[job]
            status.phase, status.final_epochs, status.final_started = "final", epochs, self.clock()
            self._tick(status, status.final_started)

    def finish(self, job: str, result: str) -> None:
        with self._lock:
            status = self.jobs[job]
            status.done, status.result = True, result
            now = self.clock()
            if not self.live:
                self.stream.write(status.line(now) + "\n")
            self._draw(force=True)

    def close(self) -> None:
        """Leave the last state of the block on screen (terminal) and stop drawing."""
        with self._lock:
            self._draw(force=True)
            self._drawn = 0

    def _tick(self, job: JobStatus, now: float) -> None:
        if self.live:
            self._draw()
        elif now - job.last_printed >= self.interval_s:
            job.last_printed = now
            self.stream.write(job.line(now) + "\n")
            self.stream.flush()

    def _clear(self) -> None:
        if self.live and self._drawn:
            self.stream.write(CLEAR_BLOCK.format(n=self._drawn))
            self._drawn = 0

    def _draw(self, force: bool = False) -> None:
        if not self.live:
            return
        now = self.clock()
        if not force and now - self._last_draw < self.redraw_s:
            return
        self._clear()
        active = [j for j in self.jobs.values() if not j.done]
        finished = sum(j.done for j in self.jobs.values())
        lines = [j.line(now) for j in active]
        lines.append(f"{finished} of {self.total} jobs done, {_clock(now - self.started)} elapsed")
        self.stream.write("\n".join(lines) + "\n")
        self.stream.flush()
        self._drawn, self._last_draw = len(lines), now


def _clock(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"
