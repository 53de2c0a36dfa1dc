"""The dbt project's own SQL, compiled once by dbt and then run directly in DuckDB.

A `dbt build` costs seconds; a property test needs hundreds of warehouses. `compile_models`
runs the real `dbt compile` (the real macros: sessionization, session_text) against an empty
warehouse named `proptest`; `ModelSql.install` gives a connection a `proptest` catalog with the
raw tables, and `ModelSql.build` materializes every model behind `sessions` in dependency
order (tables, as dbt does; planning one view stack per example would be three times slower),
so each example only inserts raw rows, builds and reads `sessions`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from duckbert.dbt_runner import run_dbt
from duckbert.loader import ensure_tables

CATALOG = "proptest"
# The models behind `sessions`, in dependency order, with their folder in the project.
MODELS = (
    ("staging", "stg_events"),
    ("staging", "stg_reviews"),
    ("intermediate", "int_sessions_events"),
    ("intermediate", "int_sessions_reviews"),
    ("intermediate", "int_session_items"),
    ("intermediate", "int_session_stats"),
    ("intermediate", "int_session_texts"),
    ("marts", "sessions"),
)


@dataclass(frozen=True)
class ModelSql:
    """Compiled SELECT statements of the models behind `sessions`."""

    selects: tuple[tuple[str, str], ...]

    def __repr__(self) -> str:  # hypothesis prints fixtures of failing examples
        return f"ModelSql({', '.join(name for name, _ in self.selects)})"

    def install(self, con) -> None:
        """Give `con` an in-memory `proptest` catalog holding the (empty) raw tables."""
        con.execute(f"attach if not exists ':memory:' as {CATALOG}")
        con.execute(f"use {CATALOG}")
        ensure_tables(con)

    def build(self, con) -> None:
        """Materialize every model behind `sessions` from the raw tables, in order."""
        for name, sql in self.selects:
            con.execute(f"create or replace table {name} as {sql}")


def compile_models(root: Path) -> ModelSql:
    db = root / f"{CATALOG}.duckdb"
    con = duckdb.connect(str(db))
    try:
        ensure_tables(con)
    finally:
        con.close()
    result = run_dbt("compile", db, out=None, env={"DUCKBERT_MODEL": ""},
                     select=["+sessions"], target_path=root / "target",
                     log_path=root / "logs")
    assert result.ok, "\n".join(result.tail)
    compiled = root / "target" / "compiled" / "duckbert" / "models"
    selects = []
    for folder, name in MODELS:
        sql = (compiled / folder / f"{name}.sql").read_text()
        assert f'"{CATALOG}"."main".' in sql or name == "stg_events"
        selects.append((name, sql))
    return ModelSql(tuple(selects))
