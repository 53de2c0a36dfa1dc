"""Coalesce concurrent scoring calls into one larger batch.

DuckDB calls a vectorized UDF from several threads at once. Running each call's forward pass
in parallel would oversubscribe the cores (torch already uses them all) and make batches
small; instead the first caller becomes the leader, runs everything queued so far as one job,
and hands each waiting caller its slice. Callers that arrive meanwhile form the next job.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class _Request:
    __slots__ = ("items", "result", "error", "done")

    def __init__(self, items):
        self.items = items
        self.result = None
        self.error = None
        self.done = False


class Coalescer:
    """Runs `fn(list_of_items) -> list_of_results` for many threads, one job at a time."""

    def __init__(self, fn: Callable[[list], list]):
        self._fn = fn
        self._cond = threading.Condition()
        self._pending: list[_Request] = []
        self._busy = False
        self.jobs = 0

    def submit(self, items: list) -> list:
        if not items:
            return []
        request = _Request(items)
        with self._cond:
            self._pending.append(request)
            while self._busy and not request.done:
                self._cond.wait()
            if request.done:
                return self._finish(request)
            self._busy = True
            job, self._pending = self._pending, []
        try:
            flat = [item for req in job for item in req.items]
            results = self._fn(flat)
            start = 0
            for req in job:
                req.result = results[start : start + len(req.items)]
                start += len(req.items)
        except BaseException as exc:  # every waiter must learn about the failure
            for req in job:
                req.error = exc
        finally:
            with self._cond:
                for req in job:
                    req.done = True
                self._busy = False
                self.jobs += 1
                self._cond.notify_all()
        return self._finish(request)

    @staticmethod
    def _finish(request: _Request) -> list:
        if request.error is not None:
            raise request.error
        return request.result
