"""What a BI tool sees: the marts read the way Superset or Metabase connect, with no duckbert.

A separate Python process opens the scored warehouse through SQLAlchemy and duckdb-engine on
a read-only connection (and once with plain duckdb), reads flagged_users, flagged_sessions and
duckbert_models, and never imports duckbert: no Python UDF exists there. Every column of
those tables is documented in the dbt yml, and `duckbert export` writes them as Parquet.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner

from duckbert.cli import main
from duckbert.dbt_runner import project_dir
from duckbert.export import DEFAULT_TABLES
from tests.helpers.bi_warehouse import base_warehouse, copy_warehouse

pytestmark = pytest.mark.slow

MARTS = ("flagged_users", "flagged_sessions", "duckbert_models")

# Runs in a fresh interpreter: what a BI tool's driver does, and nothing of duckbert.
READER = r"""
import json, sys
import duckdb
import sqlalchemy as sa

path, marts = sys.argv[1], sys.argv[2].split(",")
out = {"marts": {}}
engine = sa.create_engine(f"duckdb:///{path}", connect_args={"read_only": True})
with engine.connect() as conn:
    inspector = sa.inspect(conn)
    out["tables"] = sorted(inspector.get_table_names())
    for table in marts:
        result = conn.execute(sa.text(f"select * from {table}"))
        rows = [dict(row._mapping) for row in result]
        out["marts"][table] = {
            "columns": list(result.keys()),
            "information_schema": [r[0] for r in conn.execute(sa.text(
                "select column_name from information_schema.columns "
                "where table_name = :t order by ordinal_position"), {"t": table})],
            "rows": len(rows),
            "first": {k: str(v) for k, v in rows[0].items()} if rows else {},
        }
    out["top_user"] = list(conn.execute(sa.text(
        "select user_id, sessions_flagged, max_score from flagged_users "
        "order by max_score desc, user_id limit 1")).one())
# each of these on its own connection, as a BI tool runs them
attempts = {
    "reflected": lambda conn: [c["name"] for c in sa.inspect(conn).get_columns(marts[0])],
    "udf": lambda conn: conn.execute(sa.text("select anomaly_score('1s view same')")).all(),
    "write": lambda conn: conn.execute(sa.text("create table bi_scratch (x integer)")),
}
for name, attempt in attempts.items():
    with engine.connect() as conn:
        try:
            out[name] = attempt(conn)
        except Exception as exc:
            out[name] = f"{type(exc).__name__}: {exc}"
engine.dispose()
con = duckdb.connect(path, read_only=True)
out["plain"] = {t: con.execute(f"select count(*) from {t}").fetchone()[0] for t in marts}
out["current"] = con.execute(
    "select version, threshold from duckbert_models where is_current").fetchall()
con.close()
out["imported"] = sorted(m for m in ("udf", "training", "torch", "transformers", "dbt")
                         if m in sys.modules)
print(json.dumps(out, default=str))
"""


@pytest.fixture(scope="module")
def wh(tmp_path_factory, worker_id, tiny_bert):
    return base_warehouse(tmp_path_factory, worker_id, tiny_bert)


@pytest.fixture(scope="module")
def bi_view(wh, tmp_path_factory):
    """What the separate BI process read."""
    cwd = tmp_path_factory.mktemp("bi-tool")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DUCKBERT", "PYTHON"))}
    proc = subprocess.run([sys.executable, "-c", READER, str(wh.db), ",".join(MARTS)],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _columns(wh, table: str) -> list[str]:
    return [r[0] for r in wh.q(f"describe {table}")]


def test_a_read_only_sqlalchemy_connection_reads_the_marts_without_duckbert(wh, bi_view):
    assert set(MARTS) <= set(bi_view["tables"])
    for table in MARTS:
        seen = bi_view["marts"][table]
        assert seen["columns"] == seen["information_schema"] == _columns(wh, table)
        assert seen["rows"] == wh.q(f"select count(*) from {table}")[0][0] > 0
        assert bi_view["plain"][table] == seen["rows"]
    assert bi_view["imported"] == [], "the BI process must not need duckbert, torch or dbt"
    # no Python UDF there: the marts are plain tables, and the function does not exist
    assert "Catalog Error" in bi_view["udf"] and "anomaly_score" in bi_view["udf"]
    assert "read-only" in bi_view["write"].lower()


def test_column_reflection_works_or_fails_only_on_the_known_pg_collation_gap(wh, bi_view):
    """SQLAlchemy >= 2.0.45 reflects columns through pg_catalog.pg_collation, which this
    DuckDB does not emulate (duckdb/duckdb#22069, Mause/duckdb_engine#1379); docs/BI.md
    says what to do. When a release fixes it, the reflected columns must be right."""
    reflected = bi_view["reflected"]
    if isinstance(reflected, list):
        assert reflected == _columns(wh, MARTS[0])
    else:
        assert "pg_collation" in reflected


def test_what_the_bi_tool_reads_is_the_current_models_flags(wh, bi_view):
    version, threshold = wh.q("select version, threshold from duckbert_models "
                              "where is_current")[0]
    assert bi_view["current"] == [[version, threshold]]
    users = bi_view["marts"]["flagged_users"]["first"]
    sessions = bi_view["marts"]["flagged_sessions"]["first"]
    assert users["model_version"] == sessions["model_version"] == version
    assert float(sessions["anomaly_score"]) >= float(sessions["threshold"]) == threshold
    assert sessions["top_reasons"] and json.loads(sessions["explanation"])["top_events"]
    top = wh.q("select user_id, sessions_flagged, max_score from flagged_users "
               "order by max_score desc, user_id limit 1")[0]
    assert tuple(bi_view["top_user"]) == top
    # the marts agree with each other
    assert wh.q("select count(*) from flagged_sessions")[0][0] == \
        wh.q("select sum(sessions_flagged) from flagged_users")[0][0]
    assert wh.q("select count(*) from flagged_sessions")[0][0] == \
        wh.q("select count(*) from session_scores where is_flagged")[0][0]


def _documented(yml: Path, name: str, source: bool = False) -> dict[str, str]:
    doc = yaml.safe_load(yml.read_text())
    if source:
        entries = [t for s in doc["sources"] for t in s["tables"] if t["name"] == name]
    else:
        entries = [m for m in doc["models"] if m["name"] == name]
    assert len(entries) == 1, f"{name} not described once in {yml}"
    assert (entries[0].get("description") or "").strip(), f"{name} has no description"
    return {c["name"]: (c.get("description") or "").strip() for c in entries[0]["columns"]}


@pytest.mark.parametrize("table, yml, source", [
    ("flagged_users", "models/marts/flagged_users.yml", False),
    ("flagged_sessions", "models/marts/flagged_sessions.yml", False),
    ("duckbert_models", "models/staging/__sources.yml", True),
    ("duckbert_model_baselines", "models/staging/__sources.yml", True),
])
def test_every_column_a_bi_tool_sees_is_documented(wh, table, yml, source):
    documented = _documented(project_dir() / yml, table, source)
    actual = _columns(wh, table)
    assert sorted(documented) == sorted(actual), (
        f"undocumented: {sorted(set(actual) - set(documented))}, "
        f"documented but missing: {sorted(set(documented) - set(actual))}")
    assert all(documented.values()), [c for c, d in documented.items() if not d]


def test_a_reader_blocks_writers_and_the_message_says_why(wh, tmp_path):
    """The single-writer rule: while a BI tool holds the file, a build cannot open it."""
    from udf.connect import WarehouseLockedError, connect_warehouse

    copy = copy_warehouse(wh, tmp_path / "copy")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; "
         "con = duckdb.connect(sys.argv[1], read_only=True); "
         "print(con.execute('select count(*) from flagged_users').fetchone()[0], flush=True); "
         "time.sleep(60)", str(copy.db)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert int(holder.stdout.readline()) > 0
        with pytest.raises(WarehouseLockedError, match="one process at a time"):
            connect_warehouse(copy.db)
        # more readers are fine
        reader = connect_warehouse(copy.db, read_only=True)
        assert reader.execute("select count(*) from flagged_users").fetchone()[0] > 0
        reader.close()
    finally:
        holder.kill()
        holder.wait()
    connect_warehouse(copy.db).close()  # once the reader is gone, a writer may open it


def test_export_writes_parquet_that_matches_the_warehouse(wh, tmp_path):
    out = tmp_path / "bi-export"
    result = CliRunner().invoke(main, ["export", "--db", str(wh.db), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{t}.parquet"
                                                           for t in DEFAULT_TABLES)
    for table in DEFAULT_TABLES:
        exported = pq.read_table(out / f"{table}.parquet")
        rows = wh.q(f"select count(*) from {table}")[0][0]
        assert exported.num_rows == rows > 0
        assert exported.column_names == _columns(wh, table)
        assert f"{table}: {rows:,} rows" in result.output
    # the same flags, read back from Parquet by any reader
    exported = pq.read_table(out / "flagged_users.parquet").to_pydict()
    assert sorted(exported["user_id"]) == sorted(
        r[0] for r in wh.q("select user_id from flagged_users"))
