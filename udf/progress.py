"""Progress of long scoring runs: rows scored, rate and an estimate, at intervals.

The scorer reports every row it returns (`advance`), including cache and store hits, and
every row it encodes. A line goes out at most every `DUCKBERT_PROGRESS_SECONDS` (default 5 s),
and only once a run has lasted that long, so quick ad-hoc queries print nothing. The dbt
model session_scores announces how many rows it is about to score (SQL
`duckbert_progress_expect(n)`), which turns the rate into an estimate of the time left.

Where lines go: the `duckbert.udf` logger, whose default handler writes them to stderr;
udf.dbt_plugin routes them to dbt's adapter logger instead, so they reach the dbt log file
and the terminal like dbt's own lines.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable

log = logging.getLogger("duckbert.udf")
IDLE_RESET_S = 60.0  # a pause this long starts a new run


def _default_sink(line: str) -> None:
    if log.handlers or logging.getLogger().handlers:
        log.info(line)
    else:
        print(line, file=sys.stderr, flush=True)


class Progress:
    """Process-wide counters of one scoring run and its periodic report."""

    def __init__(self, every_s: float | None = None):
        self.every_s = float(every_s if every_s is not None else
                             os.environ.get("DUCKBERT_PROGRESS_SECONDS", "5"))
        self.sink: Callable[[str], None] = _default_sink
        self._lock = threading.Lock()
        self._reset(None)

    def _reset(self, expected: int | None, now: float | None = None) -> None:
        now = now or time.monotonic()
        self.expected = expected
        self.rows = 0
        self.encoded = 0
        self.pending = 0  # encoded since the last finished call: rows on their way
        self.started = now
        self.last_report = now
        self.last_activity = now
        self.reported = False

    def expect(self, n: int | None) -> int:
        """A run of `n` rows starts now (returns n, so SQL can carry it along)."""
        with self._lock:
            self._reset(int(n) if n is not None else None)
        return int(n or 0)

    def advance(self, rows: int = 0, encoded: int = 0) -> None:
        line = None
        with self._lock:
            now = time.monotonic()
            if now - self.last_activity > IDLE_RESET_S or (
                    self.expected is None and not self.rows and not self.encoded):
                self._reset(self.expected, now)  # the clock starts with the first rows
            self.last_activity = now
            self.rows += rows
            self.encoded += encoded
            self.pending = 0 if rows else self.pending + encoded
            if self.every_s >= 0 and now - self.last_report >= self.every_s:
                self.last_report = now
                self.reported = True
                line = self.line(now)
        if line is not None:
            self.sink(line)

    def line(self, now: float | None = None) -> str:
        elapsed = max((now or time.monotonic()) - self.started, 1e-9)
        rows = self.rows + self.pending
        if self.expected:
            if self.rows >= self.expected:  # scoring is done: explanations follow
                return (f"duckbert: scored {self.rows:,} rows; explaining flagged ones, "
                        f"{self.encoded:,} texts encoded in {elapsed:.0f} s")
            rows = min(rows, self.expected)
        rate = rows / elapsed
        done = f"{rows:,}" + (f"/{self.expected:,}" if self.expected else "")
        text = (f"duckbert: scoring {done} rows ({self.encoded:,} encoded), "
                f"{rate:,.1f} rows/s, {elapsed:.0f} s")
        if self.expected and rate > 0:
            text += f", about {max(self.expected - rows, 0) / rate:.0f} s left"
        return text


PROGRESS = Progress()


def set_sink(sink: Callable[[str], None] | None) -> None:
    """Where progress lines go (None: the default, the duckbert.udf logger or stderr)."""
    PROGRESS.sink = sink or _default_sink
