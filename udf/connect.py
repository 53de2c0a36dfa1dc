"""Open a DuckDB warehouse file with a clear message when another process holds it."""

from __future__ import annotations

import re
from pathlib import Path


class WarehouseLockedError(RuntimeError):
    """Another process has the warehouse file open for writing."""


SINGLE_WRITER = (
    "DuckDB lets one process at a time open a database file for writing (and readers cannot "
    "open it while a writer has it). Close the other program that holds it, e.g. a running "
    "`duckbert build`/`dbt build`, `duckbert shell`, a notebook or a BI tool, then retry; "
    "or work on a copy of the file."
)


def lock_message(path: str | Path, error: Exception | str) -> str:
    """A human message for DuckDB's "Could not set lock" error, with the holder's PID."""
    holder = re.search(r"PID (\d+)", str(error))
    who = f" by process {holder.group(1)}" if holder else " by another process"
    return f"the warehouse {path} is locked{who}. {SINGLE_WRITER}"


def is_lock_error(error: Exception | str) -> bool:
    return "could not set lock" in str(error).lower()


def connect_warehouse(path: str | Path, read_only: bool = False, must_exist: bool = False):
    """duckdb.connect(path), creating its folder; WarehouseLockedError when it is locked.

    A missing file is a clear FileNotFoundError when reading (or when `must_exist`), and is
    created otherwise.
    """
    import duckdb

    path = Path(path)
    if str(path) != ":memory:" and (read_only or must_exist) and not path.exists():
        raise FileNotFoundError(
            f"warehouse {path} does not exist; create it with `duckbert load --db {path}` and "
            f"`duckbert build --db {path}` (or `duckbert demo`)"
        )
    if not read_only and str(path) != ":memory:":
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        if is_lock_error(exc):
            raise WarehouseLockedError(lock_message(path, exc)) from exc
        raise
