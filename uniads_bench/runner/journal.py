"""The run journal: append-only JSON Lines, one record per evaluation, the source of truth for resume.

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
from typing import Any

from uniads_bench.errors import UserError
from uniads_bench.runner.atomic import DISK_FULL, disk_full
from uniads_bench.runner.signals import signals_blocked


class Journal:
    """Append-only JSONL records at `path`."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n"
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

    def read(self) -> list[dict[str, Any]]:
        """All complete records. An unterminated final line is a torn append: it is dropped with a warning
        and cut from the file, so the next append starts on a clean line."""
        if not self.path.exists():
            return []
        raw = self.path.read_bytes()
        complete, _, torn = raw.rpartition(b"\n")
        if torn:
            warnings.warn(f"{self.path}: dropping a torn last line ({len(torn)} bytes)", stacklevel=2)
            with open(self.path, "r+b") as handle:
                handle.truncate(len(raw) - len(torn))
        records = []
        for number, line in enumerate(complete.split(b"\n") if complete else [], start=1):
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise UserError(f"{self.path} line {number} is damaged ({exc}); the journal cannot be resumed") from exc
        return records
