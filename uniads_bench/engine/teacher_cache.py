"""Teacher outputs computed once per augmented epoch view and served to every candidate of a track.

All candidates of a track see the same views per (data seed, epoch) (see `data.loader`), so the frozen
teacher's logits and pooled features for a whole epoch are a pure function of that key. The cache holds
them in device memory up to a byte bound, evicting the least recently used epoch.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable

from torch import Tensor


class TeacherCache:
    """An LRU map from an epoch-view key to (logits, features) for every sample of that epoch."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, tuple[Tensor, Tensor]] = OrderedDict()
        self._bytes = 0
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, compute: Callable[[], tuple[Tensor, Tensor]]) -> tuple[Tensor, Tensor]:
        """The cached outputs for `key`, computing and storing them on a miss."""
        if key in self._entries:
            self.hits += 1
            self._entries.move_to_end(key)
            return self._entries[key]
        self.misses += 1
        value = compute()
        size = sum(t.numel() * t.element_size() for t in value)
        if size <= self.max_bytes:
            while self._bytes + size > self.max_bytes:
                _, old = self._entries.popitem(last=False)
                self._bytes -= sum(t.numel() * t.element_size() for t in old)
            self._entries[key] = value
            self._bytes += size
        return value

    def __len__(self) -> int:
        return len(self._entries)
