"""The `duckbert_models` table: which models exist in a warehouse and which one is current.

Training appends one row per run; the UDF runtime reads it to pick the default model. BI tools
chart its `metrics` JSON. Only a run whose artifact is complete on disk is ever marked current,
and the switch happens in one transaction.

The rule for "current": a warehouse has at most one current model, the one its builds,
`anomaly_score(text)`, `anomaly_model()`, the drift test and the BI marts use. Recording a
kept run of any name makes it current and supersedes the previous current model, whatever
that one's name. Names group versions: in `anomaly_score(text, 'name')` a name means its
version that is current, else its newest version that is not rejected (udf.resolve).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

TABLE = "duckbert_models"

DDL = f"""
create table if not exists {TABLE} (
    name varchar not null,
    version varchar not null primary key,
    path varchar not null,
    created_at timestamptz not null,
    is_current boolean not null,
    status varchar not null,
    training_mode varchar,
    base_model varchar,
    text_format varchar,
    threshold double,
    threshold_policy varchar,
    training_table varchar,
    training_fingerprint varchar,
    n_train integer,
    metrics json,
    note varchar
)
"""


@dataclass(frozen=True)
class ModelRef:
    """A model the warehouse knows: its name, version and artifact directory."""

    name: str
    version: str
    path: str
    is_current: bool = False

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"


def table_exists(con, table: str = TABLE) -> bool:
    query = "select count(*) from information_schema.tables where table_name = ?"
    return con.execute(query, [table]).fetchall()[0][0] > 0


def known_models(con) -> list[ModelRef]:
    """Every model recorded in the warehouse, newest first (empty when none or no table)."""
    if not table_exists(con):
        return []
    rows = con.execute(
        f"select name, version, path, is_current from {TABLE} "
        "where status in ('current', 'superseded') order by created_at desc, version desc"
    ).fetchall()
    return [ModelRef(*row) for row in rows]


def current_model(con) -> ModelRef | None:
    for ref in known_models(con):
        if ref.is_current:
            return ref
    return None


def ensure_table(con) -> None:
    con.execute(DDL)


def record_run(con, row: dict, make_current: bool) -> None:
    """Append a training run; when `make_current`, it replaces the current model (of any
    name) atomically."""
    ensure_table(con)
    if make_current and not Path(row["path"], "duckbert.json").exists():
        raise FileNotFoundError(f"refusing to mark {row['path']} current: no duckbert.json")
    values = dict(row)
    values["is_current"] = bool(make_current)
    values["status"] = "current" if make_current else values.get("status", "rejected")
    values["metrics"] = json.dumps(values.get("metrics") or {}, default=str)
    columns = [
        "name", "version", "path", "created_at", "is_current", "status", "training_mode",
        "base_model", "text_format", "threshold", "threshold_policy", "training_table",
        "training_fingerprint", "n_train", "metrics", "note",
    ]
    params = [values.get(col) for col in columns]
    placeholders = ", ".join("?" for _ in columns)
    con.execute("begin transaction")
    try:
        if make_current:
            con.execute(
                f"update {TABLE} set is_current = false, status = 'superseded' "
                "where is_current"
            )
        con.execute(
            f"insert into {TABLE} ({', '.join(columns)}) values ({placeholders})", params
        )
        currents = con.execute(f"select count(*) from {TABLE} where is_current").fetchall()
        if currents[0][0] > 1:  # the rule above; never commit a second current model
            raise RuntimeError(f"{TABLE} would hold {currents[0][0]} current models")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def env_model() -> str | None:
    """The DUCKBERT_MODEL setting (a model directory), when set."""
    value = os.environ.get("DUCKBERT_MODEL", "").strip()
    return value or None
