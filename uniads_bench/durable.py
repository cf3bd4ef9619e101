"""Atomic file writes: a temp file in the same directory, fsync, then replace.

A crash or a full disk mid-write leaves the previous file intact; a full disk stops the run with a
`UserError` saying so, since only the user can free space. A writer killed mid-write (`kill -9`) leaves its
temp file behind; the next holder of the lock over those files removes it (`remove_stale_temps`).
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from uniads_bench.errors import UserError

DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
TEMP_SUFFIX = ".tmp"


def disk_full(path: Path, exc: OSError) -> UserError:
    """The error for a write to `path` that failed for lack of space or quota."""
    return UserError(f"no space left on the device writing {path} ({exc.strerror}); the previous file is "
                     "intact; free some space, then continue with --resume RUN_DIR")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace `path` with `data` in one step."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; results are meant to be shared like any file
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.errno in DISK_FULL:
            raise disk_full(path, exc) from exc
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def remove_stale_temps(directory: Path, name: str = "*") -> None:
    """Delete the temp files that atomic writes of `name` (every file when "*") in `directory` left behind
    when their process was killed. Call it only while holding the lock that excludes every other writer of
    those files, since a live writer's temp file looks the same."""
    for leftover in directory.glob(f".{name}.*{TEMP_SUFFIX}"):
        leftover.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
