"""The real `dbt build` on a small hand-made data set: cleaning, sessionization, review joins,
labels, session text, and the incremental scoring marts with the tiny model.

One warehouse is built several times in order (module-scoped fixtures), as a user would:
before any model exists, with a model, again unchanged, after new data, with a new model.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import duckdb
import pytest

from duckbert.dbt_runner import dbt_build
from duckbert.loader import load
from tests.helpers.models import build_tiny_artifact
from udf.explain import SEPARATOR

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dbt_handmade")]

EVENT_HEADER = ["event_time", "event_type", "product_id", "category_id", "category_code",
                "brand", "price", "user_id", "user_session"]
PHONE = ["1001", "2053013555631882655", "electronics.smartphone", "samsung", "250.00"]
KETTLE = ["2002", "2053013555631882999", "appliances.kitchen.kettle", "bosch", "25"]

EVENTS = [
    # u1: a given user_session S1, one exact duplicate row, synonyms and mixed case
    ["2019-10-01 00:00:00 UTC", "view", *PHONE, "u1", "S1"],
    ["2019-10-01 00:00:20 UTC", "view", *PHONE, "u1", "S1"],
    ["2019-10-01 00:00:20 UTC", "view", *PHONE, "u1", "S1"],
    ["2019-10-01 00:01:20 UTC", "AddToCart", *PHONE, "u1", "S1"],
    ["2019-10-01T02:03:20+02:00", "transaction", *PHONE, "u1", "S1"],
    # u2: no user_session; 29 minutes keep the session, 31 start a new one
    ["2019-10-01 10:00:00 UTC", "VIEW", *KETTLE, "u2", ""],
    ["2019-10-01 10:29:00 UTC", "view", "2003", *KETTLE[1:], "u2", ""],
    ["2019-10-01 11:00:00 UTC", "cart", "2003", *KETTLE[1:], "u2", ""],
    # u3: empty brand and category code, a negative price
    ["2019-10-02 08:00:00 UTC", "view", "3001", "2053013555631880001", "", "", "-5", "u3", "S3"],
    ["2019-10-02 08:00:30 UTC", "purchase", "3001", "2053013555631880001", "", "", "12", "u3",
     "S3"],
    # unusable rows
    ["2019-10-02 09:00:00 UTC", "view", *PHONE, "", "S9"],
    ["not a time", "view", *PHONE, "u9", "S9"],
    ["2019-10-02 09:00:00 UTC", "teleport", *PHONE, "u9", "S9"],
]
REVIEWS = [
    ["review_id", "user_id", "product_id", "rating", "review_text", "created_at", "user_session"],
    ["r1", "u1", "1001", "5", "Great phone | fast delivery, love it", "2019-10-01 00:04:00 UTC",
     "S1"],
    ["r2", "u2", "2002", "4", "good kettle", "2019-10-01 10:33:00 UTC", ""],
    ["r3", "u4", "4001", "1", "terrible, never again", "2019-10-03 12:00:00 UTC", ""],
    ["r4", "u4", "4002", "7", "a rating out of range", "2019-10-03 12:00:00 UTC", ""],
]
LABELS = [
    ["user_session", "is_anomaly", "label_source", "labelled_at", "anomaly_family"],
    ["S1", "true", "analyst", "2019-10-05 00:00:00", "scraping"],
    ["S3", "0", "analyst", "2019-10-05 00:00:00", ""],
]
NEW_EVENTS = [
    ["2019-10-02 08:01:00 UTC", "view", "3001", "2053013555631880001", "", "", "12", "u3", "S3"],
    ["2019-10-04 08:00:00 UTC", "view", *KETTLE, "u5", "S5"],
]


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    path.write_text(buf.getvalue())
    return path


def query(db: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


class Warehouse:
    """A warehouse file and how to build it with dbt (own target/log folders, quiet)."""

    def __init__(self, root: Path):
        self.root = root
        self.db = root / "warehouse.duckdb"

    def load(self, **files) -> None:
        con = duckdb.connect(str(self.db))
        try:
            load(con, **files)
        finally:
            con.close()

    def build(self, model: Path | None = None, **options) -> None:
        result = dbt_build(
            self.db, out=None, env={"DUCKBERT_MODEL": str(model) if model else ""},
            target_path=self.root / "target", log_path=self.root / "logs", **options,
        )
        assert result.ok, "\n".join(result.tail)

    def q(self, sql: str) -> list[tuple]:
        return query(self.db, sql)

    def scores(self) -> dict[str, tuple]:
        rows = self.q("select session_id, anomaly_score, model_version, scored_at, text_hash "
                      "from session_scores")
        return {r[0]: r[1:] for r in rows}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Warehouse:
    """Loaded and built once with no model: what a first `duckbert build` sees."""
    wh = Warehouse(tmp_path_factory.mktemp("handmade"))
    wh.load(events=write_csv(wh.root / "events.csv", [EVENT_HEADER, *EVENTS]),
            reviews=write_csv(wh.root / "reviews.csv", REVIEWS),
            labels=write_csv(wh.root / "labels.csv", LABELS))
    wh.build()
    wh.first_ids = wh.q("select event_id, session_id from int_sessions_events order by 1")
    return wh


@pytest.fixture(scope="module")
def tiny_model(warehouse, tiny_bert, tmp_path_factory) -> Path:
    """The tiny random model with its threshold at the median score of these few sessions,
    so that some of them are flagged and some are not whatever the random weights."""
    import statistics

    from udf.scorer import Scorer

    root = tmp_path_factory.mktemp("handmade-model")
    probe = build_tiny_artifact(tiny_bert, root / "probe")
    texts = [r[0] for r in warehouse.q("select session_text from sessions")]
    median = statistics.median(Scorer(probe, device="cpu").score(texts))
    return build_tiny_artifact(tiny_bert, root / "tiny", threshold=round(median, 6))


@pytest.fixture(scope="module")
def scored(warehouse, tiny_model) -> Warehouse:
    """The same warehouse with the tiny model: the scoring marts (and their tests) again."""
    warehouse.build(model=tiny_model, select=["session_scores+"])
    return warehouse


def sessions_of(wh: Warehouse, user: str) -> list[tuple]:
    return wh.q(f"select session_id, session_source, n_events, n_reviews, session_start "
                f"from sessions where user_id = '{user}' order by session_start")


def test_rejected_rows_are_kept_with_their_reasons(warehouse):
    assert warehouse.q("select reason, count(*) from rejected_events group by 1 order by 1") == [
        ("missing user_id", 1), ("unknown event_type", 1), ("unparseable event_time", 1),
    ]
    assert warehouse.q("select reason, source_row from rejected_reviews") == [
        ("rating not a whole number 1-5", 4)
    ]


def test_staging_cleans_types_duplicates_and_prices(warehouse):
    assert warehouse.q("select count(*) from raw_events") == [(10,)]
    assert warehouse.q("select count(*) from stg_events") == [(9,)]  # one exact duplicate
    types = warehouse.q("select event_type, count(*) from stg_events group by 1 order by 1")
    assert types == [("cart", 2), ("purchase", 2), ("view", 5)]
    u3 = warehouse.q("select brand, category_code, price, is_price_nulled from stg_events "
                     "where user_id = 'u3' order by event_time")
    assert u3 == [("unknown", "unknown", None, True), ("unknown", "unknown", 12.0, False)]
    times = warehouse.q("select max(event_time) from stg_events where user_id = 'u1'")
    assert str(times[0][0]) == "2019-10-01 00:03:20"  # +02:00 converted to UTC


def test_given_user_sessions_are_the_session_ids(warehouse):
    assert sessions_of(warehouse, "u1")[0][:4] == ("S1", "user_session", 4, 1)
    assert sessions_of(warehouse, "u3")[0][:4] == ("S3", "user_session", 2, 0)


def test_without_user_session_the_gap_rule_splits_sessions(warehouse):
    u2 = sessions_of(warehouse, "u2")
    assert [(r[1], r[2]) for r in u2] == [("gap", 2), ("gap", 1)]
    assert all(len(r[0]) == 32 for r in u2)  # md5 ids


def test_reviews_join_by_user_session_by_time_or_form_their_own_session(warehouse):
    joins = dict(warehouse.q("select review_id, review_join from int_sessions_reviews"))
    assert joins == {"r1": "user_session", "r2": "time", "r3": "own_session"}
    u2_first = sessions_of(warehouse, "u2")[0]
    assert u2_first[3] == 1  # r2 at 10:33 is within the slack of the 10:00-10:29 session
    assert sessions_of(warehouse, "u4")[0][1:4] == ("reviews", 0, 1)
    verified = dict(warehouse.q("select review_id, is_verified_purchase from int_sessions_reviews"))
    assert verified == {"r1": True, "r2": False, "r3": False}


def test_sessions_have_one_row_each_and_a_session_text(warehouse):
    assert warehouse.q("select count(*), count(distinct session_id) from sessions") == [(5, 5)]
    rows = warehouse.q("select session_id, session_text, text_format, n_text_segments "
                       "from sessions")
    for session_id, text, text_format, n_segments in rows:
        assert text_format == "st2"
        parts = text.split(" || ")[0].split(SEPARATOR)
        assert len(parts) == n_segments and all(p and "|" not in p for p in parts), session_id
    s1 = dict((r[0], r[1]) for r in rows)["S1"]
    assert s1.split(SEPARATOR)[0].startswith("4m 4 events 2 view 1 cart 1 purchase 1 review")
    # st2: the review's segment in the timeline, its words whole after " || "
    assert s1.endswith("review 5 verified || review 5 verified great phone fast delivery, "
                       "love it")


def test_training_sessions_carry_labels_where_there_are_some(warehouse):
    rows = warehouse.q("select session_id, is_anomaly, label_source, anomaly_family "
                       "from training_sessions order by session_id")
    labelled = {r[0]: r[1:] for r in rows if r[1] is not None}
    assert labelled == {"S1": (True, "analyst", "scraping"), "S3": (False, "analyst", None)}
    assert len(rows) == 5


def test_scoring_marts_build_empty_before_any_model(warehouse):
    for table in ("session_scores", "flagged_sessions", "flagged_users"):
        assert warehouse.q(f"select count(*) from {table}") == [(0,)]
    columns = [r[0] for r in warehouse.q("describe session_scores")]
    assert columns[:6] == ["session_id", "user_id", "text_hash", "anomaly_score",
                           "model_version", "is_flagged"]
    assert "top_reasons" in [r[0] for r in warehouse.q("describe flagged_sessions")]


def test_every_session_is_scored_with_the_current_model(scored, tiny_model):
    version = json.loads((tiny_model / "duckbert.json").read_text())["version"]
    rows = scored.q("select s.session_id, c.anomaly_score, c.model_version, "
                    "c.text_hash = md5(s.session_text) from sessions s "
                    "left join session_scores c using (session_id)")
    assert len(rows) == 5
    assert all(0.0 <= r[1] <= 1.0 and r[2] == version and r[3] for r in rows)


def test_flagged_marts_agree_with_the_threshold(scored, tiny_model):
    threshold = json.loads((tiny_model / "duckbert.json").read_text())["threshold"]
    over = {r[0] for r in scored.q(f"select session_id from session_scores "
                                   f"where anomaly_score >= {threshold}")}
    flagged = scored.q("select session_id, threshold, explanation, top_reasons "
                       "from flagged_sessions")
    assert {r[0] for r in flagged} == over and over
    for _, mart_threshold, explanation, top_reasons in flagged:
        assert mart_threshold == threshold
        tops = json.loads(explanation)["top_events"]
        assert all(t["reason"] for t in tops), "every top event is told in plain words"
        assert top_reasons == "; ".join(
            f"{t['reason']} (+{t['delta']:.3f})"
            for t in sorted(tops, key=lambda t: (-t["delta"], t["position"]))
        )
    users = scored.q("select user_id, sessions_flagged, sessions_total from flagged_users")
    expected = scored.q("select f.user_id, count(*), any_value(t.n) from flagged_sessions f "
                        "join (select user_id, count(*) n from sessions group by 1) t "
                        "using (user_id) group by 1")
    assert sorted(users) == sorted(expected)


def test_a_rerun_scores_nothing_new(scored, tiny_model):
    before = scored.scores()
    scored.build(model=tiny_model, select=["session_scores+"], exclude=["test_type:data"])
    assert scored.scores() == before


def test_new_or_changed_sessions_are_rescored_and_only_they(scored, tiny_model):
    before = scored.scores()
    scored.load(events=write_csv(scored.root / "more_events.csv", [EVENT_HEADER, *NEW_EVENTS]))
    scored.build(model=tiny_model, exclude=["test_type:data"])  # tested by the first build
    after = scored.scores()
    changed = {sid for sid in after if after[sid] != before.get(sid)}
    assert changed == {"S3", "S5"}
    assert after["S3"][3] != before["S3"][3]  # its text (and so its hash) changed


def test_ids_are_the_same_on_every_build(scored):
    # after the full rebuild with more data above, every earlier event keeps its session id
    now = scored.q("select event_id, session_id from int_sessions_events order by 1")
    assert len(scored.first_ids) == 9 and set(scored.first_ids) <= set(now)
    assert len(now) == 11


def test_a_new_model_version_rescores_everything(scored, tiny_bert, tmp_path_factory):
    other = build_tiny_artifact(tiny_bert, tmp_path_factory.mktemp("artifacts") / "v2", seed=1)
    version = json.loads((other / "duckbert.json").read_text())["version"]
    before = scored.scores()
    scored.build(model=other, select=["session_scores+"], exclude=["test_type:data"])
    after = scored.scores()
    assert set(after) == set(before)
    assert {v[1] for v in after.values()} == {version}
    assert all(after[s][2] != before[s][2] for s in after)
    assert {r[0] for r in scored.q("select distinct model_version from flagged_sessions")} <= {
        version
    }


def test_scoring_reports_progress_in_the_dbt_log_and_on_the_terminal(scored, tiny_model):
    import io

    out = io.StringIO()
    result = dbt_build(
        scored.db, out=out, select=["session_scores"], full_refresh=True,
        env={"DUCKBERT_MODEL": str(tiny_model), "DUCKBERT_PROGRESS_SECONDS": "0",
             "DUCKBERT_SCORE_STORE": "0"},
        target_path=scored.root / "target", log_path=scored.root / "progress-logs",
    )
    assert result.ok, "\n".join(result.tail)
    n = scored.q("select count(*) from sessions")[0][0]
    lines = [line for line in out.getvalue().splitlines() if "duckbert: scor" in line]
    assert lines, out.getvalue()[-2000:]
    assert any(f"/{n} rows" in line and "rows/s" in line and "s left" in line
               for line in lines), lines
    assert "duckbert: scor" in (scored.root / "progress-logs" / "dbt.log").read_text()
