"""A bounded, thread-safe LRU map from text digests to scores."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict


def text_key(text: str) -> bytes:
    """16-byte digest of a text: the cache key (the model version is the cache's own)."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class ScoreCache:
    """Least-recently-used cache with a fixed number of entries (0 disables it)."""

    def __init__(self, max_entries: int = 200_000):
        self.max_entries = int(max_entries)
        self._data: OrderedDict[bytes, float] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get_many(self, keys: list[bytes]) -> list[float | None]:
        out: list[float | None] = []
        with self._lock:
            for key in keys:
                value = self._data.get(key)
                if value is None:
                    self.misses += 1
                else:
                    self._data.move_to_end(key)
                    self.hits += 1
                out.append(value)
        return out

    def peek_many(self, keys: list[bytes]) -> list[float | None]:
        """Values for `keys` (None where absent) without counting hits or misses."""
        with self._lock:
            return [self._data.get(key) for key in keys]

    def put_many(self, items: dict[bytes, float]) -> None:
        if self.max_entries <= 0:
            return
        with self._lock:
            for key, value in items.items():
                self._data[key] = value
                self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)
