"""Read a labelled table from the warehouse and check it before any training starts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from udf.sqlident import quote_identifier, quote_table


class TrainingDataError(ValueError):
    """The labelled table cannot be trained on; the message names the problem."""


_TRUE = ("true", "t", "1", "yes", "y", "1.0")
_FALSE = ("false", "f", "0", "no", "n", "0.0")


@dataclass
class Sessions:
    """Rows of a labelled table, aligned arrays; `labels` is -1 where unlabelled."""

    ids: np.ndarray
    texts: list[str]
    labels: np.ndarray
    groups: np.ndarray
    times: np.ndarray | None
    families: np.ndarray | None
    labelled_at: np.ndarray | None
    fingerprint: str
    skipped_null_text: int
    table: str

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def labelled(self) -> np.ndarray:
        return np.flatnonzero(self.labels >= 0)

    def subset(self, rows: np.ndarray) -> Sessions:
        def pick(values):
            return None if values is None else values[rows]

        return Sessions(
            ids=self.ids[rows], texts=[self.texts[i] for i in rows], labels=self.labels[rows],
            groups=self.groups[rows], times=pick(self.times), families=pick(self.families),
            labelled_at=pick(self.labelled_at), fingerprint=self.fingerprint,
            skipped_null_text=0, table=self.table,
        )


def open_warehouse(db_path: str, read_only: bool):
    """The warehouse a run reads from and records into; it must exist already."""
    from udf.connect import connect_warehouse

    return connect_warehouse(db_path, read_only=read_only, must_exist=True)


def locate_table(con, name: str) -> str:
    """Where the labelled table `name` lives: `name` itself when the warehouse resolves it
    (qualified names always are), else the one table of that name in any schema or attached
    database, e.g. a dbt project's `analytics.training_sessions`; several: a clear error."""
    quote_table(name)  # validated before it reaches SQL
    if "." in name:
        return name
    try:
        con.execute(f"select * from {quote_table(name)} limit 0")
        return name
    except Exception as exc:
        if "does not exist" not in str(exc) and "Catalog Error" not in str(exc):
            raise
    rows = con.execute(
        "select table_catalog, table_schema from information_schema.tables "
        "where table_name = ? order by all", [name]).fetchall()
    if len(rows) > 1:
        places = ", ".join(f"{catalog}.{schema}.{name}" for catalog, schema in rows)
        raise TrainingDataError(
            f"several tables are named {name!r} ({places}); pass --table with the one to "
            "use, e.g. --table schema.training_sessions"
        )
    if not rows:
        return name  # _columns says it does not exist
    catalog, schema = rows[0]
    return f"{catalog}.{schema}.{name}"


def _columns(con, table: str) -> dict[str, str]:
    try:
        rows = con.execute(f"describe {quote_table(table)}").fetchall()
    except Exception as exc:
        if "does not exist" in str(exc) or "Catalog Error" in str(exc):
            raise TrainingDataError(
                f"table {table!r} does not exist in the warehouse; run `duckbert build` (or "
                "`dbt build` in a project that installs the duckbert package) to create "
                "training_sessions, or pass --table"
            ) from exc
        raise
    return {row[0]: row[1] for row in rows}


def _require(columns: dict, name: str | None, table: str, what: str, optional: bool = False):
    if name is None:
        return None
    if name not in columns:
        if optional:
            return None
        raise TrainingDataError(
            f"column {name!r} ({what}) not found in {table}; it has: {', '.join(columns)}"
        )
    return name


def read_sessions(con, cfg) -> Sessions:
    """Load the configured table; labels must be boolean, 0/1 or true/false text."""
    table = cfg.table
    columns = _columns(con, table)
    text = _require(columns, cfg.text_col, table, "session text")
    if not columns[text].upper().startswith("VARCHAR"):
        raise TrainingDataError(
            f"column {text!r} of {table} is {columns[text]}; the session text must be VARCHAR"
        )
    label = _require(columns, cfg.label_col, table, "label")
    ident = _require(columns, cfg.id_col, table, "row id", optional=True)
    user = _require(columns, cfg.user_col, table, "user", optional=cfg.split != "user")
    when = _require(columns, cfg.time_col, table, "time", optional=cfg.split != "time")
    family = _require(columns, cfg.family_col, table, "anomaly family", optional=True)
    labelled_at = _require(columns, cfg.labelled_at_col, table, "label time", optional=True)
    q = quote_identifier

    def expr(col, cast="varchar"):
        return f"cast({q(col)} as {cast})" if col else "null"

    label_text = f"lower(trim(cast({q(label)} as varchar)))"
    true_list = ", ".join(f"'{v}'" for v in _TRUE)
    false_list = ", ".join(f"'{v}'" for v in _FALSE)
    # Rows come back in a fixed order (a table's physical order is not): the split's
    # folds and the head's batches, and so a seeded run, depend on it.
    id_expr = expr(ident) if ident else (
        f"cast(row_number() over (order by {q(text)}, {q(label)}) as varchar)")
    sql = f"""
        select {id_expr} as id,
               {q(text)} as text,
               case when {q(label)} is null then -1
                    when {label_text} in ({true_list}) then 1
                    when {label_text} in ({false_list}) then 0
                    else -2 end as label,
               cast({q(label)} as varchar) as raw_label,
               {expr(user) if user else id_expr} as grp,
               {expr(when, 'timestamp') if when else 'null'} as ts,
               {expr(family)} as family,
               {expr(labelled_at, 'timestamp') if labelled_at else 'null'} as labelled_at
        from {quote_table(table)}
        order by id, text
    """
    rows = con.execute(sql).fetchall()
    bad = sorted({r[3] for r in rows if r[2] == -2})
    if bad:
        raise TrainingDataError(
            f"labels in {table}.{label} must be boolean, 0/1 or true/false; found "
            f"{', '.join(repr(v) for v in bad[:5])}"
        )
    skipped = sum(1 for r in rows if r[1] is None)
    rows = [r for r in rows if r[1] is not None]
    if not rows:
        raise TrainingDataError(f"{table} has no rows with a {text}")
    fingerprint = con.execute(
        f"select md5(coalesce(string_agg(md5(coalesce({id_expr}, '') || ':' || "
        f"coalesce(cast({q(label)} as varchar), '') || ':' || coalesce({q(text)}, '')), "
        f"',' order by {id_expr}), '')) from {quote_table(table)}"
    ).fetchall()[0][0]
    return Sessions(
        ids=np.array([r[0] for r in rows], dtype=object),
        texts=[r[1] for r in rows],
        labels=np.array([r[2] for r in rows], dtype=np.int64),
        groups=np.array([r[4] for r in rows], dtype=object),
        times=np.array([r[5] for r in rows], dtype="datetime64[us]") if when else None,
        families=np.array([r[6] or "" for r in rows], dtype=object) if family else None,
        labelled_at=(np.array([r[7] for r in rows], dtype="datetime64[us]")
                     if labelled_at else None),
        fingerprint=fingerprint,
        skipped_null_text=skipped,
        table=table,
    )


def check_labels(labels: np.ndarray, table: str) -> None:
    """Supervised training needs both classes among the labelled rows."""
    known = labels[labels >= 0]
    if known.size == 0:
        raise TrainingDataError(
            f"{table} has no labelled rows; label some sessions (duckbert label) or use "
            "--mode unsupervised"
        )
    classes = set(np.unique(known).tolist())
    if classes != {0, 1}:
        only = "anomalous" if classes == {1} else "normal"
        raise TrainingDataError(
            f"{table} has only {only} labels ({known.size} rows); supervised training needs "
            "both classes — add labels of the other class or use --mode unsupervised"
        )
