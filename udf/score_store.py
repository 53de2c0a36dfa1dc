"""Scores already computed, on disk beside the model: repeats are served at lookup speed.

`<artifact>/runtime/scores.sqlite` holds one row per (text sha256, model version, serving
variant): every score the runtime computes is written there, so an analyst's query over
sessions that `dbt build` has scored reads them back without running the encoder (the
in-process LRU cache stays in front of it). The variant is part of the key because a text's
score is bit-identical only within one variant.

Safety: SQLite in WAL mode. Readers never block the writer or each other, across threads and
processes; each write is one transaction, so a crash loses at most the batch in flight and
never leaves a half-written or corrupt file. A store that cannot be opened or written (a
read-only folder, a damaged file, a lock held too long) is logged once and skipped: scoring
goes on, only slower. DUCKBERT_SCORE_STORE=0 turns it off.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import threading
from pathlib import Path

FILE_NAME = "scores.sqlite"
_CHUNK = 900  # host parameters per lookup (SQLite's historical limit is 999)
log = logging.getLogger("duckbert.udf")

SCHEMA = """
create table if not exists scores (
    text_sha256 blob not null,
    model_version text not null,
    variant text not null,
    score real not null,
    primary key (text_sha256, model_version, variant)
) without rowid
"""


def text_sha256(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def enabled() -> bool:
    return os.environ.get("DUCKBERT_SCORE_STORE", "1") != "0"


class ScoreStore:
    """Stored scores of one model version served by one variant."""

    def __init__(self, model_dir: str | Path, version: str, variant: str):
        self.path = Path(model_dir) / "runtime" / FILE_NAME
        self.version, self.variant = version, variant
        self._lock = threading.Lock()
        self._con: sqlite3.Connection | None = None
        self._broken = False
        self._read_only = False
        self.hits = 0
        self.writes = 0

    def _connection(self) -> sqlite3.Connection | None:
        if self._con is None and not self._broken:
            try:
                self.path.parent.mkdir(exist_ok=True)
                con = sqlite3.connect(str(self.path), timeout=2.0, check_same_thread=False,
                                      isolation_level=None)
                con.execute("pragma journal_mode=wal")
                con.execute("pragma synchronous=normal")  # durable enough in WAL, never corrupt
                con.execute("pragma trusted_schema=off")
                con.execute(SCHEMA)
                self._con = con
            except (OSError, sqlite3.Error) as exc:
                self._disable(f"cannot open {self.path}: {exc}")
        return self._con

    def _disable(self, why: str) -> None:
        self._broken = True
        log.warning("duckbert: score store off (%s); scores are computed, not looked up", why)

    def get_many(self, digests: list[bytes]) -> list[float | None]:
        """Stored scores aligned with `digests` (None where absent)."""
        if not digests:
            return []
        found: dict[bytes, float] = {}
        with self._lock:
            con = self._connection()
            if con is None:
                return [None] * len(digests)
            try:
                for start in range(0, len(digests), _CHUNK):
                    chunk = digests[start : start + _CHUNK]
                    marks = ",".join("?" * len(chunk))
                    rows = con.execute(
                        f"select text_sha256, score from scores where model_version = ? "
                        f"and variant = ? and text_sha256 in ({marks})",
                        [self.version, self.variant, *chunk]).fetchall()
                    found.update((bytes(k), float(v)) for k, v in rows)
            except sqlite3.Error as exc:
                self._con = None
                self._disable(f"cannot read {self.path}: {exc}")
                return [None] * len(digests)
        self.hits += len(found)
        return [found.get(d) for d in digests]

    def put_many(self, items: dict[bytes, float]) -> None:
        """Record scores (one transaction); a failure is logged once and skipped."""
        if not items or self._read_only:
            return
        with self._lock:
            con = self._connection()
            if con is None:
                return
            try:
                con.execute("begin immediate")
                con.executemany(
                    "insert or ignore into scores values (?, ?, ?, ?)",
                    [(k, self.version, self.variant, float(v)) for k, v in items.items()])
                con.execute("commit")
                self.writes += len(items)
            except sqlite3.Error as exc:
                if con.in_transaction:
                    con.execute("rollback")
                self._read_only = True
                log.warning("duckbert: score store read-only from now on (%s: %s)",
                            self.path, exc)

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None
