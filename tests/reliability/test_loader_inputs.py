"""Bad input to `duckbert load`: every row is loaded or rejected with a reason, reloads are
idempotent, and a file that cannot be loaded is a clear error that leaves the warehouse as it
was (property tests with hypothesis, then the classic bad files one by one)."""

from __future__ import annotations

import csv
import io
import re

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from duckbert.cli import main
from duckbert.loader import LoadError, MissingColumnError, load
from tests.helpers.processes import EVENT_HEADER, event_row, snapshot, write_csv

pytestmark = pytest.mark.xdist_group("loader_inputs")

EVENT_REASONS = {"missing user_id", "missing event_time", "unparseable event_time",
                 "missing event_type", "unknown event_type"}
MALFORMED = re.compile(r"^malformed csv line: ")

TIMES = st.sampled_from([
    "2019-10-01 00:00:04 UTC", "2019-10-01T02:03:20+02:00", "2019-10-01 00:00:04",
    "1569888004", "1569888004123", "2019-10-01", "", " ", "not a time", "2019-13-45 00:00:00",
    "NULL", "nan", "2019-10-01 25:00:00 UTC", "०१", "9999999999999999999",
])
TYPES = st.sampled_from(["view", "VIEW", "AddToCart", "transaction", "remove-from-cart",
                         "purchase", "teleport", "", "nan", "view ", "🛒"])
LOADABLE_TYPES = {"view", "VIEW", "AddToCart", "transaction", "remove-from-cart", "purchase"}
USERS = st.sampled_from(["u1", "u2", "", "  ", "NULL", "None", "n/a", "ü", "u'1", 'u"2',
                         "u;drop table raw_events"])
FREE = st.text(st.one_of(st.sampled_from(list(",;\"'|\n\r\t x")),
                         st.characters(codec="utf-8", exclude_categories=["Cs"],
                                       exclude_characters="\x00")), max_size=12)
PRICES = st.sampled_from(["1.5", "", "abc", "-3", "1e400", "nan", "inf", "0", "12,5"])
ROW = st.tuples(TIMES, TYPES, FREE, FREE, FREE, FREE, PRICES, USERS, FREE)
# Lines DuckDB's CSV reader cannot parse: too many or too few fields.
BAD_LINE = st.sampled_from(["a,b", "1,2,3,4,5,6,7,8,9,10,11", "x"])


def csv_text(rows, bad_lines, dialect=(csv.QUOTE_MINIMAL, "\r\n")) -> tuple[str, int]:
    """File text (header + rows, with the bad lines spliced in) and its data-row count.

    Python's writer quotes a field only for the characters of its line terminator, so
    minimal quoting goes with CRLF: a bare CR inside an unquoted field ends the record for
    any CSV reader (and for DuckDB's)."""
    quoting, terminator = dialect
    lines = []
    for row in [EVENT_HEADER, *rows]:
        buf = io.StringIO()
        csv.writer(buf, lineterminator=terminator, quoting=quoting).writerow(row)
        lines.append(buf.getvalue())
    header, lines = lines[0], lines[1:]
    for position, line in bad_lines:
        lines.insert(min(position, len(lines)), line + terminator)
    return header + "".join(lines), len(lines)


DIALECTS = st.sampled_from([(csv.QUOTE_MINIMAL, "\r\n"), (csv.QUOTE_ALL, "\n"),
                            (csv.QUOTE_ALL, "\r\n")])


def accounted(con) -> tuple[list[int], list[int]]:
    loaded = [r[0] for r in con.execute("select source_row from raw_events").fetchall()]
    rejected = [r[0] for r in con.execute("select source_row from rejected_events").fetchall()]
    return loaded, rejected


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(ROW, min_size=1, max_size=25),
       bad=st.lists(st.tuples(st.integers(0, 25), BAD_LINE), max_size=3),
       dialect=DIALECTS)
def test_every_row_is_loaded_or_rejected_and_reloads_are_idempotent(tmp_path_factory, rows,
                                                                     bad, dialect):
    folder = tmp_path_factory.mktemp("prop")
    text, n_rows = csv_text(rows, bad, dialect)
    path = folder / "events.csv"
    path.write_bytes(text.encode("utf-8"))
    con = duckdb.connect()
    try:
        report = load(con, events=path).tables["raw_events"]
        loaded, rejected = accounted(con)
        assert report.loaded + report.rejected_total == n_rows
        assert sorted(loaded + rejected) == list(range(1, n_rows + 1)), "a row was lost"
        reasons = [r[0] for r in con.execute("select reason from rejected_events").fetchall()]
        assert all(r in EVENT_REASONS or MALFORMED.match(r) for r in reasons), reasons
        assert sum(bool(MALFORMED.match(r)) for r in reasons) >= len(bad)
        kept = con.execute("select user_id, event_time, event_type from raw_events").fetchall()
        for user, when, kind in kept:
            assert user and user.strip() == user and when is not None
            assert kind in LOADABLE_TYPES, kind
        before = snapshot(con)
        again = load(con, events=path).tables["raw_events"]
        assert again.replaced == n_rows
        assert (again.loaded, again.rejected) == (report.loaded, report.rejected)
        after = snapshot(con)
        strip = {"raw_events", "rejected_events"}
        for table in strip:
            assert _without_loaded_at(after[table]) == _without_loaded_at(before[table])
    finally:
        con.close()


def _without_loaded_at(rows: list[tuple]) -> list[tuple]:
    return sorted((row[:-1] for row in rows), key=repr)  # loaded_at is the last column


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=st.lists(ROW, min_size=1, max_size=10), second=st.lists(ROW, min_size=1,
                                                                      max_size=10))
def test_loading_one_file_never_touches_another_files_rows(tmp_path_factory, first, second):
    folder = tmp_path_factory.mktemp("two")
    a = folder / "a.csv"
    b = folder / "b.csv"
    a.write_bytes(csv_text(first, [])[0].encode("utf-8"))
    b.write_bytes(csv_text(second, [])[0].encode("utf-8"))
    con = duckdb.connect()
    try:
        load(con, events=a)
        of_a = snapshot(con, ["raw_events", "rejected_events"])
        load(con, events=b)
        load(con, events=b)
        rows_of_a = {t: [r for r in rows if r[-3] == str(a)] for t, rows in
                     snapshot(con, ["raw_events", "rejected_events"]).items()}
        assert rows_of_a == of_a
    finally:
        con.close()


# -- bad files, one by one: clear errors, nothing half-loaded -------------------------------


@pytest.fixture
def warehouse(tmp_path):
    """A warehouse file with one good load in it, and its contents."""
    db = tmp_path / "w.duckdb"
    good = write_csv(tmp_path / "good.csv", [EVENT_HEADER, event_row(0), event_row(1)])
    con = duckdb.connect(str(db))
    try:
        load(con, events=good)
        before = snapshot(con)
    finally:
        con.close()
    return db, before


def cli_load(db, *args):
    return CliRunner().invoke(main, ["load", "--db", str(db), *map(str, args)])


def assert_unchanged(db, before):
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert snapshot(con) == before, "a failed load changed the warehouse"
    finally:
        con.close()


LATIN1 = ",".join(EVENT_HEADER) + "\n" + ",".join(event_row(5, brand="caf\xe9")) + "\n"
UTF16 = ",".join(EVENT_HEADER) + "\n" + ",".join(event_row(5)) + "\n"
BAD_FILES = {
    "empty": (b"", "the file is empty"),
    "binary garbage": (bytes(range(256)) * 8, "cannot be read as CSV"),
    "utf-16": (UTF16.encode("utf-16"), "not UTF-8"),
    "utf-16 without bom": (UTF16.encode("utf-16-le"), "not UTF-8"),
    "wrong header": (b"a,b,c\n1,2,3\n", "missing required columns"),
    "header lacks user_id": (
        (",".join(c for c in EVENT_HEADER if c != "user_id") + "\n1,2,3,4,5,6,7,8\n").encode(),
        "missing required column user_id"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_a_bad_file_is_a_clear_error_and_changes_nothing(warehouse, tmp_path, name):
    db, before = warehouse
    data, message = BAD_FILES[name]
    path = tmp_path / f"{name.replace(' ', '_')}.csv"
    path.write_bytes(data)
    good = write_csv(tmp_path / "more.csv", [EVENT_HEADER, event_row(7, user="u7")])
    result = cli_load(db, "--events", good, "--events", path)  # the good file too: no half
    assert result.exit_code == 1, result.output
    assert message in result.output and str(path) in result.output
    assert "Traceback" not in result.output
    assert_unchanged(db, before)


def test_latin1_rows_are_rejected_as_invalid_encoding_not_dropped(warehouse, tmp_path):
    db, _ = warehouse
    path = tmp_path / "latin1.csv"
    path.write_bytes(LATIN1.encode("latin-1"))
    result = cli_load(db, "--events", path)
    assert result.exit_code == 0, result.output
    assert "malformed csv line: invalid encoding: 1" in result.output
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("select count(*) from raw_events where source_file = ?",
                           [str(path)]).fetchall() == [(0,)]
        assert con.execute("select source_row from rejected_events where source_file = ?",
                           [str(path)]).fetchall() == [(1,)]
    finally:
        con.close()


def test_a_corrupt_parquet_page_fails_the_load_inside_its_transaction(warehouse, tmp_path):
    """The footer (what the header check reads) is intact, a data page is not: the failure
    comes mid-load, after the transaction began, and must roll everything back."""
    db, before = warehouse
    rows = [event_row(i, user=f"p{i}") for i in range(2000)]
    table = pa.table({c: [r[k] for r in rows] for k, c in enumerate(EVENT_HEADER)})
    path = tmp_path / "events.parquet"
    pq.write_table(table, path, compression="none", use_dictionary=False)
    data = bytearray(path.read_bytes())
    middle = len(data) // 3
    data[middle:middle + 4096] = b"\xff" * 4096
    path.write_bytes(bytes(data))
    good = write_csv(tmp_path / "more.csv", [EVENT_HEADER, event_row(7, user="u7")])
    con = duckdb.connect(str(db))
    try:
        with pytest.raises((LoadError, duckdb.Error)):
            load(con, events=[good, path])
        assert not con.execute("select table_name from information_schema.tables "
                               "where table_name like '_duckbert_load%'").fetchall()
    finally:
        con.close()
    assert_unchanged(db, before)


def test_wrong_column_types_in_parquet_are_typed_or_rejected(con, tmp_path):
    table = pa.table({
        "event_time": pa.array([1, 1569888004], pa.int64()),
        "event_type": ["view", "cart"], "product_id": [[1], [2]],
        "category_id": [1.5, None], "category_code": [{"a": 1}, {"a": 2}],
        "brand": [b"\x00\xff", b"x"], "price": ["cheap", "3"], "user_id": [1, 2],
        "user_session": [None, "s"],
    })
    path = tmp_path / "typed.parquet"
    pq.write_table(table, path)
    report = load(con, events=path).tables["raw_events"]
    assert report.loaded + report.rejected_total == 2
    assert report.rejected == {"unparseable event_time": 1}  # epoch 1 is not a plausible time
    assert report.nulled == {}
    assert con.execute("select user_id, price, event_time::varchar from raw_events").fetchall() \
        == [("2", 3.0, "2019-10-01 00:00:04")]


def test_sql_in_file_names_headers_and_values_is_data(con, tmp_path):
    folder = tmp_path / "x'; drop table raw_events; --"
    folder.mkdir()
    evil_header = 'brand"; drop table raw_events; --'
    path = write_csv(folder / "ev'ents.csv", [
        [*EVENT_HEADER, evil_header],
        [*event_row(0, brand="'); drop table raw_events; --"), "x'); select 1; --"],
    ])
    report = load(con, events=path).tables["raw_events"]
    assert report.loaded == 1 and report.extra_columns == [evil_header]
    row = con.execute("select brand, extra->>? , source_file from raw_events",
                      [evil_header]).fetchall()
    assert row == [("'); drop table raw_events; --", "x'); select 1; --", str(path))]
    report = load(con, events=path).tables["raw_events"]  # reload keyed by that path
    assert report.replaced == 1
    assert con.execute("select count(*) from raw_events").fetchall() == [(1,)]


def test_a_file_named_by_a_glob_of_nothing_or_a_directory_of_nothing(tmp_path):
    empty = tmp_path / "empty_dir"
    empty.mkdir()
    for arg, message in ((tmp_path / "nope*.csv", "no file matches"),
                         (empty, "holds no CSV or Parquet file"),
                         (tmp_path / "missing.csv", "file not found")):
        result = cli_load(tmp_path / "w.duckdb", "--events", arg)
        assert result.exit_code == 1 and message in result.output, result.output


def test_header_only_file_loads_zero_rows(con, tmp_path):
    path = write_csv(tmp_path / "header.csv", [EVENT_HEADER])
    report = load(con, events=path).tables["raw_events"]
    assert (report.loaded, report.rejected_total) == (0, 0)


def test_missing_column_error_names_it_and_the_file(con, tmp_path):
    path = write_csv(tmp_path / "short.csv", [EVENT_HEADER[:-2], event_row(0)[:-2]])
    with pytest.raises(MissingColumnError, match=r"short\.csv: missing required column user_id"):
        load(con, events=path)
