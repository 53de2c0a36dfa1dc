"""Warehouse commands: load raw files into the warehouse, run the dbt build on it."""

import sys

import click

from duckbert.cli.common import clear_errors, db_option

FILES_HELP = "CSV or Parquet file, directory or glob (quote globs); repeat for several."


@click.command("load")
@db_option
@click.option("--events", multiple=True, metavar="PATH",
              help=f"Behaviour events (REES46 schema) into raw_events. {FILES_HELP}")
@click.option("--reviews", multiple=True, metavar="PATH",
              help=f"Product reviews into raw_reviews. {FILES_HELP}")
@click.option("--labels", multiple=True, metavar="PATH",
              help=f"Session labels (user_session or session_id, is_anomaly) into raw_labels. "
                   f"{FILES_HELP}")
def load_command(db_path, events, reviews, labels):
    """Load raw files into the warehouse's raw_* tables.

    Unusable rows go to rejected_events / rejected_reviews / rejected_labels with a reason;
    the counts are printed. Loading a file again replaces its earlier rows.
    """
    from duckbert.loader import load
    from udf.connect import connect_warehouse

    if not (events or reviews or labels):
        raise click.UsageError("give at least one of --events, --reviews, --labels")
    with clear_errors():
        con = connect_warehouse(db_path)
        try:
            report = load(con, events=list(events) or None, reviews=list(reviews) or None,
                          labels=list(labels) or None)
        finally:
            con.close()
    click.echo(f"loaded into {db_path}")
    for line in report.lines():
        click.echo(line)


@click.command("build")
@db_option
@click.option("--select", "-s", "select", multiple=True, metavar="SELECTOR",
              help="dbt node selection (e.g. sessions+, marts); repeat for several. "
                   "Default: the whole project.")
@click.option("--exclude", multiple=True, metavar="SELECTOR",
              help="dbt nodes to leave out; repeat for several.")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="dbt threads (default: the profile's, env DUCKBERT_DBT_THREADS or 2).")
@click.option("--vars", "dbt_vars", metavar="YAML",
              help="dbt variables, e.g. '{session_gap_minutes: 20}'.")
@click.option("--full-refresh", is_flag=True,
              help="Rebuild incremental models (session_scores) from scratch.")
def build_command(db_path, select, exclude, threads, dbt_vars, full_refresh):
    """Run `dbt build` of duckbert's dbt project on the warehouse.

    Staging, sessionization, marts and their tests; scoring marts use the warehouse's
    current model (or DUCKBERT_MODEL) and stay empty until there is one. The project folder
    can be overridden with DUCKBERT_PROJECT_DIR. Exits with dbt's status.
    """
    from duckbert.dbt_runner import dbt_build
    from duckbert.label_queue import pick_up
    from duckbert.writer_lock import writer_turn

    with writer_turn(db_path):  # the review queue waits for the build (docs/BI.md)
        _check_loaded(db_path)
        with clear_errors():
            pick_up(db_path, click.echo)  # labels queued by `duckbert review`
            result = dbt_build(db_path, select=select, exclude=exclude, threads=threads,
                               vars=dbt_vars, full_refresh=full_refresh)
    if not result.ok:  # dbt's status; 128 + N when a signal N killed it, as shells report
        sys.exit(result.returncode if result.returncode > 0 else 128 - result.returncode)


def _check_loaded(db_path):
    """Fail early, with the fix, when the warehouse is missing, locked or was never loaded."""
    from pathlib import Path

    from duckbert.loader import missing_raw_tables
    from udf.connect import connect_warehouse

    hint = f"load data first: duckbert load --db {db_path} --events PATH [--reviews PATH] ..."
    if not Path(db_path).exists():
        raise click.ClickException(f"no warehouse at {db_path}; {hint}")
    with clear_errors():
        # for writing, as dbt will: a BI tool's read-only connection also blocks the build,
        # and is better reported now, in one line, than after dbt's start-up and traceback
        con = connect_warehouse(db_path, must_exist=True)
    try:
        missing = missing_raw_tables(con)
    finally:
        con.close()
    if missing:
        raise click.ClickException(f"{db_path} has no {', '.join(missing)}; {hint}")


COMMANDS = [load_command, build_command]
