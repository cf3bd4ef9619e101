"""Writing the run journal: append-only JSON Lines of typed records (`uniads_bench.journal`), the source of
truth for resume.

Each append takes an exclusive lock, writes one line, flushes and fsyncs, with SIGINT/SIGTERM held until
the line is on disk, so an interrupt never tears a record (only `kill -9` or a full disk can). On reading,
a torn last line (a crash mid-append) is dropped with a warning; damage elsewhere is an error naming the line.
"""

from __future__ import annotations

import fcntl
import json
import os
import warnings
from pathlib import Path

from uniads_bench.durable import DISK_FULL, disk_full
from uniads_bench.journal import JournalRecord, parse_journal
from uniads_bench.runner.signals import signals_blocked


class Journal:
    """The run's journal at `path`: records are appended one durable line at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, record: JournalRecord) -> None:
        line = json.dumps(record.to_json(), sort_keys=True, separators=(",", ":")) + "\n"
        try:
            with signals_blocked(), open(self.path, "a", encoding="utf-8") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    handle.write(line)
                    handle.flush()
                    os.fsync(handle.fileno())
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
        except OSError as exc:
            if exc.errno in DISK_FULL:  # the partial line is a torn last line, dropped on resume
                raise disk_full(self.path, exc) from exc
            raise

    def read(self) -> list[JournalRecord]:
        """All complete records. An unterminated final line is a torn append: it is dropped with a warning
        and cut from the file, so the next append starts on a clean line."""
        if not self.path.exists():
            return []
        raw = self.path.read_bytes()
        records, torn = parse_journal(raw, self.path)
        if torn:
            warnings.warn(f"{self.path}: dropping a torn last line ({len(torn)} bytes)", stacklevel=2)
            with open(self.path, "r+b") as handle:
                handle.truncate(len(raw) - len(torn))
        return records
