"""The review queue's read side: a private copy of the warehouse, never a lock on it.

Opening the warehouse, even read-only, takes DuckDB's file lock, and a build that starts
meanwhile fails. So the page reads a snapshot: the database file (and its .wal) copied byte
for byte into a private folder while no process holds it for writing (asked with F_GETLK,
which takes no lock), kept only if neither file changed and no writer appeared during the
copy. The copy has the warehouse's file name, so dbt's catalog-qualified views still resolve;
it is opened read-write (it is private) to materialize the queue's timelines once.

A snapshot is refreshed when a page asks, at most every REFRESH_S seconds, and only when the
warehouse changed since. While a build or training run holds the file the page keeps the
last snapshot and says how old it is. Cost: one file copy per change (docs/BI.md).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from duckbert.writer_lock import holder

REFRESH_S = 5.0
COPY_TRIES = 3


def _stat(path: Path) -> tuple | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


@dataclass
class Status:
    """What the page says about its data: as of when, and why not newer."""

    as_of: float | None = None  # time.time() of the copy
    busy: str | None = None  # why the last refresh could not copy


class Snapshot:
    """A refreshed private copy of one warehouse file, with a connection to it."""

    def __init__(self, db_path: str | os.PathLike, prepare=None, refresh_s: float = REFRESH_S,
                 guard: threading.Lock | None = None):
        self.db = Path(db_path).resolve()
        self.prepare = prepare  # called with the new connection before it is served
        self.refresh_s = refresh_s
        self.guard = guard or threading.Lock()  # shared with the label writer
        self.status = Status()
        self._lock = threading.RLock()
        self._con = None
        self._dir: Path | None = None
        self._source: tuple | None = None
        self._checked = 0.0

    @property
    def ready(self) -> bool:
        return self._con is not None

    def query(self, sql: str, params=None) -> list[tuple]:
        """Rows of `sql` on the current snapshot (refreshed first when due)."""
        self.refresh()
        with self._lock:
            if self._con is None:
                raise LookupError(self.status.busy or "no snapshot of the warehouse yet")
            return self._con.execute(sql, params or []).fetchall()

    def columns(self, sql: str, params=None) -> list[dict]:
        """Rows of `sql` as dicts by column name."""
        self.refresh()
        with self._lock:
            if self._con is None:
                raise LookupError(self.status.busy or "no snapshot of the warehouse yet")
            cursor = self._con.execute(sql, params or [])
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def refresh(self, force: bool = False) -> bool:
        """Copy the warehouse if it changed and is free; True when a new snapshot is served."""
        now = time.monotonic()
        with self._lock:
            if not force and self._con is not None and now - self._checked < self.refresh_s:
                return False
            self._checked = now
            source = (_stat(self.db), _stat(_wal(self.db)))
            if source[0] is None:
                self.status.busy = f"the warehouse {self.db} does not exist"
                return False
            if self._con is not None and source == self._source:
                self.status.busy = None
                return False
            copied = self._copy()
            if copied is None:
                return False
            folder, source = copied
            import duckdb

            con = duckdb.connect(str(folder / self.db.name))
            con.execute("set enable_progress_bar = false")
            try:
                if self.prepare is not None:
                    self.prepare(con)
            except Exception:
                con.close()
                shutil.rmtree(folder, ignore_errors=True)
                raise
            old, old_dir = self._con, self._dir
            self._con, self._dir, self._source = con, folder, source
            self.status = Status(as_of=time.time())
            if old is not None:
                old.close()
            if old_dir is not None:
                shutil.rmtree(old_dir, ignore_errors=True)
            return True

    def seen(self) -> None:
        """Our own write changed the file: take its new state as the snapshot's source.

        The page overlays its own labels, so one of its writes need not cost a new copy.
        """
        with self._lock:
            if self._con is not None:
                self._source = (_stat(self.db), _stat(_wal(self.db)))

    def _copy(self) -> tuple[Path, tuple] | None:
        for _ in range(COPY_TRIES):
            with self.guard:
                pid = holder(self.db, writers_only=True)
                if pid is not None:
                    self.status.busy = f"the warehouse is being written by process {pid}"
                    return None
                before = (_stat(self.db), _stat(_wal(self.db)))
                folder = Path(tempfile.mkdtemp(prefix="duckbert-review-"))
                try:
                    shutil.copyfile(self.db, folder / self.db.name)
                    if before[1] is not None:
                        shutil.copyfile(_wal(self.db), folder / _wal(self.db).name)
                except FileNotFoundError:
                    shutil.rmtree(folder, ignore_errors=True)
                    continue
                after = (_stat(self.db), _stat(_wal(self.db)))
                pid = holder(self.db, writers_only=True)
            if after == before and pid is None:
                return folder, after
            shutil.rmtree(folder, ignore_errors=True)  # a writer came in: the copy may be torn
        self.status.busy = "the warehouse kept changing while it was copied"
        return None

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None
            if self._dir is not None:
                shutil.rmtree(self._dir, ignore_errors=True)
                self._dir = None
