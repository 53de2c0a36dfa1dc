"""Files as real REES46-schema exports come: CRLF line ends, a UTF-8 byte-order mark, a
truncated last line (also one cut inside a quoted review), quoted newlines and quotes in
review text, 19-digit category ids, UUID sessions and times with a ' UTC' suffix. Each file
loads; every row is loaded or rejected, counted by reason (issue #15)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from duckbert.loader import load

EVENTS_HEADER = ("event_time,event_type,product_id,category_id,category_code,brand,price,"
                 "user_id,user_session")
REVIEWS_HEADER = "review_id,user_id,product_id,rating,review_text,created_at,user_session"


def session(i: int) -> str:
    return str(uuid.UUID(int=0x9E3779B97F4A7C15 * (i + 1) % 2**128))


def write(path, text: str):
    path.write_bytes(text.encode("utf-8"))
    return path


def events_file(tmp_path, cut_inside_a_field: bool = False):
    rows = [f"2019-10-01 00:00:{i:02d} UTC,{kind},{1004856 + i},2053013555631882655,"
            f"electronics.smartphone,samsung,{130.76 + i},{541312140 + i % 3},{session(i % 3)}"
            for i, kind in enumerate(["view", "view", "cart", "purchase", "view", "view"])]
    rows.append("2019-10-01 00:00:09 UTC,remove_from_cart,1004857,2232732093077520756,,,"
                "12.5,541312141,")  # no code, no brand, no session: all allowed
    rows.append("2019-10-01 00:00:10 UTC,view,1004858,2053013555631882655,electronics.tab")
    last = rows[-1]  # truncated mid-row, as a cut-off download ends
    body = "\ufeff" + EVENTS_HEADER + "\r\n" + "\r\n".join(rows[:-1]) + "\r\n" + last
    return write(tmp_path / "2019-Oct.csv", body), len(rows)


def reviews_file(tmp_path, cut_inside_quotes: bool):
    rows = [
        f'r1,541312140,1004856,5,"great phone\r\nsecond line, with a comma",'
        f"2019-10-01 00:00:05 UTC,{session(0)}",
        'r2,541312141,1004857,4,"he said ""fine""\nand left",2019-10-01 00:00:06 UTC,',
        "r3,541312142,1004858,9,out of range,2019-10-01 00:00:07 UTC,",
    ]
    tail = ('r4,541312140,1004859,3,"the export stopped in the mid\r\ndle of this'
            if cut_inside_quotes else "r4,541312140,1004859,3,fine,2019-10-01 00:00")
    body = "\ufeff" + REVIEWS_HEADER + "\r\n" + "\r\n".join(rows) + "\r\n" + tail
    return write(tmp_path / "reviews.csv", body)


@pytest.mark.parametrize("cut_inside_quotes", [False, True])
def test_a_real_export_loads_with_rejections_counted_by_reason(con, tmp_path,
                                                             cut_inside_quotes):
    events, n_events = events_file(tmp_path)
    reviews = reviews_file(tmp_path, cut_inside_quotes)
    labels = write(tmp_path / "labels.csv",
                   "\ufeffuser_session,is_anomaly\r\n" + f"{session(0)},true\r\n"
                   f"{session(1)},0\r\n{session(2)}")  # truncated: no value, no newline
    report = load(con, events=events, reviews=reviews, labels=labels)

    loaded = con.execute("select event_time, category_id, user_session, price, source_row "
                         "from raw_events order by source_row").fetchall()
    assert len(loaded) == n_events - 1
    assert loaded[0] == (dt.datetime(2019, 10, 1, 0, 0, 0), "2053013555631882655",
                         session(0), 130.76, 1)
    assert loaded[-1][1:3] == ("2232732093077520756", None)
    assert {r[2] for r in loaded} == {session(0), session(1), session(2), None}
    rejected = con.execute("select reason, source_row from rejected_events").fetchall()
    assert rejected == [("malformed csv line: missing columns", n_events)]

    texts = dict(con.execute("select review_id, review_text from raw_reviews").fetchall())
    assert texts["r1"] == "great phone\r\nsecond line, with a comma"
    assert texts["r2"] == 'he said "fine"\nand left'
    reasons = dict(con.execute("select source_row, reason from rejected_reviews").fetchall())
    assert reasons[3] == "rating not a whole number 1-5"
    if cut_inside_quotes:  # the unterminated quote is the only line lost
        assert reasons[4].startswith("malformed csv line")
        assert set(texts) == {"r1", "r2"}
    else:  # cut inside the time: the row lacks its last column
        assert reasons[4] == "malformed csv line: missing columns"
    assert len(texts) + len(reasons) == 4

    assert con.execute("select user_session, is_anomaly from raw_labels order by 1").fetchall() \
        == sorted([(session(0), True), (session(1), False)])
    assert con.execute("select reason, source_row from rejected_labels").fetchall() == [
        ("malformed csv line: missing columns", 3)]
    text = str(report)
    assert "malformed csv line: missing columns: 1" in text
    assert "rating not a whole number 1-5: 1" in text
