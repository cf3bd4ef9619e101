"""The teacher cache: memory first, bounded, spilling to disk; disk reads are bitwise exact, bounded and
cleaned up, and a half-written spill file is never read."""

from __future__ import annotations

import gc
from pathlib import Path

import numpy as np
import pytest
import torch

from uniads_bench.engine import teacher_cache
from uniads_bench.engine.teacher_cache import TeacherCache

ENTRY_BYTES = 2 * 4 * 8 * 4  # two (4, 8) float32 tensors
RAW = {torch.float32: torch.int32, torch.bfloat16: torch.int16}


def entry(seed: int, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """Random bit patterns of `dtype` (NaN payloads, -0.0 and subnormals included), so equality is bitwise."""
    g = torch.Generator().manual_seed(seed)
    info = torch.iinfo(RAW[dtype])
    return tuple(torch.randint(info.min, info.max, (4, 8), generator=g, dtype=RAW[dtype]).view(dtype) for _ in range(2))


def bitwise_equal(a: tuple[torch.Tensor, ...], b: tuple[torch.Tensor, ...]) -> bool:
    pairs = zip(a, b, strict=True)
    return all(x.dtype == y.dtype and torch.equal(x.view(RAW[x.dtype]), y.view(RAW[y.dtype])) for x, y in pairs)


def spill_files(root: Path) -> list[Path]:
    return sorted(root.glob("pid-*/*.npy"))


def never() -> tuple[torch.Tensor, torch.Tensor]:
    raise AssertionError("must be served from the cache")


def test_memory_only_cache_keeps_the_old_behaviour() -> None:
    cache = TeacherCache(ENTRY_BYTES)
    a, b = entry(0), entry(1)
    assert cache.get("a", lambda: a) is a and cache.get("a", never) is a
    cache.get("b", lambda: b)  # evicts "a", which is dropped
    assert cache.get("a", lambda: a) is a
    assert (cache.hits, cache.misses, len(cache)) == (1, 3, 1)
    assert cache.stats()["disk_entries"] == 0


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_evicted_entries_spill_and_come_back_bitwise(tmp_path: Path, dtype: torch.dtype) -> None:
    values = {key: entry(seed, dtype) for seed, key in enumerate("abc")}
    size = ENTRY_BYTES * values["a"][0].element_size() // 4
    cache = TeacherCache(2 * size, tmp_path, spill_max_bytes=10 * size)
    for key, value in values.items():
        cache.get(key, lambda value=value: value)
    assert len(spill_files(tmp_path)) == 2  # "a" was pushed out of memory onto disk, one file per tensor
    back = cache.get("a", never)
    assert bitwise_equal(back, values["a"]) and all(t.device == torch.device("cpu") for t in back)
    assert cache.get("a", never) is back  # promoted to memory
    assert cache.stats() == {"hits": 1, "disk_hits": 1, "misses": 3, "memory_bytes": 2 * size,
                             "disk_bytes": 2 * size, "entries": 2, "disk_entries": 2}
    cache.close()


def test_counters_and_sizes(tmp_path: Path) -> None:
    cache = TeacherCache(ENTRY_BYTES, tmp_path, spill_max_bytes=10 * ENTRY_BYTES)
    a, b = entry(0), entry(1)
    cache.get("a", lambda: a)  # miss
    cache.get("a", never)  # memory hit
    cache.get("b", lambda: b)  # miss; "a" spills
    cache.get("a", never)  # disk hit; "b" spills, "a" stays on disk as a copy
    cache.get("b", never)  # disk hit; "a" is on disk already: no write
    assert cache.stats() == {"hits": 1, "disk_hits": 2, "misses": 2, "memory_bytes": ENTRY_BYTES,
                             "disk_bytes": 2 * ENTRY_BYTES, "entries": 1, "disk_entries": 2}
    assert (cache.hits, cache.disk_hits, cache.misses, len(cache)) == (1, 2, 2, 1)


def test_an_entry_larger_than_memory_is_served_from_disk(tmp_path: Path) -> None:
    cache = TeacherCache(ENTRY_BYTES // 2, tmp_path, spill_max_bytes=10 * ENTRY_BYTES)
    a = entry(0)
    cache.get("a", lambda: a)
    assert bitwise_equal(cache.get("a", never), a) and bitwise_equal(cache.get("a", never), a)
    assert cache.stats()["disk_hits"] == 2 and len(cache) == 0


def test_disk_is_an_lru_bounded_in_bytes(tmp_path: Path) -> None:
    cache = TeacherCache(ENTRY_BYTES, tmp_path, spill_max_bytes=2 * ENTRY_BYTES)
    values = {key: entry(seed) for seed, key in enumerate("abcd")}
    for key in "abc":
        cache.get(key, lambda key=key: values[key])  # "a", "b" on disk
    cache.get("a", never)  # disk hit refreshes "a" on disk; "c" spills and evicts "b"
    assert cache.stats()["disk_bytes"] == 2 * ENTRY_BYTES and len(spill_files(tmp_path)) == 4
    cache.get("d", lambda: values["d"])  # "a" leaves memory; already on disk
    assert bitwise_equal(cache.get("c", never), values["c"])
    assert cache.get("b", lambda: values["b"]) is values["b"]  # evicted from disk: recomputed
    assert cache.misses == 5 and cache.stats()["disk_bytes"] <= 2 * ENTRY_BYTES
    assert len(spill_files(tmp_path)) == 2 * cache.stats()["disk_entries"]


def test_close_and_collection_remove_the_spill_files(tmp_path: Path) -> None:
    cache = TeacherCache(ENTRY_BYTES, tmp_path, spill_max_bytes=10 * ENTRY_BYTES)
    other = TeacherCache(ENTRY_BYTES, tmp_path, spill_max_bytes=10 * ENTRY_BYTES)
    for each in (cache, other):
        each.get("a", lambda: entry(0))
        each.get("b", lambda: entry(1))
    dirs = sorted(tmp_path.glob("pid-*"))
    assert len(dirs) == 2  # each cache spills into its own directory
    cache.close()
    assert len(list(tmp_path.glob("pid-*"))) == 1 and cache.stats()["disk_entries"] == 0 and len(cache) == 0
    del each, other
    gc.collect()
    assert not list(tmp_path.glob("pid-*"))


def test_a_torn_spill_file_is_never_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = TeacherCache(ENTRY_BYTES, tmp_path, spill_max_bytes=10 * ENTRY_BYTES)
    a, b = entry(0), entry(1)
    real_save = np.save

    def torn(handle, array, **kwargs) -> None:
        handle.write(b"\x93NUMPY half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(teacher_cache.np, "save", torn)
    cache.get("a", lambda: a)
    with pytest.warns(RuntimeWarning, match="recomputed"):
        cache.get("b", lambda: b)  # "a" fails to spill
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]  # neither the temp nor a final file is left
    monkeypatch.setattr(teacher_cache.np, "save", real_save)
    assert cache.get("a", lambda: a) is a and cache.misses == 3 and cache.disk_hits == 0


@pytest.mark.gpu
def test_disk_hits_come_back_on_the_original_device(tmp_path: Path) -> None:
    cuda = torch.device("cuda")
    a, b = (tuple(t.to(cuda) for t in entry(seed, torch.bfloat16)) for seed in (0, 1))
    cache = TeacherCache(ENTRY_BYTES // 2, tmp_path, spill_max_bytes=10 * ENTRY_BYTES)
    cache.get("a", lambda: a)
    cache.get("b", lambda: b)
    back = cache.get("a", never)
    assert cache.disk_hits == 1 and bitwise_equal(back, a) and all(t.device == a[0].device for t in back)
