"""Teacher outputs computed once per augmented epoch view and served to every candidate of a track.

All candidates of a track see the same views per (data seed, epoch) (see `data.loader`), so the frozen
teacher's logits and pooled features for a whole epoch are a pure function of that key. The cache holds
them in device memory up to a byte bound, evicting the least recently used epoch. Candidates walk the
epochs in the same order, so once a track's views outgrow the device bound plain LRU would recompute
every epoch of every candidate; evicted entries therefore spill to `.npy` files on disk (a second LRU,
bounded in bytes) and are read back, memory-mapped, onto their original device instead of recomputed.

Disk holds copies: an entry read back stays on disk while it is promoted to memory, since the value of a
key never changes and a later eviction then costs no write. Tensors are stored as their raw bits (an
integer dtype of the same width) and reinterpreted on read, so what comes back is bitwise what was
computed, for every dtype including bfloat16, which numpy lacks.

Each cache spills into its own fresh directory (`pid-<pid>-*`) under the spill root, so worker processes
sharing a cache dir never touch each other's files. The index of spilled files lives in this process's
memory and a file enters it only after its write completed and it was renamed into place, so a crash
mid-write leaves at most a temp file that nothing reads. The directory is removed by `close()` or, at the
latest, when the cache is collected or the interpreter exits (`weakref.finalize`). A cache is not meant to
cross a fork: the engine's workers build their own.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import warnings
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

DEFAULT_SPILL_BYTES = 8 * 1024**3
_RAW_BITS = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}

Entry = tuple[Tensor, Tensor]


def _nbytes(value: Sequence[Tensor]) -> int:
    return sum(t.numel() * t.element_size() for t in value)


def _raw_bits(tensor: Tensor) -> np.ndarray:
    """The tensor's bits as a host numpy array of an integer dtype of the same width."""
    raw = _RAW_BITS.get(tensor.element_size())
    if raw is None:
        raise TypeError(f"the teacher cache cannot spill {tensor.dtype} ({tensor.element_size()}-byte elements)")
    return tensor.detach().view(raw).cpu().numpy()


def _write_atomic(path: Path, array: np.ndarray) -> None:
    """Write `array` as `path` via a temp name, so `path` either does not exist or is complete.

    No fsync: the files die with the process, so only visibility matters, not durability.
    """
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as handle:
            np.save(handle, array, allow_pickle=False)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _file_name(stem: str, index: int) -> str:
    return f"{stem}-{index}.npy"


def _remove_dir(path: Path, owner_pid: int) -> None:
    if os.getpid() == owner_pid:  # a forked child's exit must not delete its parent's files
        shutil.rmtree(path, ignore_errors=True)


@dataclass(frozen=True)
class _Spilled:
    """Where a spilled entry's tensors are and what they were: one file per tensor."""

    stem: str
    dtypes: tuple[torch.dtype, ...]
    devices: tuple[torch.device, ...]
    nbytes: int


class _SpillStore:
    """An LRU of entries as `.npy` files in a directory of this process, bounded in bytes."""

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[Hashable, _Spilled] = OrderedDict()
        self._dir: Path | None = None
        self._cleanup: weakref.finalize | None = None

    def __contains__(self, key: Hashable) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, key: Hashable, value: Entry) -> None:
        """Spill `value` unless it is there already or larger than the bound, evicting the oldest to fit."""
        if key in self._entries:
            self._entries.move_to_end(key)
            return
        size = _nbytes(value)
        if size > self.max_bytes:
            return
        while self.bytes + size > self.max_bytes:
            self._evict_oldest()
        stem = hashlib.sha256(repr(key).encode()).hexdigest()[:32]
        try:
            for path, tensor in zip(self._paths(stem, len(value)), value, strict=True):
                _write_atomic(path, _raw_bits(tensor))
        except OSError as exc:  # a full disk or unwritable root costs a recomputation later, never the candidate
            self._delete(stem, len(value))
            # stacklevel 5 is get()'s caller, so the default filter warns once per call site, not every epoch
            warnings.warn(f"teacher cache: could not spill under {self.root} ({exc}); the entry will be recomputed",
                          RuntimeWarning, stacklevel=5)
            return
        self._entries[key] = _Spilled(stem, tuple(t.dtype for t in value), tuple(t.device for t in value), size)
        self.bytes += size

    def load(self, key: Hashable) -> Entry:
        """The spilled entry, bitwise as written, on the devices it came from."""
        self._entries.move_to_end(key)
        spilled = self._entries[key]
        paths = self._paths(spilled.stem, len(spilled.dtypes))
        logits, features = (
            torch.from_numpy(np.load(path, mmap_mode="c", allow_pickle=False)).view(dtype).to(device, copy=True)
            for path, dtype, device in zip(paths, spilled.dtypes, spilled.devices, strict=True)
        )
        return logits, features

    def close(self) -> None:
        """Delete this store's directory and forget its entries."""
        if self._cleanup is not None:
            self._cleanup()
        self._cleanup = None
        self._dir = None
        self._entries.clear()
        self.bytes = 0

    def _evict_oldest(self) -> None:
        _, spilled = self._entries.popitem(last=False)
        self._delete(spilled.stem, len(spilled.dtypes))
        self.bytes -= spilled.nbytes

    def _delete(self, stem: str, count: int) -> None:
        if self._dir is not None:
            for i in range(count):
                (self._dir / _file_name(stem, i)).unlink(missing_ok=True)

    def _paths(self, stem: str, count: int) -> list[Path]:
        directory = self._directory()
        return [directory / _file_name(stem, i) for i in range(count)]

    def _directory(self) -> Path:
        """This store's private directory, made on first use; a fresh name even if a dead process had our pid."""
        if self._dir is None:
            self.root.mkdir(parents=True, exist_ok=True)
            self._dir = Path(tempfile.mkdtemp(prefix=f"pid-{os.getpid()}-", dir=self.root))
            self._cleanup = weakref.finalize(self, _remove_dir, self._dir, os.getpid())
        return self._dir


class TeacherCache:
    """An LRU map from an epoch-view key to (logits, features) for every sample of that epoch.

    Args:
        max_bytes: bound on the device memory held.
        spill_dir: where entries evicted from memory (or too large for it) are spilled; None drops them.
        spill_max_bytes: bound on the bytes spilled to disk.
    """

    def __init__(self, max_bytes: int, spill_dir: Path | None = None,
                 spill_max_bytes: int = DEFAULT_SPILL_BYTES) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, Entry] = OrderedDict()
        self._bytes = 0
        self._disk = None if spill_dir is None else _SpillStore(Path(spill_dir), spill_max_bytes)
        self.hits = 0
        self.disk_hits = 0
        self.misses = 0

    def get(self, key: Hashable, compute: Callable[[], Entry]) -> Entry:
        """The cached outputs for `key`: from memory, else read back from disk, else computed and stored."""
        if key in self._entries:
            self.hits += 1
            self._entries.move_to_end(key)
            return self._entries[key]
        if self._disk is not None and key in self._disk:
            self.disk_hits += 1
            value = self._disk.load(key)
        else:
            self.misses += 1
            value = compute()
        self._store(key, value)
        return value

    def stats(self) -> dict[str, int]:
        """Counters and sizes for logging; disk entries may also be in memory (disk keeps copies)."""
        return {
            "hits": self.hits,
            "disk_hits": self.disk_hits,
            "misses": self.misses,
            "memory_bytes": self._bytes,
            "disk_bytes": 0 if self._disk is None else self._disk.bytes,
            "entries": len(self._entries),
            "disk_entries": 0 if self._disk is None else len(self._disk),
        }

    def close(self) -> None:
        """Release the device memory and delete this process's spill files; the cache stays usable."""
        self._entries.clear()
        self._bytes = 0
        if self._disk is not None:
            self._disk.close()

    def __len__(self) -> int:
        return len(self._entries)

    def _store(self, key: Hashable, value: Entry) -> None:
        """Keep `value` in memory if it fits, spilling what it pushes out (or itself, if it never fits)."""
        size = _nbytes(value)
        if size > self.max_bytes:
            self._spill(key, value)
            return
        while self._bytes + size > self.max_bytes:
            old_key, old = self._entries.popitem(last=False)
            self._bytes -= _nbytes(old)
            self._spill(old_key, old)
        self._entries[key] = value
        self._bytes += size

    def _spill(self, key: Hashable, value: Entry) -> None:
        if self._disk is not None:
            self._disk.put(key, value)
