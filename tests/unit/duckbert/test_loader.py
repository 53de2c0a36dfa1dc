"""The raw-file loader: typing, validation, rejected rows, reloads and atomicity."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pytest

from duckbert import loader
from duckbert.loader import InputFileNotFound, LoadError, MissingColumnError, load
from duckbert.raw_contract import EVENT_TYPE_SYNONYMS, EVENT_TYPES

EVENT_HEADER = ["event_time", "event_type", "product_id", "category_id", "category_code",
                "brand", "price", "user_id", "user_session"]
REVIEW_HEADER = ["review_id", "user_id", "product_id", "rating", "review_text", "created_at",
                 "user_session"]


def write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def event(time="2019-10-01 00:00:04 UTC", etype="view", user="u1", session="s1", price="9.5",
          brand="samsung", code="electronics.smartphone"):
    return [time, etype, "100", "2053013555631882655", code, brand, price, user, session]


def rows(con, sql):
    return con.execute(sql).fetchall()


def test_csv_is_typed_and_times_become_utc(con, tmp_path):
    path = write_csv(tmp_path / "events.csv", EVENT_HEADER, [
        event(time="2019-10-01 00:00:04 UTC"),
        event(time="2019-10-01T02:00:04+02:00"),
        event(time="1569888004"),
        event(time="1569888004000"),
        event(time="2019-10-01 00:00:04"),
    ])
    report = load(con, events=path)
    assert report.tables["raw_events"].loaded == 5
    times = {r[0] for r in rows(con, "select event_time from raw_events")}
    assert times == {dt.datetime(2019, 10, 1, 0, 0, 4)}
    assert rows(con, "select distinct typeof(price), typeof(event_time) from raw_events") == [
        ("DOUBLE", "TIMESTAMP")
    ]


def test_empty_values_become_null_and_bad_prices_are_counted(con, tmp_path):
    path = write_csv(tmp_path / "events.csv", EVENT_HEADER, [
        event(brand="", code="", price="abc"),
        event(brand="NULL", price="-3"),
    ])
    report = load(con, events=path)
    got = rows(con, "select brand, category_code, price from raw_events order by source_row")
    assert got == [(None, None, None), (None, "electronics.smartphone", -3.0)]
    assert report.tables["raw_events"].nulled == {"price": 1}
    assert "price: 1 value could not be typed, set to NULL" in str(report)


def test_user_session_may_be_absent_and_extra_columns_are_kept(con, tmp_path):
    header = [c for c in EVENT_HEADER if c != "user_session"] + ["device", "Ref Code"]
    path = write_csv(tmp_path / "events.csv", header, [
        event()[:-1] + ["ios", "a|b"],
        event()[:-1] + ["", ""],
    ])
    report = load(con, events=path)
    got = rows(con, "select user_session, extra from raw_events order by source_row")
    assert got[0][0] is None and json.loads(got[0][1]) == {"device": "ios", "Ref Code": "a|b"}
    assert got[1] == (None, None)
    assert report.tables["raw_events"].extra_columns == ["device", "Ref Code"]


def test_header_names_match_case_insensitively(con, tmp_path):
    header = [c.upper() for c in EVENT_HEADER]
    load(con, events=write_csv(tmp_path / "events.csv", header, [event()]))
    assert rows(con, "select user_id, user_session from raw_events") == [("u1", "s1")]


def test_parquet_and_globs_load_every_matching_file(con, tmp_path):
    write_csv(tmp_path / "part-1.csv", EVENT_HEADER, [event(user="a"), event(user="b")])
    con.execute(
        f"copy (select timestamp '2019-10-01 00:00:00' as event_time, 'cart' as event_type, "
        f"100 as product_id, 7 as category_id, 'x.y' as category_code, 'lg' as brand, "
        f"12.5 as price, 42 as user_id) to '{tmp_path / 'part-2.parquet'}' (format parquet)"
    ).fetchall()
    report = load(con, events=str(tmp_path / "part-*"))
    table = report.tables["raw_events"]
    assert table.loaded == 3 and len(table.files) == 2
    got = rows(con, "select user_id, price, source_row, source_file like '%.parquet' "
                    "from raw_events order by user_id")
    assert got == [("42", 12.5, 1, True), ("a", 9.5, 1, False), ("b", 9.5, 2, False)]


def test_a_directory_means_its_data_files(con, tmp_path):
    write_csv(tmp_path / "a.csv", EVENT_HEADER, [event()])
    (tmp_path / "notes.md").write_text("not data")
    assert load(con, events=tmp_path).tables["raw_events"].loaded == 1


def test_missing_file_and_empty_glob_are_clear_errors(con, tmp_path):
    with pytest.raises(InputFileNotFound, match="file not found: .*nope.csv"):
        load(con, events=tmp_path / "nope.csv")
    with pytest.raises(InputFileNotFound, match=r"no file matches .*\*\.parquet"):
        load(con, events=str(tmp_path / "*.parquet"))


def test_missing_column_names_the_column_and_the_file(con, tmp_path):
    header = [c for c in EVENT_HEADER if c != "event_type"]
    path = write_csv(tmp_path / "events.csv", header, [event()[:1] + event()[2:]])
    with pytest.raises(MissingColumnError) as info:
        load(con, events=path)
    message = str(info.value)
    assert "event_type" in message and str(path) in message
    assert "user_id" not in message.split("the file has")[0]


def test_labels_need_user_session_or_session_id(con, tmp_path):
    path = write_csv(tmp_path / "labels.csv", ["is_anomaly"], [["true"]])
    with pytest.raises(MissingColumnError, match="user_session or session_id"):
        load(con, labels=path)


def test_empty_file_is_a_clear_error(con, tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(LoadError, match="empty"):
        load(con, events=path)


def test_unusable_rows_are_rejected_with_reason_file_and_row(con, tmp_path):
    path = write_csv(tmp_path / "events.csv", EVENT_HEADER, [
        event(),
        event(user=""),
        event(time=""),
        event(time="yesterday"),
        event(etype=""),
        event(etype="jump"),
        event(etype="AddToCart"),
    ])
    report = load(con, events=path).tables["raw_events"]
    assert report.loaded == 2
    assert report.rejected == {
        "missing user_id": 1, "missing event_time": 1, "unparseable event_time": 1,
        "missing event_type": 1, "unknown event_type": 1,
    }
    got = rows(con, "select source_row, reason, event_time, event_type, source_file "
                    "from rejected_events order by source_row")
    assert [(r[0], r[1]) for r in got] == [
        (2, "missing user_id"), (3, "missing event_time"), (4, "unparseable event_time"),
        (5, "missing event_type"), (6, "unknown event_type"),
    ]
    assert got[2][2] == "yesterday" and got[4][3] == "jump"
    assert {r[4] for r in got} == {str(path.resolve())}
    assert rows(con, "select source_row from raw_events order by 1") == [(1,), (7,)]


def test_reviews_and_labels_reject_bad_ratings_users_and_booleans(con, tmp_path):
    reviews = write_csv(tmp_path / "reviews.csv", REVIEW_HEADER, [
        ["r1", "u1", "p", "5", "great", "2019-10-01 00:00:00", ""],
        ["r2", "u1", "p", "9", "bad rating", "2019-10-01 00:00:00", ""],
        ["r3", "", "p", "4", "no user", "2019-10-01 00:00:00", ""],
        ["r4", "u1", "p", "4.5", "half star", "2019-10-01 00:00:00", ""],
        ["r5", "u1", "p", "4.0", "", "2019-10-01 00:00:00", "s1"],
    ])
    labels = write_csv(tmp_path / "labels.csv", ["session_id", "is_anomaly", "anomaly_family"], [
        ["s1", "TRUE", "scraping"], ["s2", "0", ""], ["s3", "maybe", ""], ["", "1", ""],
    ])
    report = load(con, reviews=reviews, labels=labels)
    assert report.tables["raw_reviews"].rejected == {
        "rating not a whole number 1-5": 2, "missing user_id": 1,
    }
    assert rows(con, "select review_id, rating, review_text from raw_reviews order by 1") == [
        ("r1", 5, "great"), ("r5", 4, None),
    ]
    assert report.tables["raw_labels"].rejected == {
        "is_anomaly not true/false/1/0": 1, "missing user_session and session_id": 1,
    }
    assert rows(con, "select session_id, is_anomaly, extra->>'anomaly_family' from raw_labels "
                     "order by 1") == [("s1", True, "scraping"), ("s2", False, None)]


def test_malformed_csv_lines_are_rejected_and_rows_keep_their_numbers(con, tmp_path):
    path = tmp_path / "events.csv"
    good = ",".join(event())
    path.write_text("\n".join([",".join(EVENT_HEADER), good, good + ",extra", good,
                               ",".join(event()[:5]), good]) + "\n")
    report = load(con, events=path).tables["raw_events"]
    assert report.loaded == 3
    assert report.rejected == {
        "malformed csv line: too many columns": 1, "malformed csv line: missing columns": 1,
    }
    assert rows(con, "select source_row from raw_events order by 1") == [(1,), (3,), (5,)]
    bad = rows(con, "select source_row, extra->>'csv_line' from rejected_events order by 1")
    assert bad == [(2, good + ",extra"), (4, ",".join(event()[:5]))]


def test_every_row_of_a_file_is_accounted_for(con, tmp_path):
    data = [event(user="" if i % 7 == 0 else f"u{i}", etype="VIEW" if i % 3 else "bogus")
            for i in range(200)]
    path = write_csv(tmp_path / "events.csv", EVENT_HEADER, data)
    report = load(con, events=path).tables["raw_events"]
    assert report.loaded + report.rejected_total == 200
    n_raw = rows(con, "select count(*) from raw_events")[0][0]
    n_rejected = rows(con, "select count(*) from rejected_events")[0][0]
    assert (n_raw, n_rejected) == (report.loaded, report.rejected_total)


def test_loading_the_same_file_again_replaces_its_rows(con, tmp_path):
    path = write_csv(tmp_path / "events.csv", EVENT_HEADER, [event(), event(user="")])
    other = write_csv(tmp_path / "other.csv", EVENT_HEADER, [event(user="u9")])
    load(con, events=[path, other])
    write_csv(path, EVENT_HEADER, [event(user="u2"), event(user="u3"), event(user="")])
    report = load(con, events=str(path)).tables["raw_events"]
    assert report.replaced == 2  # the first load of path: 1 raw row and 1 rejected row
    assert rows(con, "select user_id from raw_events order by 1") == [("u2",), ("u3",), ("u9",)]
    assert rows(con, "select count(*) from rejected_events")[0][0] == 1
    load(con, events=path)
    assert rows(con, "select count(*) from raw_events")[0][0] == 3


def test_a_failed_load_leaves_nothing_behind(con, tmp_path, monkeypatch):
    events = write_csv(tmp_path / "events.csv", EVENT_HEADER, [event(user="first")])
    load(con, events=events)
    write_csv(events, EVENT_HEADER, [event(user="second")])
    reviews = write_csv(tmp_path / "reviews.csv", REVIEW_HEADER,
                        [["r1", "u1", "p", "5", "ok", "2019-10-01", ""]])
    real = loader._Loader.load_table

    def fail_on_reviews(self, spec, sources):
        if spec.name == "raw_reviews":
            raise RuntimeError("disk full")
        return real(self, spec, sources)

    monkeypatch.setattr(loader._Loader, "load_table", fail_on_reviews)
    with pytest.raises(RuntimeError, match="disk full"):
        load(con, events=events, reviews=reviews)
    assert rows(con, "select user_id from raw_events") == [("first",)]
    assert rows(con, "select count(*) from raw_reviews")[0][0] == 0
    leftovers = rows(con, "select table_name from information_schema.tables "
                          "where table_name like '_duckbert_load%'")
    assert leftovers == []


def test_every_load_creates_all_raw_and_rejected_tables(con, tmp_path):
    load(con, events=write_csv(tmp_path / "events.csv", EVENT_HEADER, [event()]))
    names = {r[0] for r in rows(con, "select table_name from information_schema.tables")}
    assert {"raw_events", "raw_reviews", "raw_labels", "rejected_events", "rejected_reviews",
            "rejected_labels"} <= names
    assert not [n for n in names if n.startswith("_duckbert_load")]  # temp tables dropped


def test_synonyms_and_case_map_to_the_canonical_types(con, tmp_path):
    spellings = [*EVENT_TYPES, *EVENT_TYPE_SYNONYMS, "VIEW", "Remove From Cart", "add-to-cart"]
    path = write_csv(tmp_path / "events.csv", EVENT_HEADER, [event(etype=s) for s in spellings])
    report = load(con, events=path).tables["raw_events"]
    assert report.loaded == len(spellings) and not report.rejected


def test_report_lists_counts_per_table_and_reason(con, tmp_path):
    path = write_csv(tmp_path / "events.csv", EVENT_HEADER, [event(), event(user="")])
    text = str(load(con, events=path))
    assert "raw_events: 1 row loaded from 1 file" in text
    assert "rejected_events: 1 row" in text and "missing user_id: 1" in text


def test_nothing_to_load_is_an_error(con):
    with pytest.raises(LoadError, match="nothing to load"):
        load(con)
