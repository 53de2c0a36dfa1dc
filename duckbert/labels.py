"""The feedback loop's write side: an analyst's verdict on a session becomes a raw label.

Labels land in `raw_labels` (the same table `duckbert load --labels` fills), marked
`source_file = 'duckbert label'` (or 'duckbert review' for the review queue), so reloading
label files never erases them; the next `duckbert build` carries them into training_sessions
and `duckbert train --resume` learns from them. `duckbert label` and the review queue both
write through `add_label_rows`: one code path, one row shape.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import asdict, dataclass, field

from udf.registry import table_exists

SOURCE_FILE = "duckbert label"
MAX_NOTE = 2000  # characters


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None).isoformat(timespec="microseconds")


@dataclass
class Label:
    """One verdict: which session, anomalous or not, who said so, when, and why."""

    session_id: str
    is_anomaly: bool
    note: str | None = None
    family: str | None = None
    source: str = "analyst"
    labelled_at: str = field(default_factory=_now)  # UTC, ISO 8601 without offset
    label_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def as_dict(self) -> dict:
        return asdict(self)


def unknown_sessions(con, session_ids: list[str]) -> list[str]:
    """The ids that the sessions table does not know (none when there is no such table)."""
    if not table_exists(con, "sessions"):
        return []
    known = {row[0] for row in con.execute(
        "select session_id from sessions where session_id in (select unnest(?))",
        [list(session_ids)]).fetchall()}
    return [s for s in session_ids if s not in known]


def add_labels(con, session_ids: list[str], is_anomaly: bool, note: str | None = None,
               family: str | None = None, source: str = "analyst") -> int:
    """Insert one label row per session id; unknown ids are refused (none are written)."""
    if not session_ids:
        raise ValueError("give at least one SESSION_ID")
    return add_label_rows(con, [Label(s, bool(is_anomaly), note, family, source)
                                for s in session_ids])


def add_label_rows(con, labels: list[Label], source_file: str = SOURCE_FILE) -> int:
    """Write `labels` to raw_labels in one transaction; returns how many rows were new.

    Unknown session ids are refused (LookupError, nothing written). A label whose label_id
    is already in raw_labels is not written again, so a queue that is flushed twice (a crash
    between the commit and the queue's rewrite) never doubles a verdict.
    """
    from duckbert.loader import ensure_tables

    if not labels:
        return 0
    ensure_tables(con)
    unknown = unknown_sessions(con, [label.session_id for label in labels])
    if unknown:
        raise LookupError(
            f"unknown session id(s) {', '.join(map(repr, unknown[:5]))}: not in the "
            "sessions table (run `duckbert build` after loading new events)")
    con.execute("begin transaction")
    try:
        present = {row[0] for row in con.execute(
            "select json_extract_string(extra, '$.label_id') from raw_labels where "
            "source_file = ? and json_extract_string(extra, '$.label_id') in "
            "(select unnest(?))", [source_file, [label.label_id for label in labels]]
        ).fetchall()}
        new = [label for label in labels if label.label_id not in present]
        start = con.execute("select coalesce(max(source_row), 0) from raw_labels where "
                            "source_file = ?", [source_file]).fetchall()[0][0]
        rows = [(label.session_id, bool(label.is_anomaly), label.source, label.labelled_at,
                 json.dumps(_extra(label)), source_file, start + i + 1)
                for i, label in enumerate(new)]
        if rows:
            con.executemany(
                "insert into raw_labels (session_id, user_session, is_anomaly, label_source, "
                "labelled_at, extra, source_file, source_row, loaded_at) values "
                "(?, null, ?, ?, cast(? as timestamp), ?, ?, ?, timezone('UTC', now()))",
                rows)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return len(rows)


def _extra(label: Label) -> dict:
    extra = {"label_id": label.label_id}
    extra.update({k: v for k, v in (("note", label.note), ("anomaly_family", label.family))
                  if v})
    return extra
