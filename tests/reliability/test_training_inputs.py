"""Bad input to `duckbert train` (and the other commands that take names): each is one clear
line naming the problem, exit status non-zero, and the warehouse and models folder unchanged.
Identifiers from the command line are validated and quoted; names never reach SQL or paths."""

from __future__ import annotations

import duckdb
import pytest
from click.testing import CliRunner

from duckbert.cli import main
from tests.helpers.processes import snapshot
from tests.helpers.training_data import make_training_table

pytestmark = pytest.mark.xdist_group("training_inputs")

INJECTION = "x; drop table raw_events"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    """A labelled table plus variants that are wrong in one way each, and a victim table."""
    root = tmp_path_factory.mktemp("train-inputs")
    db = make_training_table(root / "w.duckdb", users=60, anomaly_rate=0.3)
    con = duckdb.connect(db)
    try:
        con.execute("create table raw_events as select 1 as canary")
        con.execute("create table only_normal as select * replace (false as is_anomaly) "
                    "from training_sessions")
        con.execute("create table only_anomalous as select * replace (true as is_anomaly) "
                    "from training_sessions")
        con.execute("create table unlabelled as select * replace "
                    "(cast(null as boolean) as is_anomaly) from training_sessions")
        con.execute("create table no_text as select * replace "
                    "(cast(null as varchar) as session_text) from training_sessions")
        con.execute("create table empty_table as select * from training_sessions limit 0")
        con.execute("""create table odd_labels as select *,
            case when is_anomaly then 'yes' else 'maybe' end as label_text,
            case when is_anomaly then 1.0 else 0.5 end as label_double,
            session_start as label_time,
            session_text as "we ird"
            from training_sessions""")
        before = snapshot(con)
    finally:
        con.close()
    return root, db, before


def train(warehouse, tiny_bert, *args):
    root, db, _ = warehouse
    return CliRunner().invoke(main, [
        "train", "--db", db, "--base-model", str(tiny_bert), "--mode", "head", "--no-peers",
        "--quiet", "--models-dir", str(root / "models"), *args])


def assert_nothing_written(warehouse):
    root, db, before = warehouse
    con = duckdb.connect(db, read_only=True)
    try:
        assert snapshot(con) == before, "a refused run changed the warehouse"
    finally:
        con.close()
    models = root / "models"
    assert not models.exists() or not [p for p in models.rglob("*")
                                        if p.is_dir() and ".embeddings" not in p.parts]


CASES = [
    (["--table", INJECTION], "invalid table name 'x; drop table raw_events'"),
    (["--table", 'training_sessions"; drop table raw_events; --'], "invalid table name"),
    (["--table", "training_sessions; drop table raw_events"], "invalid table name"),
    (["--table", "main.nope"], "does not exist"),
    (["--table", "nope"], "table 'nope' does not exist in the warehouse"),
    (["--text-col", "session_text; drop table raw_events"],
     "column 'session_text; drop table raw_events' (session text) not found"),
    (["--label-col", "is_anomaly) from raw_events; drop table raw_events; --"],
     "(label) not found in training_sessions; it has: session_id"),
    (["--table", "odd_labels", "--text-col", "we ird"], "invalid SQL identifier 'we ird'"),
    (["--text-col", "n_events"], "column 'n_events' of training_sessions is INTEGER; the "
                                 "session text must be VARCHAR"),
    (["--table", "odd_labels", "--label-col", "label_text"],
     "must be boolean, 0/1 or true/false; found 'maybe'"),
    (["--table", "odd_labels", "--label-col", "label_double"], "found '0.5'"),
    (["--table", "odd_labels", "--label-col", "label_time"], "must be boolean, 0/1"),
    (["--label-col", "n_events"], "must be boolean, 0/1 or true/false"),
    (["--table", "only_normal"], "only normal labels"),
    (["--table", "only_anomalous"], "only anomalous labels"),
    (["--table", "unlabelled"], "has no labelled rows"),
    (["--table", "no_text"], "has no rows with a session_text"),
    (["--table", "empty_table"], "has no rows with a session_text"),
    (["--name", "../../escaped"], "model name '../../escaped' must start with a letter"),
    (["--name", "/tmp/escaped"], "model name '/tmp/escaped'"),
    (["--name", "a@b"], "model name 'a@b'"),
    (["--name", INJECTION], "model name 'x; drop table raw_events'"),
    (["--name", ".hidden"], "model name '.hidden'"),
    (["--name", ""], "model name ''"),
]


@pytest.mark.parametrize("args, message", CASES, ids=[" ".join(c[0]) for c in CASES])
def test_bad_training_input_is_one_clear_error(warehouse, tiny_bert, args, message):
    result = train(warehouse, tiny_bert, *args)
    assert result.exit_code != 0, result.output
    assert message in result.output, result.output
    assert "Traceback" not in result.output and not isinstance(result.exception, TypeError)
    assert_nothing_written(warehouse)


def test_a_missing_warehouse_is_a_clear_error(tiny_bert, tmp_path):
    result = CliRunner().invoke(main, ["train", "--db", str(tmp_path / "none.duckdb"),
                                       "--base-model", str(tiny_bert), "--quiet"])
    assert result.exit_code == 1 and "does not exist" in result.output
    assert not (tmp_path / "none.duckdb").exists()


@pytest.mark.parametrize("args", [
    ["evaluate", "--model", "x'); drop table raw_events; --"],
    ["sql", "--model", "../../../etc", "select 1"],
    ["score", "--model", INJECTION, "view phone"],
])
def test_model_names_from_the_command_line_are_looked_up_not_run(warehouse, args):
    _, db, _ = warehouse
    result = CliRunner().invoke(main, [args[0], "--db", db, *args[1:]])
    assert result.exit_code == 1, result.output
    assert "unknown duckbert model" in result.output and "known models" in result.output
    assert_nothing_written(warehouse)


def test_export_and_label_treat_names_as_data(warehouse, tmp_path):
    _, db, _ = warehouse
    result = CliRunner().invoke(main, ["export", "--db", db, "--out", str(tmp_path / "out"),
                                       "--table", INJECTION])
    assert result.exit_code == 1 and "not in" in result.output, result.output
    assert not list((tmp_path / "out").glob("*.parquet"))
    con = duckdb.connect(db)
    try:
        con.execute("create table if not exists sessions as select 's1' as session_id")
    finally:
        con.close()
    try:
        result = CliRunner().invoke(main, ["label", "--db", db, "--anomaly",
                                           "x'); drop table raw_events; --"])
        assert result.exit_code == 1 and "unknown session id" in result.output, result.output
        con = duckdb.connect(db, read_only=True)
        try:
            assert con.execute("select * from raw_events").fetchall() == [(1,)]
        finally:
            con.close()
    finally:
        con = duckdb.connect(db)
        try:
            con.execute("drop table sessions")
            for table in ("raw_reviews", "raw_labels", "rejected_events", "rejected_reviews",
                          "rejected_labels"):  # created by `label`: not the fixture's
                con.execute(f"drop table if exists {table}")
        finally:
            con.close()
