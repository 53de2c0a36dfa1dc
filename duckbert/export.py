"""`duckbert export`: the BI marts as Parquet, for tools that cannot open this DuckDB file.

A DuckDB 2.0 database file is not readable by older DuckDB versions (which many BI tools
bundle), and only one process may write the file at a time; Parquet files are read by
anything, and reading them never blocks a build.
"""

from __future__ import annotations

import os
from pathlib import Path

from udf.registry import table_exists
from udf.sqlident import quote_literal, quote_table

DEFAULT_TABLES = ("flagged_users", "flagged_sessions", "session_scores", "duckbert_models")


def export_tables(db_path: str, out_dir: str, tables=DEFAULT_TABLES) -> dict[str, int]:
    """Write each table to OUT/<table>.parquet (atomically); returns rows per table."""
    from udf.connect import connect_warehouse

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    con = connect_warehouse(db_path, read_only=True)
    counts = {}
    try:
        missing = [t for t in tables if not table_exists(con, t)]
        if missing:
            raise LookupError(f"table(s) {', '.join(missing)} not in {db_path}: run "
                              "`duckbert build` (and `duckbert train` for duckbert_models)")
        for table in tables:
            target = out / f"{table}.parquet"
            tmp = out / f".{table}.{os.getpid()}.parquet"
            con.execute(f"copy (select * from {quote_table(table)}) to {quote_literal(str(tmp))} "
                        "(format parquet, compression zstd)")
            os.replace(tmp, target)
            counts[table] = con.execute(
                f"select count(*) from {quote_table(table)}").fetchall()[0][0]
    finally:
        con.close()
    return counts
