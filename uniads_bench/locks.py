"""Locks: one writer per run directory, and serialised read-merge-write of a shared leaderboard.

The run lock is a file created with O_CREAT|O_EXCL holding the owner's pid and host; it is removed when
the run ends, however it ends short of `kill -9`. A lock left by a dead process on this host is stale and
taken over with a warning; a lock held by a live process, or by another host (whose processes we cannot
see), stops the second writer. The board lock is an flock on a file beside the board, released by the
kernel when its holder dies, so it needs no staleness rule.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from uniads_bench.errors import UserError

RUN_LOCK = "run.lock"
OWNERLESS_GRACE_S = 10.0


def _age_seconds(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    return True


def _read_owner(path: Path) -> dict:
    try:
        owner = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}  # created but not yet written, or its writer died in between
    return owner if isinstance(owner, dict) else {}


@contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """Hold `run_dir`'s writer lock for the block.

    Raises:
        UserError: another live process (named by pid and host) holds the lock.
    """
    path = run_dir / RUN_LOCK
    host = socket.gethostname()
    me = json.dumps({"pid": os.getpid(), "host": host})
    while True:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            break
        except FileExistsError:
            owner = _read_owner(path)
            pid, owner_host = owner.get("pid"), owner.get("host")
            if isinstance(pid, int) and (owner_host != host or _alive(pid)):
                # Another host's process cannot be checked from here: only the user knows it is gone.
                gone = f"; if {owner_host} crashed, delete {path}" if owner_host != host else ""
                raise UserError(f"{run_dir} is in use by process {pid} on {owner_host} (lock {path}); wait for "
                                f"it to finish or stop it first{gone}") from None
            if not owner and _age_seconds(path) < OWNERLESS_GRACE_S:  # its creator may be writing it right now
                raise UserError(f"{run_dir} is being locked by another process (lock {path}); try again") from None
            warnings.warn(f"{path}: taking over a stale lock of process {pid} on {owner_host}", stacklevel=3)
            path.unlink(missing_ok=True)
    try:
        os.write(fd, me.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


@contextmanager
def board_lock(board: Path) -> Iterator[None]:
    """Exclusive flock for a read-merge-write of `board`, so concurrent publishers never lose a row."""
    board.parent.mkdir(parents=True, exist_ok=True)
    with open(board.parent / f".{board.name}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
