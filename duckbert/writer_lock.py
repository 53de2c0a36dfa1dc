"""Who holds the warehouse file, asked without taking DuckDB's lock; and duckbert's writer turn.

DuckDB takes a POSIX record lock on the database file: exclusive for a writer, shared for a
read-only connection, for as long as the connection is open, and it never waits for one. So
a reader that merely opens the file can make a build that starts at that moment fail. Two
tools keep the review queue (duckbert/review/) out of the writers' way:

- `holder(path)` asks the kernel (F_GETLK) which process holds a conflicting lock. It takes
  no lock itself, so asking can never block anyone.
- `writer_turn(path)` is a flock on a side file `<db>.writers.lock`: duckbert's writers
  (`build`, `train`, `label`) hold it shared for their whole run; the review queue's short
  label writes take it exclusively and without waiting. Between duckbert processes the queue
  therefore never starts a write while a build or training run is on, and a build that starts
  during one of its ~50 ms writes waits for it instead of failing.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import struct
from pathlib import Path

_FLOCK = "hhqqi"  # struct flock on Linux: l_type, l_whence, l_start, l_len, l_pid


def holder(path: str | os.PathLike, writers_only: bool = False) -> int | None:
    """PID of a process holding a lock on `path` that would conflict, else None.

    `writers_only`: report only a write lock (read-only connections do not matter to a
    reader); otherwise any lock, which is what matters before writing.
    """
    wanted = fcntl.F_RDLCK if writers_only else fcntl.F_WRLCK
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        probe = struct.pack(_FLOCK, wanted, os.SEEK_SET, 0, 0, 0)
        l_type, _, _, _, pid = struct.unpack(_FLOCK, fcntl.fcntl(fd, fcntl.F_GETLK, probe))
    finally:
        # closing a descriptor drops this process's own POSIX locks on the file: callers
        # never ask while this process has the warehouse open (duckbert/review serializes)
        os.close(fd)
    return None if l_type == fcntl.F_UNLCK else pid


def turn_path(db_path: str | os.PathLike) -> Path:
    db = Path(db_path)
    return db.with_name(db.name + ".writers.lock")


@contextlib.contextmanager
def writer_turn(db_path: str | os.PathLike, exclusive: bool = False, wait: bool = True):
    """Hold duckbert's writer turn on `db_path` (shared by default); yields True if held.

    With wait=False the context yields False at once when the turn is taken, and the caller
    does not write. A warehouse in a folder that cannot hold the side file is not guarded
    (yields True), since the guard is a courtesy between duckbert processes.
    """
    if str(db_path) == ":memory:":
        yield True
        return
    try:
        fh = open(turn_path(db_path), "a")  # noqa: SIM115 (held across the yield)
    except OSError:
        yield True
        return
    try:
        flags = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        try:
            fcntl.flock(fh, flags | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
    finally:
        fh.close()
