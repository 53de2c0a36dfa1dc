"""`duckbert shell`: an interactive SQL prompt with anomaly_score() and friends registered.

The DuckDB CLI cannot load Python UDFs, so this is the terminal's way to call them. It reads
from a prompt (with history) or, when stdin is not a terminal, from a pipe without prompts.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
from pathlib import Path

import click

from duckbert.cli.common import db_option, model_option, open_warehouse, register_functions
from duckbert.cli.output import FORMATS, format_option, run_statements

PROMPT, CONTINUE = "duckbert> ", "   ...> "
SHELL_HELP = """\
Statements end with ';' and may span lines. Dot commands (at the start of a statement):
  .tables              tables and views
  .schema [TABLE]      CREATE statements (of TABLE, or of everything)
  .mode [table|csv|json]  show or set the output format
  .help                this text
  .quit / .exit        leave (Ctrl-D works too)"""



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
    con = open_warehouse(db_path, read_only=read_only)
    try:
        binding = register_functions(con, model)
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




COMMANDS = [shell_command]
