"""Query commands: `duckbert sql` and `duckbert score` (the shell is in duckbert.cli.shell).

The DuckDB CLI cannot load Python UDFs, so these are the ways to call anomaly_score() and
friends from a terminal or a script. duckdb, torch and the udf runtime load inside the
commands, never at import, so `duckbert --help` stays fast.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from duckbert.cli.common import (
    DEFAULT_DB,
    clear_errors,
    db_option,
    model_option,
    open_warehouse,
    register_functions,
)
from duckbert.cli.output import format_option, render_table, run_statements, write_result


@click.command("sql")
@db_option
@model_option
@format_option
@click.option("--read-only", is_flag=True,
              help="Open the warehouse read-only (works while another reader has it open).")
@click.argument("query", metavar="QUERY")
def sql_command(db_path, model, fmt, read_only, query):
    """Run SQL on the warehouse with anomaly_score() and friends registered.

    QUERY may hold several statements separated by ';' (they run in order and the last
    one's result is printed); '-' reads it from stdin. A SQL error prints DuckDB's message
    and exits with status 1.

    \b
    Example:
      duckbert sql --db warehouse/duckbert.duckdb \\
        "select session_id, anomaly_score(session_text) as s from sessions order by s desc limit 5"
    """
    if query == "-":
        query = click.get_text_stream("stdin").read()
    con = open_warehouse(db_path, read_only=read_only)
    try:
        register_functions(con, model)
        with clear_errors():
            run_statements(con, query, fmt, last_only=True)
    finally:
        con.close()




def _score_connection(db_path: str | None):
    """A read-only warehouse connection for model resolution, or an in-memory one."""
    import duckdb

    from udf.connect import connect_warehouse

    default = os.environ.get("DUCKBERT_DB") or DEFAULT_DB
    path = db_path or default
    if not Path(path).exists():
        if db_path is not None:
            raise click.ClickException(f"warehouse {db_path} does not exist")
        return duckdb.connect(":memory:")
    with clear_errors():
        return connect_warehouse(path, read_only=True)


@click.command("score")
@click.option("--db", "db_path", default=None, type=click.Path(dir_okay=False),
              help="Warehouse whose current model scores (read-only) [default: env "
                   "DUCKBERT_DB, else warehouse/duckbert.duckdb when it exists].")
@model_option
@format_option
@click.argument("texts", nargs=-1, required=True, metavar="TEXT...")
def score_command(db_path, model, fmt, texts):
    """Score session texts from the command line: score and flag per text.

    Each TEXT is one session text; '-' reads one text per line from stdin (empty lines are
    skipped). The flag compares the score with the model's calibrated threshold.
    """
    from udf.resolve import resolve_binding
    from udf.scorer import get_scorer

    items: list[str] = []
    for text in texts:
        if text == "-":
            items.extend(line.rstrip("\n") for line in click.get_text_stream("stdin")
                         if line.strip())
        else:
            items.append(text)
    con = _score_connection(db_path)
    try:
        with clear_errors():
            binding = resolve_binding(con, model)
            scorer = get_scorer(binding.default_dir())
            scores = scorer.score(items)
    finally:
        con.close()
    flags = [s >= scorer.threshold for s in scores]
    if fmt == "table":
        rows = [(round(s, 4), "FLAG" if f else "", t) for s, f, t in
                zip(scores, flags, items, strict=True)]
        click.echo(render_table(["score", "flag", "session_text"], rows))
        click.echo(f"model {scorer.meta['name']}@{scorer.version}, "
                   f"threshold {scorer.threshold:g}")
    else:
        write_result(["session_text", "score", "flagged"],
                     list(zip(items, scores, flags, strict=True)), fmt)


COMMANDS = [sql_command, score_command]
