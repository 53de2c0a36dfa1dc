"""Load raw behaviour files (CSV or Parquet; paths, directories or globs) into the warehouse.

`load(con, events=..., reviews=..., labels=...)` fills raw_events / raw_reviews / raw_labels
and sends every row it cannot use to rejected_events / rejected_reviews / rejected_labels with
a reason, the source file and its row number, so nothing is dropped silently.

How: DuckDB's own readers read each file as text (read_csv with all_varchar, read_parquet);
the SQL of duckbert.raw_contract cleans, types and validates the rows; malformed CSV lines are
caught by DuckDB's rejects tables. Files are read one at a time because each has its own
header (and DuckDB's CSV rejects do not work with union_by_name). Extra columns are kept as a
JSON `extra` column. Everything is written in one transaction: a reload of a file replaces that
file's rows (keyed by its absolute path), and a failed load leaves the warehouse as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from duckbert.raw_contract import TABLES, RawTable
from duckbert.raw_files import (  # noqa: F401 (the errors are part of load()'s API)
    InputFileNotFound,
    LoadError,
    MissingColumnError,
    SourceFile,
    check_columns,
    csv_options,
    extra_json,
    file_format,
    header_map,
    read_header,
    resolve_files,
)
from udf.sqlident import quote_literal, quote_name

_PREFIX = "_duckbert_load"
_ROW = "_duckbert_row"  # the row-number column added to each scanned file


@dataclass
class TableReport:
    """What one load did to one raw table."""

    table: str
    rejected_table: str
    files: list[str] = field(default_factory=list)
    loaded: int = 0
    rejected: dict[str, int] = field(default_factory=dict)  # reason -> rows
    replaced: int = 0  # rows of an earlier load of the same files, replaced
    nulled: dict[str, int] = field(default_factory=dict)  # column -> values not typable
    extra_columns: list[str] = field(default_factory=list)

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def lines(self) -> list[str]:
        out = [
            f"{self.table}: {_count(self.loaded, 'row')} loaded from "
            f"{_count(len(self.files), 'file')}"
            + (f" (replacing {_count(self.replaced, 'row')} of an earlier load)"
               if self.replaced else "")
        ]
        out.append(f"  {self.rejected_table}: {_count(self.rejected_total, 'row')}")
        for reason, count in sorted(self.rejected.items(), key=lambda kv: (-kv[1], kv[0])):
            out.append(f"    {reason}: {count:,}")
        for column, count in sorted(self.nulled.items()):
            out.append(f"  {column}: {_count(count, 'value')} could not be typed, set to NULL")
        if self.extra_columns:
            out.append(f"  extra columns kept in `extra`: {', '.join(self.extra_columns)}")
        return out


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


@dataclass
class LoadReport:
    """Per-table results of one `load` call."""

    tables: dict[str, TableReport] = field(default_factory=dict)

    def lines(self) -> list[str]:
        return [line for report in self.tables.values() for line in report.lines()]

    def __str__(self) -> str:
        return "\n".join(self.lines())


class _Loader:
    """One load call's work on one connection, inside the caller's transaction."""

    def __init__(self, con):
        self.con = con
        self.temps: list[str] = []
        self.counter = 0

    def temp(self, stem: str) -> str:
        self.counter += 1
        name = f"{_PREFIX}_{stem}_{self.counter}"
        self.temps.append(name)
        return name

    def q(self, sql: str, params=None):
        return self.con.execute(sql, params or []).fetchall()

    def scan_file(self, spec: RawTable, source: SourceFile) -> tuple[str, list[str]]:
        """Read one file into a temp table shaped like the contract (cleaned text columns,
        `_extra`, `_file`, `_row`, `_bad`); returns (table, extra column names)."""
        raw = self.temp("file")
        path = quote_literal(source.path)
        bad_lines = None
        if source.fmt == "parquet":
            self.q(
                f"create temp table {raw} as select columns(* exclude (file_row_number))"
                f"::varchar, file_row_number + 1 as {_ROW} from read_parquet({path}, "
                "file_row_number = true)"
            )
            numbered = raw
        else:
            # row_number() over () runs as a streaming window, which keeps file order.
            rejects, scans = self.temp("rejects"), self.temp("scans")
            self.q(
                f"create temp table {raw} as select *, row_number() over () as {_ROW} "
                f"from read_csv({path}, {source.options or csv_options()}, "
                "store_rejects = true, "
                f"rejects_table = '{rejects}', rejects_scan = '{scans}')"
            )
            bad_lines = self._bad_lines(rejects)
            numbered = raw if bad_lines is None else self._renumbered(raw, bad_lines)
        mapping, extras = header_map(spec, source)
        cols = []
        for column in spec.columns:
            header = mapping.get(column.name)
            value = "cast(null as varchar)" if header is None else column.cleaned(
                quote_name(header)
            )
            cols.append(f"{value} as {column.name}")
        shaped = self.temp("shaped")
        self.q(
            f"create temp table {shaped} as select {', '.join(cols)}, "
            f"{extra_json(extras)} as _extra, {path} as _file, {_ROW} as _row, "
            f"cast(null as varchar) as _bad from {numbered}"
        )
        if bad_lines:
            nulls = ", ".join(f"cast(null as varchar) as {c}" for c in spec.column_names)
            self.q(
                f"insert into {shaped} select {nulls}, "
                "to_json({'csv_line': csv_line, 'error': error_message}), "
                f"{path}, line - 1, 'malformed csv line: ' || lower(error_type) "
                f"from {bad_lines}"
            )
        return shaped, extras

    def _bad_lines(self, rejects: str) -> str | None:
        """A temp table of the file's malformed lines (one row per line), or None."""
        if not self.q(f"select count(*) from {rejects}")[0][0]:
            return None
        bad = self.temp("bad")
        self.q(
            f"create temp table {bad} as select line, arg_min(error_type::varchar, "
            "column_idx) as error_type, arg_min(error_message, column_idx) as error_message, "
            f"any_value(csv_line) as csv_line from {rejects} group by line"
        )
        return bad

    def _renumbered(self, raw: str, bad_lines: str) -> str:
        """`raw` with each parsed row's number moved back to its data row in the file.

        DuckDB skipped the malformed lines, so parsed row r sits at data row r + (the number
        of malformed rows before it); an ASOF join on the running shift finds that number.
        """
        fixed = self.temp("renumbered")
        self.q(
            f"create temp table {fixed} as select g.* replace "
            f"(g.{_ROW} + coalesce(b.k, 0) as {_ROW}) from {raw} g asof left join "
            f"(select pos - k as shift, max(k) as k from (select line - 1 as pos, "
            f"row_number() over (order by line) as k from {bad_lines}) group by all) b "
            f"on g.{_ROW} > b.shift"
        )
        return fixed

    def load_table(self, spec: RawTable, sources: list[SourceFile]) -> TableReport:
        report = TableReport(spec.name, spec.rejected, files=[s.path for s in sources])
        shaped, extra_names = [], []
        for source in sources:
            table, extras = self.scan_file(spec, source)
            shaped.append(table)
            extra_names.extend(e for e in extras if e not in extra_names)
        report.extra_columns = extra_names
        names = spec.column_names
        union = " union all ".join(
            f"select {', '.join(names)}, _extra, _file, _row, _bad from {t}" for t in shaped
        )
        typed = ", ".join(f"{col.typed('c.' + col.name)} as {col.name}" for col in spec.columns)
        text = ", ".join(f"c.{n} as _text_{n}" for n in names)
        checked = self.temp("checked")
        self.q(
            f"create temp table {checked} as select t.*, {text}, c._extra, c._file, c._row, "
            f"coalesce(c._bad, {spec.reason_sql()}) as _reason "
            f"from ({union}) c, lateral (select {typed}) t"
        )
        files = [s.path for s in sources]
        marks = ", ".join("?" for _ in files)
        for table in (spec.name, spec.rejected):
            report.replaced += self.q(
                f"select count(*) from {table} where source_file in ({marks})", files
            )[0][0]
            self.q(f"delete from {table} where source_file in ({marks})", files)
        cols = ", ".join(names)
        self.q(
            f"insert into {spec.name} ({cols}, extra, source_file, source_row, loaded_at) "
            f"select {cols}, _extra, _file, _row, timezone('UTC', now()) from {checked} "
            "where _reason is null"
        )
        self.q(
            f"insert into {spec.rejected} (reason, {cols}, extra, source_file, source_row, "
            f"loaded_at) select _reason, {', '.join('_text_' + n for n in names)}, _extra, "
            f"_file, _row, timezone('UTC', now()) from {checked} where _reason is not null"
        )
        report.loaded = self.q(f"select count(*) from {checked} where _reason is null")[0][0]
        report.rejected = dict(
            self.q(f"select _reason, count(*) from {checked} where _reason is not null "
                   "group by all order by all")
        )
        report.nulled = self._nulled(spec, checked)
        return report

    def _nulled(self, spec: RawTable, checked: str) -> dict[str, int]:
        """Per typed column: loaded rows whose text was present but could not be typed."""
        typed = [c.name for c in spec.columns if c.kind not in ("text", "free_text")]
        if not typed:
            return {}
        counts = ", ".join(
            f"count(*) filter (where _text_{n} is not null and {n} is null)" for n in typed
        )
        row = self.q(f"select {counts} from {checked} where _reason is null")[0]
        return {name: count for name, count in zip(typed, row, strict=True) if count}

    def drop_temps(self) -> None:
        for name in reversed(self.temps):
            self.con.execute(f"drop table if exists {name}").fetchall()


def missing_raw_tables(con) -> list[str]:
    """The raw tables (raw_events, raw_reviews, raw_labels) the warehouse does not have."""
    present = {
        row[0] for row in con.execute(
            "select table_name from information_schema.tables where table_schema = 'main'"
        ).fetchall()
    }
    return [spec.name for spec in TABLES.values() if spec.name not in present]


def ensure_tables(con) -> None:
    """Create every raw and rejected table that does not exist yet (all of them, so that a
    warehouse loaded with events only still has an empty raw_reviews / raw_labels)."""
    for spec in TABLES.values():
        con.execute(spec.ddl()).fetchall()
        con.execute(spec.rejected_ddl()).fetchall()


def load(con, events=None, reviews=None, labels=None) -> LoadReport:
    """Load raw files into the warehouse on `con`; returns per-table counts and reasons.

    Each argument is a path, a directory, a glob, or a list of them (CSV or Parquet). Every
    file's header is checked before anything is written; then all tables are written in one
    transaction, replacing the rows that earlier loads of the same files wrote.
    """
    requested = {"events": events, "reviews": reviews, "labels": labels}
    plan: list[tuple[RawTable, list[SourceFile]]] = []
    for kind, patterns in requested.items():
        if patterns is None:
            continue
        spec = TABLES[kind]
        sources = [read_header(con, path) for path in resolve_files(patterns)]
        for source in sources:
            check_columns(spec, source, kind)
        plan.append((spec, sources))
    if not plan:
        raise LoadError("nothing to load: give events, reviews and/or labels files")

    report = LoadReport()
    worker = _Loader(con)
    con.execute("begin transaction").fetchall()
    try:
        ensure_tables(con)
        for spec, sources in plan:
            report.tables[spec.name] = worker.load_table(spec, sources)
        worker.drop_temps()
        con.execute("commit").fetchall()
    except BaseException:
        con.execute("rollback").fetchall()
        raise
    return report
