"""Reading a user's raw files: resolve paths and globs, check encoding, read headers.

The part of `duckbert load` that knows about files (CSV or Parquet, their headers and their
columns); duckbert.loader turns what is read into typed raw tables and rejected rows.
"""

from __future__ import annotations

import codecs
import glob
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from duckbert.raw_contract import RawTable
from udf.sqlident import quote_literal, quote_name

PARQUET_SUFFIXES = (".parquet", ".parq", ".pq")
DATA_SUFFIXES = (".csv", ".tsv", ".txt", ".gz", ".zst", *PARQUET_SUFFIXES)


class LoadError(Exception):
    """A file or its header cannot be loaded; the message names the file."""


class InputFileNotFound(LoadError, FileNotFoundError):
    """A path does not exist or a glob matches no file."""


class MissingColumnError(LoadError):
    """A file lacks a column the raw data contract requires."""


@dataclass(frozen=True)
class SourceFile:
    """One input file, resolved to an absolute path, with its header."""

    path: str
    fmt: str  # csv | parquet
    columns: tuple[str, ...]
    options: str = ""  # read_csv options for this file (csv_options() or an explicit dialect)


def resolve_files(patterns: str | os.PathLike | Iterable[str | os.PathLike]) -> list[str]:
    """Absolute paths of the files that paths, directories or globs name, in sorted order.

    A directory means the data files directly inside it. Raises InputFileNotFound for a path
    that does not exist or a pattern that matches nothing.
    """
    if isinstance(patterns, (str, os.PathLike)):
        patterns = [patterns]
    found: list[str] = []
    for pattern in patterns:
        text = os.path.expanduser(os.fspath(pattern))
        if glob.has_magic(text):
            matches = sorted(p for p in glob.glob(text, recursive=True) if os.path.isfile(p))
            if not matches:
                raise InputFileNotFound(f"no file matches {text!r}")
        elif os.path.isdir(text):
            matches = sorted(
                str(p) for p in Path(text).iterdir()
                if p.is_file() and p.name.lower().endswith(DATA_SUFFIXES)
            )
            if not matches:
                raise InputFileNotFound(f"directory {text!r} holds no CSV or Parquet file")
        elif os.path.isfile(text):
            matches = [text]
        else:
            raise InputFileNotFound(f"file not found: {text!r}")
        found.extend(str(Path(m).resolve()) for m in matches)
    return list(dict.fromkeys(found))  # each file once, first mention wins


def file_format(path: str) -> str:
    return "parquet" if path.lower().endswith(PARQUET_SUFFIXES) else "csv"


def csv_options() -> str:
    # ignore_errors keeps the dialect sniffer from giving up on one malformed line; the scan
    # collects those lines through store_rejects.
    return "all_varchar = true, header = true, ignore_errors = true"


def _explicit_dialect(con, path: str) -> str | None:
    """read_csv options naming the comma/double-quote dialect and the header's columns, when
    DuckDB's sniffer missed it: a last line cut inside a quoted field (an export that was
    truncated) makes the sniffer give up on quotes, and then every quoted newline in review
    text would split its row. None when the sniffed dialect is fine."""
    import csv
    import io

    with open(path, "rb") as fh:
        head = fh.read(1 << 20)
    if b'"' not in head:
        return None
    first = head.decode("utf-8", errors="replace").lstrip("\ufeff").splitlines()[0:1]
    if not first or "," not in first[0]:
        return None
    try:
        sniffed = con.execute("select Delimiter, Quote from sniff_csv(?, ignore_errors = true)",
                              [path]).fetchall()
    except Exception:  # the sniffer failed outright: the explicit dialect is the way left
        sniffed = []
    if sniffed and sniffed[0] == (",", '"'):
        return None
    names = next(csv.reader(io.StringIO(first[0])))
    if len(set(names)) != len(names) or not all(n.strip() for n in names):
        return None
    columns = ", ".join(f"{quote_literal(n)}: 'VARCHAR'" for n in names)
    return ("header = true, ignore_errors = true, auto_detect = false, delim = ',', "
            f"quote = '\"', escape = '\"', columns = {{{columns}}}")


def _check_utf8(path: str) -> None:
    """Refuse UTF-16/32 text, which DuckDB would misread as one garbled column: by its
    byte-order mark, or by the NUL bytes that fill it (a stray NUL in a field is fine)."""
    if path.lower().endswith((".gz", ".zst")):
        return
    with open(path, "rb") as fh:
        head = fh.read(4096)
    boms = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
    if head.startswith(boms) or head.count(0) > len(head) // 4:
        raise LoadError(
            f"{path}: the file is not UTF-8 text (it looks like UTF-16 or UTF-32); re-encode "
            "it as UTF-8, e.g. iconv -f UTF-16 -t UTF-8 IN.csv > OUT.csv"
        )


def read_header(con, path: str) -> SourceFile:
    """The file's column names, read by DuckDB (CSV dialect sniffed, Parquet schema)."""
    fmt = file_format(path)
    if os.path.getsize(path) == 0:
        raise LoadError(f"{path}: the file is empty (no header row)")
    options = ""
    if fmt == "csv":
        _check_utf8(path)
        compressed = path.lower().endswith((".gz", ".zst"))
        options = (None if compressed else _explicit_dialect(con, path)) or csv_options()
    reader = (
        f"read_parquet({quote_literal(path)})" if fmt == "parquet"
        else f"read_csv({quote_literal(path)}, {options})"
    )
    try:
        rows = con.execute(f"describe select * from {reader}").fetchall()
    except Exception as exc:  # duckdb.Error subclasses: IO, parser, invalid input
        raise LoadError(f"{path}: cannot be read as {fmt.upper()}: {exc}") from exc
    return SourceFile(path=path, fmt=fmt, columns=tuple(row[0] for row in rows),
                      options=options)


def check_columns(spec: RawTable, source: SourceFile, kind: str) -> None:
    """Raise MissingColumnError naming the column(s) and the file when the header lacks any."""
    present = {name.lower() for name in source.columns}
    missing = [c.name for c in spec.columns if c.required and c.name not in present]
    for group in spec.one_of:
        if not any(name in present for name in group):
            missing.append(" or ".join(group))
    if missing:
        names = ", ".join(missing)
        raise MissingColumnError(
            f"{source.path}: missing required column{'s' if len(missing) > 1 else ''} "
            f"{names} for {kind} ({spec.name}); the file has: {', '.join(source.columns)}"
        )


def header_map(spec: RawTable, source: SourceFile) -> tuple[dict[str, str], list[str]]:
    """(contract column -> header name, extra header names) matching names case-insensitively."""
    contract = set(spec.column_names)
    mapping: dict[str, str] = {}
    extras: list[str] = []
    for name in source.columns:
        key = name.lower()
        if key in contract and key not in mapping:
            mapping[key] = name
        else:
            extras.append(name)
    return mapping, extras


def extra_json(extras: list[str]) -> str:
    """SQL for a JSON object of a row's non-empty extra columns (NULL when there are none)."""
    if not extras:
        return "cast(null as json)"
    entries = ", ".join(
        f"struct_pack(k := {quote_literal(name)}, v := nullif(trim({quote_name(name)}), ''))"
        for name in extras
    )
    return (
        f"nullif(to_json(map_from_entries(list_filter([{entries}], "
        "lambda e: e.v is not null))), '{}')"
    )
