"""Open the warehouse file with errors that explain DuckDB's single-writer rule."""

from __future__ import annotations

from pathlib import Path


class WarehouseBusyError(RuntimeError):
    """Another process holds the DuckDB file."""


def explain_lock_error(exc: Exception, db_path: str) -> Exception:
    """A clearer error for DuckDB's "could not set lock" (else `exc` unchanged)."""
    text = str(exc)
    if "lock" not in text.lower():
        return exc
    return WarehouseBusyError(
        f"{db_path} is in use by another process ({text.splitlines()[0]}). DuckDB allows one "
        "writer, or any number of read-only readers, at a time: stop the other process (a "
        "BI tool or `duckbert shell` holding the file), or read from an export "
        "(`duckbert export`) while builds run"
    )


def connect(db_path: str, read_only: bool = False, must_exist: bool = True):
    """duckdb.connect with a clear message for a missing file or a held lock."""
    import duckdb

    if must_exist and not Path(db_path).exists():
        raise FileNotFoundError(
            f"warehouse {db_path} does not exist; create it with `duckbert load --db "
            f"{db_path}` and `duckbert build --db {db_path}`"
        )
    try:
        return duckdb.connect(db_path, read_only=read_only)
    except Exception as exc:
        raise explain_lock_error(exc, db_path) from exc
