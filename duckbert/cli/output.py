"""Printing query results: an aligned table for people, CSV or JSON for programs.

Shared by `duckbert sql`, `duckbert shell` and `duckbert score`.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
import math

import click

FORMATS = ("table", "csv", "json")
MAX_CELL = 80  # table format only: longer values are cut with "…" (csv/json print all)
NULL = "NULL"

format_option = click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
    help="Output: an aligned table for people, csv or json for programs.",
)


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


