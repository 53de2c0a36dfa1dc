"""`duckbert bench quality` end to end on a tiny BERT: every row, every contender, one split
per row (structure and bookkeeping, not figures)."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow


def test_quality_benchmark_rows_contenders_and_docs(tiny_bert, tmp_path):
    from duckbert.benchmarks.quality import QualityRun, run_quality, save
    from duckbert.benchmarks.warehouse import build_warehouse_parts
    from udf.connect import connect_warehouse

    work = tmp_path / "work"
    run = QualityRun(users=320, shift_users=60, seed=1, fractions=(0.5, 1.0), bootstrap=30,
                     rows=("a", "b", "c", "d"),
                     base_model=str(tiny_bert), work_dir=str(work),
                     overrides={"mode": "head", "head_epochs": 3,
                                "min_anomalies_for_split": 0})
    results = run_quality(run, log=lambda *_: None)
    rows = {r["row"]: r for r in results["rows"]}
    assert list(rows) == ["a", "b 50%", "b 100%", "c", "d"]
    for row in rows.values():
        assert set(row["models"]) == {"duckbert", "seed recipe", "tfidf_logreg",
                                      "gbm_aggregates"}
        for name, entry in row["models"].items():
            if entry.get("refused"):
                assert name in ("duckbert", "seed recipe") and "labelled" in entry["refused"]
                continue
            lo, hi = entry["ci"]
            assert 0.0 <= lo <= entry["pr_auc"] <= hi <= 1.0, (row["row"], name)
    a = rows["a"]
    assert "pr_auc" in a["models"]["duckbert"], a["models"]["duckbert"]
    assert a["models"]["tfidf_logreg"]["info"]["split"] == "the duckbert run's split"
    assert a["vs_best_peer"]["duckbert"]["verdict"]
    assert rows["b 100%"]["models"]["duckbert"] == a["models"]["duckbert"]
    # row c tests on the shifted-catalogue users only, row d reports its held-out family
    house = results["warehouse"]
    assert rows["c"]["test"]["sessions"] == house["shifted_sessions"] > 0
    assert rows["a"]["test"]["sessions"] == house["test_sessions"]
    assert "fake_review (held out)" in rows["d"]["models"]["tfidf_logreg"]["focus"]
    db = work / "main" / "warehouse.duckdb"
    con = connect_warehouse(db, read_only=True)
    try:
        held = con.execute("select count(*) from bench_holdout "
                           "where anomaly_family = 'fake_review'").fetchone()[0]
        labelled, users, all_users = con.execute(
            "select count(is_anomaly), count(distinct user_id) filter (is_anomaly is not null),"
            " count(distinct user_id) from bench_b50").fetchone()
        shared = con.execute(
            "select count(*) from bench_full f join training_sessions t using (user_id) "
            "where t.user_id::bigint >= 700000000").fetchone()[0]
    finally:
        con.close()
    assert held == 0
    assert labelled > 0 and 0.4 < users / all_users < 0.6
    assert shared == 0  # no shifted-catalogue user trains
    docs = tmp_path / "BENCHMARKS.md"
    docs.write_text("# Benchmarks\n\n## Speed\n\nkept\n\n## Quality\n")
    text = save(results, tmp_path / "q.json", docs, "duckbert bench quality --users 320")
    for label in ("a: default generator", "c: catalogue shift", "TF-IDF + LR",
                  "GBM aggregates", "seed recipe", "BERT helps?"):
        assert label in text
    save(results, tmp_path / "q.json", docs, "again")
    written = docs.read_text()
    assert "kept" in written and written.count("quality:begin") == 1
    assert json.loads((tmp_path / "q.json").read_text())["config"]["users"] == 320
    # a second run with the same settings keeps the warehouse
    lines = []
    build_warehouse_parts(work / "main", json.loads((work / "main" / "parts.json").read_text()),
                          log=lines.append, reuse=True)
    assert any("reusing" in line for line in lines)


def test_row_e_long_realistic_reviews_has_its_own_warehouse_and_docs_block(tiny_bert,
                                                                           tmp_path):
    from duckbert.benchmarks.quality import QualityRun, run_quality, save
    from udf.connect import connect_warehouse

    work = tmp_path / "work"
    run = QualityRun(rows=("e",), review_users=160, seed=2, bootstrap=20,
                     base_model=str(tiny_bert), work_dir=str(work),
                     overrides={"mode": "head", "head_epochs": 2})
    results = run_quality(run, log=lambda *_: None)
    assert "warehouse" not in results  # no main warehouse is built for row e alone
    (row,) = results["rows"]
    assert row["row"] == "e" and row["test"]["anomalous"] > 0
    assert set(row["models"]) == {"duckbert", "seed recipe", "tfidf_logreg", "gbm_aggregates"}
    review = results["review_warehouse"]
    assert row["test"]["sessions"] == review["test_sessions"] > 0
    con = connect_warehouse(work / "reviews" / "warehouse.duckdb", read_only=True)
    try:
        trained = con.execute("select count(*), count(*) filter (n_reviews = 0), "
                              "count(*) filter (anomaly_variant = 'novel'), "
                              "min(text_format), max(text_format) "
                              "from bench_reviews").fetchone()
        families = {r[0] for r in con.execute(
            "select distinct anomaly_family from training_sessions "
            "where anomaly_family is not null").fetchall()}
    finally:
        con.close()
    assert trained[0] == review["pool_sessions"] and trained[1] == 0  # sessions with reviews
    assert trained[2] == 0  # the novel variant never trains
    assert trained[3:] == ("st2", "st2")
    assert families <= {"fake_review", "brushing"}
    docs = tmp_path / "BENCHMARKS.md"
    docs.write_text("# Benchmarks\n\n## Quality\n\n<!-- quality:begin (generated by "
                    "`duckbert bench quality`; text outside stays) -->\nrows a-d\n"
                    "<!-- quality:end -->\n")
    text = save(results, tmp_path / "e.json", docs, "duckbert bench quality --rows e")
    assert "e: long realistic reviews" in text and "Review warehouse (row e)" in text
    written = docs.read_text()
    assert "rows a-d" in written and written.count("quality-e:begin") == 1
