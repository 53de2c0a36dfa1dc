"""Bad input to the SQL functions, on a real connection with the real tiny model: strange,
huge and hostile texts score in [0, 1] without a crash and without changing the row count;
wrong argument types are DuckDB binder errors; unknown models are named with the known ones."""

from __future__ import annotations

import datetime as dt
import json
import math

import duckdb
import pyarrow as pa
import pytest

import udf
from udf.artifact import read_meta
from udf.registry import record_run
from udf.scorer import Scorer, get_scorer

pytestmark = pytest.mark.xdist_group("sql_inputs")

MEGABYTE = 1 << 20
HOSTILE = {
    "null": None,
    "empty": "",
    "space": " ",
    "whitespace": " \t\n\r\u00a0\u2003\u3000 ",
    "1 MB of events": ("view phone samsung mid | " * (MEGABYTE // 25 + 1))[:MEGABYTE],
    "1 MB one word": "x" * MEGABYTE,
    "1 MB of separators": (" | " * (MEGABYTE // 3 + 1))[:MEGABYTE],
    "emoji": "🛒🛒🛒 view 📱 | 💳 purchase 🔥🔥 | 👨‍👩‍👧‍👦 review 5 👍🏽",
    "mixed scripts": "просмотр 手机 | شراء هاتف | खरीद | 구매 | ซื้อ | Ελληνικά ñandú",
    "right-to-left override": "\u202eview phone | \u202dcart \u200f\u200e",
    "zero width": "vi\u200bew\u200c ph\u200done\ufeff | \u2060cart",
    "combining marks": "v\u0301\u0302\u0303i\u0308e\u0327w" * 50,
    "control chars": "view\x01\x02\x03 | \x07cart\x08 | \x1b[31mpurchase\x1b[0m | \x7f\x1f",
    "nul byte": "view\x00phone | cart\x00",
    "sql": "'; drop table hostile; -- | \" or 1=1 -- | select anomaly_score(t) from hostile",
    "json": '{"score": 1, "flagged": true} | [1, 2, 3] | {"$ne": null}',
    "special tokens": "[CLS] [SEP] [PAD] [MASK] [UNK] | <s> </s> <pad> | [CLS][CLS][SEP]",
    "format string": "%s %d %n {0} {text} ${HOME} $(touch /tmp/pwned) `id`",
    "only separators": " | | | | ",
    "header only": "12m 40 events 40 view 3.3/min",
    "surrogate-free astral": "\U0001f600\U00010348\U0002a6d6" * 100,
}


@pytest.fixture
def scored(con, tiny_model):
    udf.register(con, model=str(tiny_model))
    return con


def hostile_table(con) -> list[str | None]:
    names = sorted(HOSTILE)
    texts = [HOSTILE[n] for n in names]
    con.register("_h", pa.table({"i": pa.array(range(len(texts)), pa.int32()),
                                 "name": names, "t": pa.array(texts, pa.string())}))
    try:
        con.execute("create or replace table hostile as select * from _h")
    finally:
        con.unregister("_h")
    return texts


def test_hostile_texts_score_in_the_unit_interval_and_keep_the_row_count(scored, tiny_model):
    texts = hostile_table(scored)
    before = scored.execute("select * from hostile order by i").fetchall()
    # explain() scores each text once per occluded group: keep it to the smaller texts, plus
    # one 1 MB text (a single word: 11 variants of 1 MB of separators would take seconds)
    rows = scored.execute(
        "select i, name, anomaly_score(t), anomaly_score(t, ?), anomaly_flag(t), "
        "case when length(t) < 65536 or name = '1 MB one word' then anomaly_explain(t) end "
        "from hostile order by i", [str(tiny_model)]).fetchall()
    assert len(rows) == len(texts)
    threshold = read_meta(tiny_model)["threshold"]
    for (_, name, score, named, flag, explanation), text in zip(rows, texts, strict=True):
        if text is None:
            assert (score, named, flag, explanation) == (None, None, None, None), name
            continue
        assert math.isfinite(score) and 0.0 <= score <= 1.0, name
        assert named == score, name
        assert flag == (score >= threshold), name
        if len(text) < 65536 or name == "1 MB one word":
            parsed = json.loads(explanation)
            assert parsed["score"] == round(score, 4), name
            assert parsed["method"] == "occlusion", name
    # the hostile SQL text was data: the table it names is intact
    assert scored.execute("select * from hostile order by i").fetchall() == before
    # each small text scores the same alone, without cache, as in that batch
    reference = Scorer(tiny_model, precision=get_scorer(tiny_model).variant, cache_size=0)
    small = [(r[2], t) for r, t in zip(rows, texts, strict=True)
             if t is not None and len(t) < 65536]
    assert [s for s, _ in small] == [reference.score([t])[0] for _, t in small]


def test_filters_and_aggregates_over_scores_keep_row_counts(scored):
    hostile_table(scored)
    n = len(HOSTILE)
    assert scored.execute("select count(*) from (select anomaly_score(t) from hostile)"
                          ).fetchall() == [(n,)]
    assert scored.execute("select count(*) from hostile where anomaly_score(t) > 2"
                          ).fetchall() == [(0,)]
    assert scored.execute("select count(*) from hostile where anomaly_score(t) is null"
                          ).fetchall() == [(1,)]
    assert scored.execute("select count(*) from hostile h1 join hostile h2 "
                          "on anomaly_score(h1.t) = anomaly_score(h2.t)").fetchall()[0][0] >= n - 1


def test_a_hundred_thousand_duplicates_run_one_forward_pass(con, tiny_model):
    udf.register(con, model=str(tiny_model))
    con.execute("set threads = 4")
    text = "dedup probe | view phone samsung mid | 2s cart same | 10s purchase same"
    con.execute("create table dups as select ? as t, range as i from range(100000)", [text])
    scorer = get_scorer(tiny_model)
    forward, rows_scored = scorer.forward_rows, scorer.rows_scored
    rows = con.execute("select count(*), count(distinct s), min(s) from "
                       "(select anomaly_score(t) as s from dups)").fetchall()
    assert rows[0][:2] == (100000, 1)
    assert scorer.forward_rows - forward == 1, "the forward pass saw the text more than once"
    assert scorer.rows_scored - rows_scored == 100000
    assert rows[0][2] == Scorer(tiny_model, precision=scorer.variant,
                                cache_size=0).score([text])[0]


WRONG_TYPES = [
    "select anomaly_score(42)",
    "select anomaly_score(1.5)",
    "select anomaly_score(true)",
    "select anomaly_score(date '2026-01-01')",
    "select anomaly_score(x'00ff'::blob)",
    "select anomaly_score(['view', 'cart'])",
    "select anomaly_score({'text': 'view'})",
    "select anomaly_score(null::integer)",
    "select anomaly_score('view', 42)",
    "select anomaly_score(42, 'tiny')",
    "select anomaly_score('a', 'b', 'c')",
    "select anomaly_score()",
    "select anomaly_flag(42)",
    "select anomaly_explain(true)",
    "select anomaly_threshold(1)",
    "select anomaly_model('x')",
]


@pytest.mark.parametrize("sql", WRONG_TYPES)
def test_wrong_argument_types_are_binder_errors(scored, sql):
    with pytest.raises(duckdb.BinderException) as err:
        scored.execute(sql).fetchall()
    message = str(err.value)
    assert "Traceback" not in message and "Python exception" not in message
    assert "anomaly_" in message  # names the function and (for types) its signature


@pytest.fixture
def catalogued(con, tiny_model, tiny_bert, tmp_path):
    """A warehouse that knows two models, 'tiny' (current) and 'other'."""
    from tests.helpers.models import build_tiny_artifact

    other = build_tiny_artifact(tiny_bert, tmp_path / "other", name="other", seed=1)
    for artifact, current in ((other, False), (tiny_model, True)):
        meta = read_meta(artifact)
        record_run(con, {
            "name": meta["name"], "version": meta["version"], "path": str(artifact),
            "created_at": dt.datetime.now(dt.timezone.utc),
            "training_mode": meta["training_mode"], "base_model": meta["base_model"],
            "threshold": meta["threshold"], "status": "superseded",
        }, make_current=current)
    udf.register(con)
    con.execute("create table victims as select 1 as x")
    return con


@pytest.mark.parametrize("name", [
    "nope", "x'); drop table victims; --", "../../../../etc/passwd", "/", "tiny@", "@",
    "tiny@not-a-version", " tiny", "TINY", "\x00", "💥",
])
def test_unknown_model_names_list_the_known_ones(catalogued, name):
    with pytest.raises(duckdb.InvalidInputException) as err:
        catalogued.execute("select anomaly_score('view phone', ?)", [name]).fetchall()
    message = str(err.value)
    assert "unknown duckbert model" in message and "known models: other, tiny" in message
    assert catalogued.execute("select * from victims").fetchall() == [(1,)]


def test_a_model_column_mixing_known_unknown_and_null_names(catalogued):
    rows = catalogued.execute(
        "select anomaly_score('view phone', m) from (values ('tiny'), (null), ('other')) v(m)"
    ).fetchall()
    assert rows[1] == (None,) and all(0 <= r[0] <= 1 for r in (rows[0], rows[2]))
    with pytest.raises(duckdb.InvalidInputException, match="unknown duckbert model 'nope'"):
        catalogued.execute("select anomaly_score('view phone', m) from "
                           "(values ('tiny'), ('nope')) v(m)").fetchall()


def test_registering_an_unknown_model_lists_the_known_ones(catalogued):
    with pytest.raises(LookupError, match=r"unknown duckbert model 'nope'; known models: "
                                          r"other, tiny"):
        udf.register(catalogued, model="nope")
    # the connection keeps its earlier binding
    assert json.loads(catalogued.execute("select anomaly_model()").fetchall()[0][0])["name"] \
        == "tiny"


def test_a_column_of_nulls_needs_no_model(con):
    udf.register(con)  # no model anywhere
    assert con.execute("select count(anomaly_score(null::varchar)) from range(5000)"
                       ).fetchall() == [(0,)]
    with pytest.raises(duckdb.InvalidInputException, match="no duckbert model"):
        con.execute("select anomaly_score('view phone')").fetchall()
