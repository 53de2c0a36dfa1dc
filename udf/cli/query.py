"""Query commands: `duckbert sql`, `duckbert shell` and `duckbert score`.

The DuckDB CLI cannot load Python UDFs, so these are the ways to call anomaly_score() and
friends from a terminal or a script. duckdb, torch and the udf runtime load inside the
commands, never at import, so `duckbert --help` stays fast.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import decimal
import io
import json
import math
import os
import sqlite3
import sys
from pathlib import Path

import click

from udf.cli.common import db_option

FORMATS = ("table", "csv", "json")
MAX_CELL = 80  # table format only: longer values are cut with "…" (csv/json print all)
NULL = "NULL"
PROMPT, CONTINUE = "duckbert> ", "   ...> "
SHELL_HELP = """\
Statements end with ';' and may span lines. Dot commands (at the start of a statement):
  .tables              tables and views
  .schema [TABLE]      CREATE statements (of TABLE, or of everything)
  .mode [table|csv|json]  show or set the output format
  .help                this text
  .quit / .exit        leave (Ctrl-D works too)"""

format_option = click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
    help="Output: an aligned table for people, csv or json for programs.",
)
model_option = click.option(
    "--model", "model", default=None, metavar="MODEL",
    help="Default model for anomaly_score(): a model directory, name, name@version or "
         "version [default: the warehouse's current model, else env DUCKBERT_MODEL].",
)


# -- connecting -----------------------------------------------------------------------------


def _connect(db_path: str, read_only: bool = False):
    """The warehouse connection, with clear messages for a missing or locked file."""
    import duckdb

    from udf.connect import WarehouseLockedError, connect_warehouse

    if db_path != ":memory:" and read_only and not Path(db_path).exists():
        raise click.ClickException(f"warehouse {db_path} does not exist (--read-only cannot "
                                   "create it)")
    created = db_path != ":memory:" and not Path(db_path).exists()
    try:
        con = connect_warehouse(db_path, read_only=read_only)
    except WarehouseLockedError as exc:
        raise click.ClickException(str(exc)) from exc
    except duckdb.Error as exc:
        raise click.ClickException(f"cannot open {db_path}: {exc}") from exc
    if created:
        click.echo(f"note: created a new, empty database {db_path}", err=True)
    return con


def _register(con, model: str | None):
    """Put the duckbert SQL functions on `con`; a bad --model is a usage error."""
    import udf

    try:
        return udf.register(con, model=model)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from exc


# -- output ---------------------------------------------------------------------------------


def _plain(value):
    """A JSON-ready version of a DuckDB value."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    return str(value)


def _cell(value) -> str:
    if value is None:
        return NULL
    if isinstance(value, float):
        return repr(value)
    text = str(value).replace("\n", "\\n")
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def _is_number(value) -> bool:
    return isinstance(value, (int, float, decimal.Decimal)) and not isinstance(value, bool)


def render_table(columns: list[str], rows: list[tuple]) -> str:
    """An aligned text table: header, rule, rows (numbers right-aligned), row count."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    numeric = [
        any(_is_number(row[i]) for row in rows)
        and all(row[i] is None or _is_number(row[i]) for row in rows)
        for i in range(len(columns))
    ]

    def line(values):
        parts = [v.rjust(w) if num else v.ljust(w)
                 for v, w, num in zip(values, widths, numeric, strict=True)]
        return " " + " | ".join(parts).rstrip()

    out = [line(columns), "-" + "-+-".join("-" * w for w in widths) + "-"]
    out.extend(line(row) for row in cells)
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out)


def format_result(columns: list[str], rows: list[tuple], fmt: str) -> str:
    """A result as text: an aligned table, CSV with a header, or a JSON array of objects."""
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow(["" if v is None else _csv_value(v) for v in row])
        return buffer.getvalue()
    if fmt == "json":
        records = [
            json.dumps({c: _plain(v) for c, v in zip(columns, row, strict=True)},
                       ensure_ascii=False)
            for row in rows
        ]
        return "[\n" + ",\n".join(records) + "\n]\n" if records else "[]\n"
    return render_table(columns, rows) + "\n"


def write_result(columns: list[str], rows: list[tuple], fmt: str) -> None:
    click.echo(format_result(columns, rows, fmt), nl=False)


def _csv_value(value):
    if isinstance(value, (list, dict)):
        return json.dumps(_plain(value), ensure_ascii=False)
    return value


def _is_status_only(statement_type, columns: list[str]) -> bool:
    """DDL/DML results ('Count' / 'Success'), which the CLI does not print."""
    import duckdb

    return (statement_type != duckdb.StatementType.SELECT
            and columns in (["Count"], ["Success"]))


def run_statements(con, sql: str, fmt: str, last_only: bool = False) -> None:
    """Execute every statement of `sql` in order and print the results that have rows.

    With `last_only` only the last statement's result is printed (one csv/json document).
    Raises duckdb.Error on the first failing statement.
    """
    statements = con.extract_statements(sql)
    results = []
    for statement in statements:
        con.execute(statement.query)
        if con.description is None:
            continue
        columns = [d[0] for d in con.description]
        rows = con.fetchall()
        if _is_status_only(statement.type, columns):
            continue
        if last_only:
            results = [(columns, rows)]
        else:
            write_result(columns, rows, fmt)
    for columns, rows in results:
        write_result(columns, rows, fmt)


# -- duckbert sql ---------------------------------------------------------------------------


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
    import duckdb

    if query == "-":
        query = click.get_text_stream("stdin").read()
    con = _connect(db_path, read_only=read_only)
    try:
        _register(con, model)
        run_statements(con, query, fmt, last_only=True)
    except duckdb.Error as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        con.close()


# -- duckbert shell -------------------------------------------------------------------------


def history_path(db_path: str) -> Path | None:
    """Where the shell keeps its history: DUCKBERT_HISTORY, ~/.duckbert, else the db's folder."""
    if os.environ.get("DUCKBERT_HISTORY"):
        return Path(os.environ["DUCKBERT_HISTORY"]).expanduser()
    home = Path("~").expanduser() / ".duckbert"
    try:
        home.mkdir(parents=True, exist_ok=True)
        if os.access(home, os.W_OK):
            return home / "shell_history"
    except OSError:
        pass
    if db_path == ":memory:":
        return None
    folder = Path(db_path).resolve().parent
    return folder / ".duckbert_history" if os.access(folder, os.W_OK) else None


INTERRUPT = object()  # what a line source returns for Ctrl-C


class PipedInput:
    """Lines from a pipe or file: no prompts, no history."""

    def __init__(self, stream):
        self._lines = iter(stream)

    def read(self, continuation: bool):
        """The next line without its newline, or None at the end."""
        line = next(self._lines, None)
        return None if line is None else line.rstrip("\r\n")

    def close(self) -> None:
        pass


class PromptInput:
    """Lines typed at a prompt, with history: prompt_toolkit when installed, else readline."""

    def __init__(self, history: Path | None):
        self.history = history
        self._readline = None
        try:
            from prompt_toolkit import PromptSession
            from prompt_toolkit.history import FileHistory, InMemoryHistory
        except ImportError:
            PromptSession = None
        if PromptSession is not None:
            kept = FileHistory(str(history)) if history else InMemoryHistory()
            self._prompt = PromptSession(history=kept).prompt
            return
        try:
            import readline
        except ImportError:  # pragma: no cover - a Python built without readline
            readline = None
        if readline is not None and history is not None:
            readline.set_history_length(5000)
            if history.exists():
                with contextlib.suppress(OSError):
                    readline.read_history_file(str(history))
            self._readline = readline
        self._prompt = input

    def read(self, continuation: bool):
        try:
            return self._prompt(CONTINUE if continuation else PROMPT)
        except KeyboardInterrupt:
            return INTERRUPT
        except EOFError:
            click.echo("", err=True)
            return None

    def close(self) -> None:
        if self._readline is not None:
            with contextlib.suppress(OSError):
                self._readline.write_history_file(str(self.history))


class Shell:
    """The read-eval-print loop, on any source of lines (a prompt, a pipe, a test)."""

    def __init__(self, con, fmt: str = "table", bail: bool = False):
        self.con = con
        self.fmt = fmt
        self.bail = bail
        self.errors = 0

    def error(self, message: str) -> None:
        self.errors += 1
        click.echo(f"Error: {message}", err=True)

    def run(self, source) -> int:
        """Read statements from `source` until EOF or .quit; returns how many failed."""
        buffer: list[str] = []
        while True:
            line = source.read(bool(buffer))
            if line is None:
                break
            if line is INTERRUPT:
                buffer = []
                click.echo("^C", err=True)
                continue
            if not buffer and line.strip().startswith("."):
                if self.dot_command(line.strip()) == "quit":
                    break
                continue
            if not buffer and not line.strip():
                continue
            buffer.append(line)
            text = "\n".join(buffer)
            if sqlite3.complete_statement(text):
                buffer = []
                if not self.execute(text) and self.bail:
                    return self.errors
        if buffer:
            self.execute("\n".join(buffer))  # a last statement without ';' still runs
        return self.errors

    def execute(self, sql: str) -> bool:
        import duckdb

        try:
            run_statements(self.con, sql, self.fmt)
        except duckdb.Error as exc:
            self.error(str(exc))
            return False
        except KeyboardInterrupt:
            self.con.interrupt()
            self.error("interrupted")
            return False
        return True

    def dot_command(self, line: str) -> str | None:
        name, _, arg = line.partition(" ")
        arg = arg.strip().rstrip(";").strip()
        if name in (".quit", ".exit", ".q"):
            return "quit"
        if name == ".help":
            click.echo(SHELL_HELP)
        elif name == ".tables":
            self.tables()
        elif name == ".schema":
            self.schema(arg or None)
        elif name == ".mode":
            if not arg:
                click.echo(self.fmt)
            elif arg in FORMATS:
                self.fmt = arg
            else:
                self.error(f"unknown mode {arg!r}; use one of {', '.join(FORMATS)}")
        else:
            self.error(f"unknown command {name}; .help lists them")
        return None

    def tables(self) -> None:
        rows = self.con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_catalog = current_database() "
            "and table_schema not in ('information_schema', 'pg_catalog') "
            "order by table_schema <> 'main', table_schema, table_name"
        ).fetchall()
        for schema, name in rows:
            click.echo(name if schema == "main" else f"{schema}.{name}")

    def schema(self, table: str | None) -> None:
        query = (
            "select sql from (select table_name as name, sql from duckdb_tables() "
            "where not internal union all select view_name, sql from duckdb_views() "
            "where not internal) where ? is null or lower(name) = lower(?) order by name"
        )
        rows = self.con.execute(query, [table, table]).fetchall()
        if table is not None and not rows:
            self.error(f"no table or view named {table!r}")
        for (sql,) in rows:
            click.echo(sql.rstrip(";") + ";")


@click.command("shell")
@db_option
@model_option
@format_option
@click.option("--read-only", is_flag=True, help="Open the warehouse read-only.")
@click.option("--bail", is_flag=True, help="Stop at the first failing statement.")
def shell_command(db_path, model, fmt, read_only, bail):
    """Interactive SQL prompt on the warehouse, with anomaly_score() and friends registered.

    The DuckDB CLI cannot load Python UDFs; this shell can. Statements end with ';' and may
    span lines; .tables, .schema TABLE, .mode, .help and .quit work as in the DuckDB and
    SQLite shells. History is kept in ~/.duckbert/shell_history (env DUCKBERT_HISTORY).
    When stdin is not a terminal it reads statements from it without prompts, so
    `echo "select anomaly_score('view phone');" | duckbert shell --db PATH` scripts it; the
    exit status is then 1 if any statement failed.
    """
    con = _connect(db_path, read_only=read_only)
    try:
        binding = _register(con, model)
        stdin = click.get_text_stream("stdin")
        interactive = stdin.isatty()
        if interactive:
            where = "no model yet" if binding.default is None else binding.default
            click.echo(f"duckbert shell on {db_path} (model: {where}). "
                       "End statements with ';', .help for commands, .quit to leave.")
            source = PromptInput(history_path(db_path))
        else:
            source = PipedInput(stdin)
        try:
            errors = Shell(con, fmt=fmt, bail=bail).run(source)
        finally:
            source.close()
    finally:
        con.close()
    if errors and not interactive:
        sys.exit(1)


# -- duckbert score -------------------------------------------------------------------------


def _score_connection(db_path: str | None):
    """A read-only warehouse connection for model resolution, or an in-memory one."""
    import duckdb

    from udf.connect import WarehouseLockedError, connect_warehouse

    default = os.environ.get("DUCKBERT_DB") or "warehouse/duckbert.duckdb"
    path = db_path or default
    if not Path(path).exists():
        if db_path is not None:
            raise click.ClickException(f"warehouse {db_path} does not exist")
        return duckdb.connect(":memory:")
    try:
        return connect_warehouse(path, read_only=True)
    except WarehouseLockedError as exc:
        raise click.ClickException(str(exc)) from exc


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
    from udf.artifact import ArtifactError
    from udf.base_models import UnsafeModelError
    from udf.resolve import NoModelError, resolve_binding
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
        binding = resolve_binding(con, model)
        scorer = get_scorer(binding.default_dir())
        scores = scorer.score(items)
    except (LookupError, NoModelError, ArtifactError, UnsafeModelError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
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


COMMANDS = [sql_command, shell_command, score_command]
