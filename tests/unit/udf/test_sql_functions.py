"""The SQL surface on a real DuckDB connection with a real tiny BERT (nothing mocked)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import duckdb
import pytest

import udf
from tests.helpers.models import build_tiny_artifact
from tests.helpers.samples import session_texts, text_table
from udf.artifact import read_meta
from udf.registry import record_run
from udf.scorer import Scorer, clear_scorers, get_scorer
from udf.sql_functions import create_macros

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread(one_torch_thread):
    """Every test here runs with one torch thread (tests/conftest.py)."""


@pytest.fixture(autouse=True)
def _no_env_model(monkeypatch):
    monkeypatch.delenv("DUCKBERT_MODEL", raising=False)
    monkeypatch.delenv("DUCKBERT_PRECISION", raising=False)


@pytest.fixture(scope="module")
def other_model(tiny_bert, tmp_path_factory) -> Path:
    """A second artifact ('other': other head weights, threshold 0.8)."""
    return build_tiny_artifact(tiny_bert, tmp_path_factory.mktemp("other") / "other",
                               name="other", seed=1, threshold=0.8)


@pytest.fixture
def scored(con, tiny_model):
    """`con` with the functions registered on the tiny model."""
    udf.register(con, model=str(tiny_model))
    return con


def record(con, artifact: Path, current: bool = True) -> dict:
    """Record `artifact` in duckbert_models as training would."""
    meta = read_meta(artifact)
    record_run(con, {
        "name": meta["name"], "version": meta["version"], "path": str(artifact),
        "created_at": dt.datetime.now(dt.timezone.utc), "training_mode": meta["training_mode"],
        "base_model": meta["base_model"], "threshold": meta["threshold"],
    }, make_current=current)
    return meta


def column(con, sql: str, params=None) -> list:
    return [row[0] for row in con.execute(sql, params or []).fetchall()]




def reference_scores(model: Path, texts: list) -> list:
    """Scores from a fresh Scorer at the precision the SQL path uses, cache off."""
    precision = get_scorer(model).variant
    return Scorer(model, precision=precision, cache_size=0).score(texts)


# -- values -------------------------------------------------------------------------------


def test_nulls_and_empty_strings(scored, tiny_model):
    texts = [None, "", "session u1 | view phone", None, "   ", "session u2 | cart phone", None]
    text_table(scored, "s", texts)
    scores = column(scored, "select anomaly_score(t) from s order by i")
    assert len(scores) == len(texts)
    assert [s is None for s in scores] == [t is None for t in texts]
    assert all(0.0 <= s <= 1.0 for s in scores if s is not None)
    assert scores == reference_scores(tiny_model, texts)
    assert column(scored, "select anomaly_score(null)") == [None]
    assert column(scored, "select anomaly_flag(null), anomaly_explain(null)") == [None]
    assert column(scored, "select count(anomaly_score(null::varchar)) from range(5000)") == [0]


def test_ten_thousand_rows_in_one_query_keep_count_and_order(scored, tiny_model):
    distinct = session_texts(1000, seed=21, max_events=5)
    texts = [None if i % 97 == 0 else distinct[(i * 7919) % 1000] for i in range(10_000)]
    text_table(scored, "big", texts)
    rows = scored.execute("select i, anomaly_score(t) from big order by i").fetchall()
    assert [i for i, _ in rows] == list(range(10_000))
    scores = [s for _, s in rows]
    assert scores == reference_scores(tiny_model, texts)
    assert all(0.0 <= s <= 1.0 for s in scores if s is not None)
    assert sum(s is None for s in scores) == len(range(0, 10_000, 97))
    in_table_order = column(scored, "select anomaly_score(t) from big")  # no order by
    assert in_table_order == scores
    assert column(scored, "select count(*) from (select anomaly_score(t) from big)") == [10_000]


def test_duplicates_are_scored_once_and_then_cached(con, tiny_model):
    clear_scorers()
    try:
        udf.register(con, model=str(tiny_model))
        distinct = session_texts(25, seed=4)
        text_table(con, "dups", [distinct[i % 25] for i in range(3000)])
        first = column(con, "select anomaly_score(t) from dups order by i")
        scorer = get_scorer(tiny_model)
        assert scorer.forward_rows == 25
        hits = scorer.cache.hits
        second = column(con, "select anomaly_score(t) from dups order by i")
        assert second == first and first == [first[i % 25] for i in range(3000)]
        assert scorer.forward_rows == 25
        assert scorer.cache.hits >= hits + 25
    finally:
        clear_scorers()


# -- which model ----------------------------------------------------------------------------


def test_two_argument_form_by_name_version_and_path(con, tiny_model, other_model):
    other = record(con, other_model)
    tiny = record(con, tiny_model)  # current; 'other' becomes superseded but stays known
    udf.register(con)
    texts = session_texts(12, seed=8)
    text_table(con, "s", texts)
    expected_other = get_scorer(other_model).score(texts)
    expected_tiny = get_scorer(tiny_model).score(texts)
    assert expected_other != expected_tiny
    assert column(con, "select anomaly_score(t) from s order by i") == expected_tiny
    for name in ("other", f"other@{other['version']}", other["version"], str(other_model)):
        got = column(con, "select anomaly_score(t, ?) from s order by i", [name])
        assert got == expected_other, name
    assert column(con, "select anomaly_score(t, 'tiny') from s order by i") == expected_tiny
    mixed = column(con, "select anomaly_score(t, case when i % 2 = 0 then 'tiny' "
                        f"else '{tiny['version']}' end) from s order by i")
    assert mixed == expected_tiny
    per_row = column(con, "select anomaly_score(t, case when i % 3 = 0 then 'other' "
                          "else 'tiny' end) from s order by i")
    assert per_row == [expected_other[i] if i % 3 == 0 else expected_tiny[i]
                       for i in range(len(texts))]
    assert column(con, "select anomaly_score(t, null) from s") == [None] * len(texts)
    assert column(con, "select anomaly_score(null, 'nope')") == [None]


def test_unknown_model_name_lists_the_known_ones(con, tiny_model, other_model):
    record(con, other_model)
    record(con, tiny_model)
    udf.register(con)
    with pytest.raises(duckdb.Error, match=r"unknown duckbert model 'nope'; known models: "
                                           r"other, tiny"):
        con.execute("select anomaly_score('view phone', 'nope')").fetchall()
    with pytest.raises(LookupError, match="unknown duckbert model 'nope'"):
        udf.register(con, model="nope")


def test_unknown_model_in_an_empty_warehouse_says_how_to_train(scored):
    with pytest.raises(duckdb.Error, match=r"known models: none \(train one with `duckbert "
                                           r"train`\)"):
        scored.execute("select anomaly_score('view phone', 'nope')").fetchall()


def test_no_model_configured_is_a_clear_error(con):
    binding = udf.register(con)
    assert binding.source == "none"
    for sql in ("select anomaly_score('view phone')", "select anomaly_flag('view phone')",
                "select anomaly_explain('view phone')", "select anomaly_threshold()",
                "select anomaly_model()"):
        with pytest.raises(duckdb.Error, match=r"no duckbert model: train one with `duckbert "
                                               r"train --db PATH`.*DUCKBERT_MODEL"):
            con.execute(sql).fetchall()
    assert column(con, "select anomaly_score(null)") == [None]  # NULL needs no model


def test_duckbert_model_env_is_the_fallback(con, tiny_model, monkeypatch):
    monkeypatch.setenv("DUCKBERT_MODEL", str(tiny_model))
    assert udf.register(con).source == "DUCKBERT_MODEL"
    assert json.loads(column(con, "select anomaly_model()")[0])["name"] == "tiny"
    monkeypatch.setenv("DUCKBERT_MODEL", str(tiny_model.parent / "missing"))
    with pytest.raises(LookupError, match="unknown duckbert model"):
        udf.register(con)


def test_warehouse_current_model_beats_env_and_argument_beats_both(con, tiny_model,
                                                                   other_model, monkeypatch):
    monkeypatch.setenv("DUCKBERT_MODEL", str(other_model))
    record(con, tiny_model)
    binding = udf.register(con)
    assert binding.source == "warehouse" and Path(binding.default) == tiny_model
    assert json.loads(column(con, "select anomaly_model()")[0])["name"] == "tiny"
    assert udf.register(con, model=str(other_model)).source == "argument"
    assert json.loads(column(con, "select anomaly_model()")[0])["name"] == "other"


def test_a_new_current_model_is_picked_up_on_registering_again(con, tiny_model, other_model):
    record(con, tiny_model)
    udf.register(con)
    assert column(con, "select anomaly_threshold()") == [0.5]
    record(con, other_model)  # training made 'other' current
    assert column(con, "select anomaly_threshold()") == [0.5]  # bound at registration
    udf.register(con)
    assert column(con, "select anomaly_threshold()") == [0.8]
    names = column(con, "select name from duckbert_models where is_current")
    assert names == ["other"]


def test_a_model_without_artifact_is_never_made_current(con, tmp_path):
    with pytest.raises(FileNotFoundError, match="refusing to mark"):
        record_run(con, {"name": "x", "version": "v", "path": str(tmp_path),
                         "created_at": dt.datetime.now(dt.timezone.utc)}, make_current=True)


# -- the other functions --------------------------------------------------------------------


def test_flag_is_score_against_the_model_threshold(con, other_model):
    udf.register(con, model=str(other_model))
    texts = [*session_texts(150, seed=9), None]
    text_table(con, "s", texts)
    assert column(con, "select anomaly_threshold()") == [0.8]
    rows = con.execute("select anomaly_score(t), anomaly_flag(t), anomaly_threshold() "
                       "from s order by i").fetchall()
    assert rows[-1][:2] == (None, None)
    flags = [flag for _, flag, _ in rows[:-1]]
    assert flags == [score >= 0.8 for score, _, _ in rows[:-1]]
    assert True in flags and False in flags


def test_model_info_json(scored, tiny_model):
    info = json.loads(column(scored, "select anomaly_model()")[0])
    meta = read_meta(tiny_model)
    serving = {k: info.pop(k) for k in ("serving", "serving_reason", "device",
                                         "serving_loaded", "decision_policy", "decisions")}
    served = info.pop("served")
    assert info == {
        "name": "tiny", "version": meta["version"], "base_model": "tiny-random-bert",
        "training_mode": "head", "text_format": "st2", "threshold": 0.5,
        "threshold_policy": "fixed (test fixture)", "path": str(tiny_model),
    }
    # what serves, and why: the fastest variant the decision check approved
    # (which one is fastest was measured when the fixture was built, so it varies with load)
    variant = serving["serving"]
    assert variant == get_scorer(tiny_model).variant
    assert serving["serving_reason"].startswith("fastest approved: flag agreement")
    assert serving["decision_policy"] == {"min_flag_agreement": 0.995, "max_pr_auc_delta": 0.005}
    assert serving["decisions"][variant]["approved"] is True
    faster = [name for name, f in serving["decisions"].items()
              if f.get("approved") and (f.get("rows_per_s") or 0)
              > serving["decisions"][variant]["rows_per_s"]]
    assert faster == []
    # written before the `served` block existed: derived from the mode and the head
    assert served["encoder"] == "frozen"
    assert served["lexical_term"] == (meta["head"]["lexical_size"] > 0)
    assert served["description"].startswith("frozen encoder, head: ")


def test_explain_json_shape(scored):
    text = ("session u7 4 events | view electronics.smartphone apple 999.99 | cart "
            "electronics.smartphone apple 999.99 | remove_from_cart apparel.shoes nike 89.99 | "
            "purchase unknown unknown 1.99")
    result = json.loads(column(scored, "select anomaly_explain(?)", [text])[0])
    assert set(result) == {"score", "threshold", "flagged", "model_version", "method",
                           "events_scored", "top_events"}
    assert result["method"] == "occlusion" and result["events_scored"] == 4
    score = column(scored, "select anomaly_score(?)", [text])[0]
    assert result["score"] == round(score, 4)
    assert result["flagged"] == (score >= result["threshold"])
    events = text.split(" | ")[1:]
    deltas = [e["delta"] for e in result["top_events"]]
    assert deltas == sorted(deltas, reverse=True) and all(d > 0 for d in deltas)
    for event in result["top_events"]:
        assert event["event"] == events[event["position"] - 1]
    plain = json.loads(column(scored, "select anomaly_explain('no separators here')")[0])
    assert plain["events_scored"] == 0 and plain["top_events"] == []


# -- registration ---------------------------------------------------------------------------


def test_registering_twice_is_harmless(scored, tiny_model):
    def count():
        return column(scored, "select count(*) from duckdb_functions() "
                              "where function_name like 'anomaly%'")[0]

    before = count()
    texts = session_texts(5)
    first = column(scored, "select anomaly_score(unnest(?))", [texts])
    udf.register(scored, model=str(tiny_model))
    udf.register(scored, model=str(tiny_model))
    assert count() == before
    assert column(scored, "select anomaly_score(unnest(?))", [texts]) == first


def test_cursors_see_the_functions_and_get_the_macro(scored, tiny_model):
    cursor = scored.cursor()
    try:
        base = column(cursor, "select anomaly_score_default('view phone')")
        assert column(cursor, "select anomaly_threshold()") == [0.5]
        create_macros(cursor)
        assert column(cursor, "select anomaly_score('view phone')") == base
        assert column(scored, "select anomaly_score('view phone')") == base
        udf.register(cursor, model=str(tiny_model))  # same instance: rebinds, makes macros
        assert column(cursor, "select anomaly_score('view phone')") == base
    finally:
        cursor.close()
    assert column(scored, "select anomaly_score('view phone')") == base


def test_registering_on_a_cursor_that_is_then_closed_does_not_crash(tiny_model):
    """DuckDB keeps a borrowed pointer to the Python function; the registering cursor owns
    it. This used to segfault once that cursor was closed (run apart, a crash must not take
    pytest down)."""
    script = textwrap.dedent(f"""
        import gc, duckdb, udf
        con = duckdb.connect()
        cursor = con.cursor()
        udf.register(cursor, model={str(tiny_model)!r})
        cursor.close()
        del cursor
        gc.collect()
        print(con.execute("select anomaly_threshold(), anomaly_score_default(null), "
                          "count(anomaly_score_default(null::varchar)) from range(3000)"
                          ).fetchall())
        other = con.cursor()
        udf.register(other, model={str(tiny_model)!r})
        print(other.execute("select anomaly_model() is not null").fetchall())
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["[(0.5,", "None,", "0)]", "[(True,)]"]


# -- concurrency ----------------------------------------------------------------------------


def test_two_threads_with_their_own_cursors(scored, tiny_model):
    texts = session_texts(400, seed=13, max_events=6)
    text_table(scored, "s", texts)
    expected = reference_scores(tiny_model, texts)
    get_scorer(tiny_model).cache.clear()
    results: dict[int, list] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def work(part: int):
        cursor = scored.cursor()
        try:
            create_macros(cursor)
            start.wait(timeout=30)
            results[part] = column(
                cursor, "select anomaly_score(t) from s where i % 2 = ? order by i", [part])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            cursor.close()

    threads = [threading.Thread(target=work, args=(part,)) for part in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "deadlock"
    assert not errors, errors
    assert results[0] == expected[0::2] and results[1] == expected[1::2]


def test_threads_1_and_8_give_identical_scores(scored, tiny_model, tmp_path):
    """DuckDB scans Parquet files in parallel: with threads=8 several UDF calls run at once
    and the Coalescer merges them into other batches than threads=1 sees (12 calls become a
    few jobs); the scores must not change by a single bit."""
    texts = session_texts(1200, seed=17, max_events=5)
    text_table(scored, "s", texts)
    parts = tmp_path / "parts"
    parts.mkdir()
    for k in range(12):
        scored.execute(f"copy (select * from s where i % 12 = {k}) "
                       f"to '{parts}/part-{k:02d}.parquet' (format parquet)")
    scorer = get_scorer(tiny_model)
    runs = {}
    for threads in (1, 8):
        scorer.cache.clear()  # score everything again, in this run's batches
        scored.execute(f"set threads = {threads}")
        rows = scored.execute(
            f"select i, anomaly_score(t) from read_parquet('{parts}/*.parquet')").fetchall()
        runs[threads] = [score for _, score in sorted(rows)]
    scored.execute("reset threads")
    assert len(runs[1]) == len(texts)
    assert runs[1] == runs[8]
    assert runs[1] == reference_scores(tiny_model, texts)


@pytest.mark.skipif("__import__('torch').cuda.is_available()", reason="a GPU is present")
def test_cuda_requested_without_gpu_fails_the_query_clearly(scored, monkeypatch):
    clear_scorers()
    monkeypatch.setenv("DUCKBERT_DEVICE", "cuda")
    try:
        with pytest.raises(duckdb.Error, match="'cuda' requested but torch sees no CUDA GPU"):
            scored.execute("select anomaly_score('view phone')").fetchall()
    finally:
        clear_scorers()
