"""The feedback loop's write side: an analyst's verdict on a session becomes a raw label.

Labels land in `raw_labels` (the same table `duckbert load --labels` fills), marked
`source_file = 'duckbert label'`, so reloading label files never erases them; the next
`duckbert build` carries them into training_sessions and `duckbert train --resume` learns
from them.
"""

from __future__ import annotations

import json

from udf.registry import table_exists

SOURCE_FILE = "duckbert label"


def add_labels(con, session_ids: list[str], is_anomaly: bool, note: str | None = None,
               family: str | None = None, source: str = "analyst") -> int:
    """Insert one label row per session id; unknown ids are refused (none are written)."""
    from duckbert.loader import ensure_tables

    if not session_ids:
        raise ValueError("give at least one SESSION_ID")
    ensure_tables(con)
    if table_exists(con, "sessions"):
        known = {row[0] for row in con.execute(
            "select session_id from sessions where session_id in (select unnest(?))",
            [list(session_ids)]).fetchall()}
        unknown = [s for s in session_ids if s not in known]
        if unknown:
            raise LookupError(
                f"unknown session id(s) {', '.join(map(repr, unknown[:5]))}: not in the "
                "sessions table (run `duckbert build` after loading new events)")
    extra = {k: v for k, v in (("note", note), ("anomaly_family", family)) if v}
    start = con.execute("select coalesce(max(source_row), 0) from raw_labels where "
                        "source_file = ?", [SOURCE_FILE]).fetchall()[0][0]
    rows = [
        (sid, bool(is_anomaly), source, json.dumps(extra) if extra else None, SOURCE_FILE,
         start + i + 1)
        for i, sid in enumerate(session_ids)
    ]
    con.execute("begin transaction")
    try:
        con.executemany(
            "insert into raw_labels (session_id, user_session, is_anomaly, label_source, "
            "labelled_at, extra, source_file, source_row, loaded_at) values "
            "(?, null, ?, ?, timezone('UTC', now()), ?, ?, ?, timezone('UTC', now()))",
            rows)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return len(rows)
