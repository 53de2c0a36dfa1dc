"""Concurrency: DuckDB threads, Python threads on cursors of one connection, and concurrent
callers of one Scorer, against single-threaded references (scores must match bit for bit)."""

from __future__ import annotations

import json
import threading

import pytest

import udf
from tests.helpers.samples import session_texts, text_table
from udf.scorer import Scorer, clear_scorers, get_scorer
from udf.sql_functions import create_macros

pytestmark = pytest.mark.xdist_group("concurrency")

MIXED = [None, "", " ", "🛒 view | 💳 purchase", "x" * 20000, "'; drop table s; --",
         "view\x00phone | cart"]


def texts_for(n: int, seed: int) -> list:
    base = session_texts(n, seed=seed, max_events=8)
    return [MIXED[i % len(MIXED)] if i % 11 == 0 else base[(i * 7) % n] for i in range(n)]


@pytest.fixture
def scored(con, tiny_model):
    clear_scorers()
    udf.register(con, model=str(tiny_model))
    yield con
    clear_scorers()


def reference(model, texts):
    """Each text scored alone by a fresh Scorer without cache at the SQL path's precision."""
    precision = get_scorer(model).variant
    fresh = Scorer(model, precision=precision, cache_size=0)
    return [None if t is None else fresh.score([t])[0] for t in texts]


def test_set_threads_1_and_8_give_identical_scores(scored, tiny_model, tmp_path):
    texts = texts_for(540, seed=3)
    text_table(scored, "s", texts)
    parts = tmp_path / "parts"
    parts.mkdir()
    for k in range(9):
        scored.execute(f"copy (select * from s where i % 9 = {k}) "
                       f"to '{parts}/part-{k}.parquet' (format parquet)")
    runs = {}
    for threads in (1, 8, 1):
        clear_scorers()  # a new model load and an empty cache: every batch is recomputed
        scored.execute(f"set threads = {threads}")
        rows = scored.execute("select i, anomaly_score(t), anomaly_flag(t) from "
                              f"read_parquet('{parts}/*.parquet')").fetchall()
        assert len(rows) == len(texts)
        runs.setdefault(threads, []).append(sorted(rows))
    scored.execute("reset threads")
    assert runs[1][0] == runs[8][0] == runs[1][1]
    assert [r[1] for r in runs[1][0]] == reference(tiny_model, texts)


def test_four_python_threads_on_cursors_of_one_connection(scored, tiny_model):
    texts = texts_for(320, seed=5)
    text_table(scored, "s", texts)
    expected = reference(tiny_model, texts)
    threshold = get_scorer(tiny_model).threshold
    results: dict[tuple, list] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def work(part: int):
        cursor = scored.cursor()
        try:
            create_macros(cursor)
            start.wait(timeout=60)
            for round_ in range(2):
                rows = cursor.execute(
                    "select i, anomaly_score(t), anomaly_score(t, ?), anomaly_flag(t), "
                    "anomaly_threshold(), anomaly_model() from s where i % 4 = ? order by i",
                    [str(tiny_model), part]).fetchall()
                results[(part, round_)] = rows
                if part == 0 and round_ == 0:
                    get_scorer(tiny_model).cache.clear()  # others now race on cold texts
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            cursor.close()

    threads = [threading.Thread(target=work, args=(p,)) for p in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "deadlock"
    assert not errors, errors
    for (part, _), rows in results.items():
        assert [r[0] for r in rows] == list(range(part, len(texts), 4))
        for i, score, named, flag, thr, model in rows:
            assert score == named == expected[i]
            assert flag == (None if score is None else score >= threshold)
            assert thr == threshold and json.loads(model)["name"] == "tiny"
    assert len(results) == 8


def test_concurrent_callers_with_the_same_new_text_share_one_forward_pass(tiny_model):
    scorer = Scorer(tiny_model)
    for round_ in range(3):
        text = f"shared cold text {round_} | " + "view phone samsung mid | " * 40
        start = threading.Barrier(6)
        out: list = []

        def call(text=text, start=start, out=out):
            start.wait(timeout=60)
            out.append(scorer.score([text] * 2048))

        before = scorer.forward_rows
        threads = [threading.Thread(target=call) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not any(t.is_alive() for t in threads), "deadlock"
        assert len(out) == 6 and all(len(set(o)) == 1 for o in out)
        assert len({o[0] for o in out}) == 1
        assert scorer.forward_rows - before == 1, "the text ran through the encoder twice"
