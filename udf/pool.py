"""The loaded models of one process: at most DUCKBERT_MAX_MODELS, least recently used first out.

Every DuckDB connection and thread of a process shares one Scorer per artifact (udf.scorer
.get_scorer). A long-lived process whose SQL names model after model (`anomaly_score(text,
'name@version')`) would otherwise keep every one of them, with its score cache and its
embedding store, until it ends. The pool keeps the `limit` most recently used scorers
(default 4, env DUCKBERT_MAX_MODELS); loading one more drops the least recently used, and
with it that scorer's caches. A caller still holding a dropped scorer finishes with it.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable

MAX_MODELS_ENV = "DUCKBERT_MAX_MODELS"
DEFAULT_MAX_MODELS = 4


def max_models() -> int:
    """DUCKBERT_MAX_MODELS as a positive integer (default 4); a clear error otherwise."""
    raw = os.environ.get(MAX_MODELS_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_MODELS
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{MAX_MODELS_ENV} must be a whole number of at least 1, got {raw!r}")
    return value


class ScorerPool:
    """A bounded, thread-safe LRU of loaded scorers keyed by (path, stamp, device, precision)."""

    def __init__(self, limit: int | None = None):
        self._limit = limit
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self.evictions = 0

    @property
    def limit(self) -> int:
        return self._limit if self._limit is not None else max_models()

    def get(self, key, load: Callable):
        """The scorer for `key`, loading it with `load()` (under the lock) when absent."""
        with self._lock:
            scorer = self._items.get(key)
            if scorer is not None:
                self._items.move_to_end(key)
                return scorer
            limit = self.limit
            scorer = load()
            self._items[key] = scorer
            while len(self._items) > limit:
                _, evicted = self._items.popitem(last=False)
                self.evictions += 1
                _release(evicted)
            return scorer

    def keys(self) -> list:
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        with self._lock:
            for scorer in self._items.values():
                _release(scorer)
            self._items.clear()


def _release(scorer) -> None:
    """Drop what a scorer holds beyond its weights: its score cache, its embedding store."""
    cache = getattr(scorer, "cache", None)
    if cache is not None and hasattr(cache, "clear"):
        cache.clear()
    if hasattr(scorer, "_store"):
        scorer._store = None
