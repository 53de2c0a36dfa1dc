"""`duckbert load` / `duckbert build` and the dbt runner, without running dbt itself."""

from __future__ import annotations

import csv
import subprocess
import sys
import time

import duckdb
import pytest
from click.testing import CliRunner

from duckbert import dbt_runner
from duckbert.cli import main
from duckbert.cli.warehouse import COMMANDS
from udf.connect import WarehouseLockedError, connect_warehouse

HEADER = ["event_time", "event_type", "product_id", "category_id", "category_code", "brand",
          "price", "user_id", "user_session"]


@pytest.fixture
def events_csv(tmp_path):
    path = tmp_path / "events.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        writer.writerow(["2019-10-01 00:00:00 UTC", "view", "1", "2", "a.b", "x", "1", "u1", "s"])
        writer.writerow(["2019-10-01 00:00:01 UTC", "view", "1", "2", "a.b", "x", "1", "", "s"])
    return path


@pytest.fixture
def locked_db(tmp_path):
    """A warehouse file held open for writing by another process."""
    path = tmp_path / "held.duckdb"
    duckdb.connect(str(path)).close()
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); print('ready', "
         "flush=True); time.sleep(60)", str(path)],
        stdout=subprocess.PIPE, text=True,
    )
    assert holder.stdout.readline().strip() == "ready"
    yield path
    holder.kill()
    holder.wait()


def test_load_prints_counts_per_table_and_reason(tmp_path, events_csv):
    db = tmp_path / "w.duckdb"
    result = CliRunner().invoke(main, ["load", "--db", str(db), "--events", str(events_csv)])
    assert result.exit_code == 0, result.output
    assert "raw_events: 1 row loaded" in result.output
    assert "missing user_id: 1" in result.output
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("select count(*) from rejected_events").fetchall() == [(1,)]
    finally:
        con.close()


def test_load_missing_column_fails_with_the_column_and_file(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("event_time,event_type\n2019-10-01,view\n")
    result = CliRunner().invoke(main, ["load", "--db", str(tmp_path / "w.duckdb"),
                                       "--events", str(path)])
    assert result.exit_code == 1
    assert "user_id" in result.output and str(path) in result.output


def test_load_needs_some_input(tmp_path):
    result = CliRunner().invoke(main, ["load", "--db", str(tmp_path / "w.duckdb")])
    assert result.exit_code == 2 and "at least one of" in result.output


def test_a_locked_warehouse_explains_the_single_writer_rule(locked_db, events_csv):
    with pytest.raises(WarehouseLockedError, match="one process at a time"):
        connect_warehouse(locked_db)
    result = CliRunner().invoke(main, ["load", "--db", str(locked_db),
                                       "--events", str(events_csv)])
    assert result.exit_code == 1
    assert "locked by process" in result.output and "one process at a time" in result.output


def test_every_command_and_option_has_help():
    for command in COMMANDS:
        assert command.help, command.name
        for param in command.params:
            assert getattr(param, "help", None), f"{command.name} {param.name}"


def test_help_is_fast_because_nothing_heavy_is_imported():
    start = time.perf_counter()
    script = (
        "import sys\nfrom duckbert.cli import main\nsys.argv = ['duckbert', 'build', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('torch', 'transformers', 'dbt') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip().endswith("[]"), out.stdout
    assert "--threads" in out.stdout
    assert time.perf_counter() - start < 30


def test_dbt_command_uses_the_repo_project_and_profiles(tmp_path):
    argv = dbt_runner.dbt_command("build", select=["sessions+"], threads=3,
                                  vars="{session_gap_minutes: 20}", full_refresh=True,
                                  target_path=tmp_path / "t", colors=False)
    project = dbt_runner.project_dir()
    assert (project / "dbt_project.yml").exists()
    assert argv[0] == sys.executable and "build" in argv
    assert argv[argv.index("--project-dir") + 1] == str(project)
    assert argv[argv.index("--profiles-dir") + 1] == str(project.parent / "profiles")
    assert argv[argv.index("--select") + 1] == "sessions+"
    assert argv[argv.index("--threads") + 1] == "3"
    assert argv[argv.index("--vars") + 1] == "{session_gap_minutes: 20}"
    assert "--full-refresh" in argv and "--no-use-colors" in argv
    assert argv[argv.index("--target-path") + 1] == str(tmp_path / "t")


def test_project_dir_override_must_hold_a_dbt_project(tmp_path, monkeypatch):
    monkeypatch.setenv(dbt_runner.PROJECT_ENV, str(tmp_path))
    with pytest.raises(FileNotFoundError, match="DUCKBERT_PROJECT_DIR"):
        dbt_runner.project_dir()
    (tmp_path / "dbt_project.yml").write_text("name: x\n")
    assert dbt_runner.project_dir() == tmp_path


def test_build_exits_with_dbts_status(tmp_path, events_csv, monkeypatch):
    db = tmp_path / "w.duckdb"
    assert CliRunner().invoke(main, ["load", "--db", str(db), "--events", str(events_csv)]
                              ).exit_code == 0
    seen = {}

    def fake_build(db_path, **options):
        seen.update(options, db=db_path)
        return dbt_runner.DbtResult(returncode=2, tail=["boom"])

    monkeypatch.setattr(dbt_runner, "dbt_build", fake_build)
    result = CliRunner().invoke(main, ["build", "--db", str(db), "-s", "sessions",
                                       "--threads", "1"])
    assert result.exit_code == 2
    assert seen["select"] == ("sessions",) and seen["threads"] == 1 and seen["db"] == str(db)


def test_build_before_any_load_says_what_to_do(tmp_path):
    db = tmp_path / "w.duckdb"
    result = CliRunner().invoke(main, ["build", "--db", str(db)])
    assert result.exit_code == 1 and "no warehouse at" in result.output
    duckdb.connect(str(db)).close()
    result = CliRunner().invoke(main, ["build", "--db", str(db)])
    assert result.exit_code == 1
    assert "has no raw_events, raw_reviews, raw_labels" in result.output
    assert "duckbert load --db" in result.output


def test_build_on_a_locked_warehouse_explains_the_lock(locked_db):
    result = CliRunner().invoke(main, ["build", "--db", str(locked_db)])
    assert result.exit_code == 1 and "one process at a time" in result.output
