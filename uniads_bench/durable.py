"""Atomic file writes: a temp file in the same directory, fsync, then replace (a whole directory likewise:
`replaced_directory`).

A crash or a full disk mid-write leaves the previous file intact; a full disk stops the run with a
`UserError` saying so, since only the user can free space. A writer killed mid-write (`kill -9`) leaves its
temp file behind; the next holder of the lock over those files removes it (`remove_stale_temps`).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
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
    fsync_path(path.parent)


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


@contextmanager
def replaced_directory(path: Path) -> Iterator[Path]:
    """A new, empty directory beside `path` to fill; when the block ends without an error, every file in it is
    fsynced and it takes the place of `path` (absent or a directory) by rename, so no reader ever sees a
    half-written tree. On an error (a full disk included) it is removed and `path` is left as it was. A crash
    between the two renames of a replacement leaves the previous tree beside `path` as ``.NAME.*.old.tmp``.

    Raises:
        UserError: the parent of `path` cannot be written, or the disk filled up.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent))
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror} ({exc.filename}); choose a directory you can "
                        "write to") from exc
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; results are meant to be shared
    old = None
    try:
        yield tmp
        for file in sorted(p for p in tmp.rglob("*") if p.is_file()):
            fsync_path(file)
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old" + TEMP_SUFFIX, dir=path.parent))
            os.replace(path, old)  # a directory replaces an empty one
        os.replace(tmp, path)
        fsync_path(path.parent)
        if old is not None:
            shutil.rmtree(old)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and old.exists() and not path.exists():
            os.replace(old, path)  # the new tree did not take its place: the previous one goes back
        if isinstance(exc, OSError) and exc.errno in DISK_FULL:
            raise UserError(f"no space left on the device writing {path} ({exc.strerror}); nothing was "
                            "replaced; free some space and run the command again") from exc
        raise


def fsync_path(path: Path) -> None:
    """fsync a file or a directory (a rename is durable only once its directory is synced)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
