"""Training runs on a tiny random BERT: checks, head mode, artifacts, resume, evaluate."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import pytest

from tests.helpers.training_data import make_training_table
from training.config import TrainConfig
from training.labelled import TrainingDataError
from training.trainer import train


def quiet(*_args, **_kwargs):
    pass


@pytest.fixture
def warehouse(tmp_path):
    return make_training_table(tmp_path / "w.duckdb")


def config(db, tiny_bert, **kwargs):
    defaults = dict(db_path=db, base_model=str(tiny_bert), mode="head", progress=False,
                    compare_peers=False)
    defaults.update(kwargs)
    return TrainConfig(**defaults)


@pytest.mark.parametrize("change,message", [
    ({"table": "nope"}, "does not exist"),
    ({"text_col": "missing_col"}, "missing_col"),
    ({"label_col": "n_events"}, "boolean, 0/1"),
])
def test_clear_errors_for_bad_tables(warehouse, tiny_bert, change, message):
    with pytest.raises(TrainingDataError, match=message):
        train(config(warehouse, tiny_bert, **change), log=quiet)


def test_one_class_is_refused(tmp_path, tiny_bert):
    db = make_training_table(tmp_path / "one.duckdb", users=40, anomaly_rate=0.0)
    with pytest.raises(TrainingDataError, match="only normal labels"):
        train(config(db, tiny_bert), log=quiet)
    # too few for a split: cross-validation (tests/unit/training/test_few_labels.py)


def test_missing_base_model_says_where_it_looked(warehouse, tmp_path):
    from udf.base_models import ModelNotFoundError

    with pytest.raises(ModelNotFoundError, match="does not exist"):
        train(config(warehouse, tmp_path / "no-such-model"), log=quiet)


def test_head_training_writes_an_artifact_the_udf_scores_identically(warehouse, tiny_bert):
    import udf
    from udf.artifact import read_meta
    from udf.scorer import get_scorer

    result = train(config(warehouse, tiny_bert, compare_peers=True), log=quiet)
    assert result.kept and result.mode == "head"
    assert result.test["pr_auc"] > 0.5
    assert set(result.peers) == {"tfidf_logreg", "gbm_aggregates", "isolation_forest_aggregates"}
    for peer in result.peers.values():  # each peer: full metrics at its own val threshold
        assert {"pr_auc", "roc_auc", "f1", "per_family"} <= set(peer)
    lead = result.peer_lead  # the model against the better supervised peer, on the same users
    best = max(("tfidf_logreg", "gbm_aggregates"), key=lambda p: result.peers[p]["pr_auc"])
    assert lead["best_peer"] == best
    assert lead["pr_auc"] == pytest.approx(result.test["pr_auc"], abs=1e-4)
    assert lead["diff"] == pytest.approx(lead["pr_auc"] - result.peers[best]["pr_auc"], abs=2e-4)
    assert lead["diff_ci"][0] <= lead["diff"] <= lead["diff_ci"][1]
    assert lead["replicates"] == 1000 and lead["test_users"] > 1
    meta = read_meta(result.path)
    assert meta["metrics"]["peer_lead"] == lead
    assert meta["threshold"] == pytest.approx(result.threshold)
    assert meta["metrics"]["test"]["confusion_matrix"]
    assert meta["text_format"] == "st1"
    check = meta["precision_check"]
    assert check["policy"] == {"min_flag_agreement": 0.995, "max_pr_auc_delta": 0.005}
    assert check["labelled"] and check["sessions"] > 0
    assert {"torch-fp32", "onnx-int8", "onnx-fp32", "torch-int8"} <= set(check["variants"])
    compared = {v: f for v, f in check["variants"].items()
                if v != "torch-fp32" and "flag_agreement" in f}
    assert compared  # at least the fastest variant was compared in full
    for figures in compared.values():
        assert 0.0 <= figures["flag_agreement"] <= 1.0 and figures["rows_per_s"] > 0
        assert figures["approved"] == (figures["flag_agreement"] >= 0.995
                                       and abs(figures["pr_auc_delta"]) <= 0.005)
    for figures in check["variants"].values():  # the others say why they were not
        assert "flag_agreement" in figures or figures["why"].startswith(("not compared",
                                                                         "could not run"))
    assert (Path(result.path) / "runtime" / "onnx.json").exists()  # shipped by training
    con = duckdb.connect(warehouse)
    try:
        row = con.execute("select version, is_current, threshold, metrics from duckbert_models "
                          "where is_current").fetchall()
        assert row[0][0] == result.version and row[0][1]
        assert json.loads(row[0][3])["test"]["pr_auc"] == result.test["pr_auc"]
        udf.register(con)
        texts = [r[0] for r in con.execute(
            "select session_text from training_sessions order by session_id limit 50"
        ).fetchall()]
        sql = [r[0] for r in con.execute(
            "select anomaly_score(session_text) from training_sessions order by session_id "
            "limit 50").fetchall()]
    finally:
        con.close()
    direct = get_scorer(result.path, precision="fp32").score(texts)
    assert np.allclose(sql, direct, atol=0.01)


def test_seed_makes_runs_repeatable(warehouse, tiny_bert, tmp_path):
    first = train(config(warehouse, tiny_bert, models_dir=str(tmp_path / "a")), log=quiet)
    second = train(config(warehouse, tiny_bert, models_dir=str(tmp_path / "b")), log=quiet)
    assert first.test["pr_auc"] == second.test["pr_auc"]
    assert first.threshold == pytest.approx(second.threshold)


def test_the_tables_physical_row_order_does_not_change_a_seeded_run(warehouse, tiny_bert,
                                                                     tmp_path):
    shuffled = str(tmp_path / "shuffled.duckdb")
    con = duckdb.connect(shuffled)
    con.execute(f"attach '{warehouse}' as src (read_only)")
    con.execute("create table training_sessions as "
                "select * from src.training_sessions order by md5(session_id) desc")
    con.close()
    first = train(config(warehouse, tiny_bert, models_dir=str(tmp_path / "a")), log=quiet)
    second = train(config(shuffled, tiny_bert, models_dir=str(tmp_path / "b")), log=quiet)
    assert first.test == second.test
    assert first.threshold == second.threshold


def test_resume_needs_new_labels_and_keeps_only_a_no_worse_model(warehouse, tiny_bert):
    first = train(config(warehouse, tiny_bert), log=quiet)
    nothing = train(config(warehouse, tiny_bert, resume=True), log=quiet)
    assert not nothing.retrained and "no labels arrived" in nothing.note
    con = duckdb.connect(warehouse)
    con.execute("update training_sessions set labelled_at = now()::timestamp, "
                "is_anomaly = true where session_id in ('s1-0', 's2-1', 's3-2')")
    con.close()
    resumed = train(config(warehouse, tiny_bert, resume=True), log=quiet)
    assert resumed.retrained and resumed.version != first.version
    con = duckdb.connect(warehouse, read_only=True)
    rows = dict(con.execute("select version, status from duckbert_models").fetchall())
    con.close()
    assert rows[resumed.version] == ("current" if resumed.kept else "rejected")
    assert rows[first.version] == ("superseded" if resumed.kept else "current")


def test_unsupervised_without_any_labels_scores_in_unit_interval(tmp_path, tiny_bert):
    import udf

    db = make_training_table(tmp_path / "u.duckdb", users=60)
    con = duckdb.connect(db)
    con.execute("update training_sessions set is_anomaly = null")
    con.close()
    result = train(config(db, tiny_bert, mode="unsupervised"), log=quiet)
    assert result.mode == "unsupervised" and "contamination" in result.threshold_policy
    con = duckdb.connect(db)
    try:
        udf.register(con)
        lo, hi, flagged = con.execute(
            "select min(anomaly_score(session_text)), max(anomaly_score(session_text)), "
            "avg(anomaly_flag(session_text)::int) from training_sessions").fetchall()[0]
    finally:
        con.close()
    assert 0 <= lo <= hi <= 1
    assert 0.0 < flagged < 0.25


def test_evaluate_reproduces_the_test_metrics(warehouse, tiny_bert):
    from training.evaluate import evaluate_model

    result = train(config(warehouse, tiny_bert), log=quiet)
    metrics = evaluate_model(config(warehouse, tiny_bert), None, split="test")
    assert metrics["pr_auc"] == pytest.approx(result.test["pr_auc"], abs=0.02)
    assert metrics["n"] == result.test["n"]


def test_a_failed_run_leaves_the_previous_model_current(warehouse, tiny_bert, monkeypatch):
    import udf.artifact

    first = train(config(warehouse, tiny_bert), log=quiet)

    def broken_save(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(udf.artifact, "save_model", broken_save)
    with pytest.raises(OSError):
        train(config(warehouse, tiny_bert), log=quiet)
    con = duckdb.connect(warehouse, read_only=True)
    current = con.execute("select version from duckbert_models where is_current").fetchall()
    con.close()
    assert current == [(first.version,)]


def test_scorer_reuses_training_embeddings_bit_for_bit(warehouse, tiny_bert):
    from udf.scorer import Scorer

    result = train(config(warehouse, tiny_bert), log=quiet)
    con = duckdb.connect(warehouse, read_only=True)
    texts = [r[0] for r in con.execute("select session_text from training_sessions").fetchall()]
    con.close()
    texts.append("view phone samsung p1 3s | never seen in training")
    stored = Scorer(result.path, precision="fp32", cache_size=0)
    fresh = Scorer(result.path, precision="fp32", cache_size=0, use_store=False)
    assert stored.score(texts) == fresh.score(texts)
    assert stored.store_hits == len(set(texts)) - 1
    assert stored.forward_rows == 1


def test_resume_evaluates_only_on_users_the_current_model_never_trained_on(tmp_path,
                                                                            tiny_bert):
    """The current model's validation anomalies are relabelled normal and new users arrive:
    the rare-anomaly guard must fill validation from users the current model never saw."""
    from training.splits import user_split
    from udf.artifact import read_meta

    db = make_training_table(tmp_path / "w.duckdb", users=150)
    first = train(config(db, tiny_bert), log=quiet)
    fractions = read_meta(first.path)["split"]["fractions"]
    con = duckdb.connect(db)
    users = [r[0] for r in con.execute("select distinct user_id from training_sessions")
             .fetchall()]
    old_train = {u for u in users if user_split(u, fractions, 0) == 0}
    old_val = [u for u in users if user_split(u, fractions, 0) == 1]
    con.execute("update training_sessions set is_anomaly = false, labelled_at = now() "
                "where is_anomaly and list_contains(?, user_id)", [old_val])
    make_training_table(tmp_path / "new.duckdb", users=30, seed=9, anomaly_rate=0.2)
    con.execute(f"attach '{tmp_path / 'new.duckdb'}' as new (read_only)")
    con.execute("insert into training_sessions select 'n' || session_id, 'n' || user_id, "
                "session_text, is_anomaly, anomaly_family, session_start, n_events, now(), "
                "text_format from new.training_sessions")
    con.close()
    lines = []
    resumed = train(config(db, tiny_bert, resume=True), log=lines.append)
    assert resumed.retrained
    moved = read_meta(resumed.path)["split"]["moved"]
    assert moved, "validation had no anomalies left: the guard should have moved some"
    assert not set(moved) & old_train
    assert all(u.startswith("n") for u in moved)


def test_an_explicit_mode_runs_all_its_epochs_whatever_the_budget(tmp_path, tiny_bert):
    """--time-budget is for --mode auto: `--mode full --epochs 3` with the smallest budget
    still fine-tunes three epochs (it once stopped after one on a CPU)."""
    from udf.artifact import read_meta

    db = make_training_table(tmp_path / "w.duckdb", users=80, sessions_per_user=2,
                             anomaly_rate=0.3)
    result = train(config(db, tiny_bert, mode="full", epochs=3, time_budget_s=0.001,
                          min_anomalies_for_split=0), log=quiet)
    history = read_meta(result.path)["history"]
    assert [e["epoch"] for e in history["finetune"]] == [0, 1, 2, 3]
    assert history["finetune_time_budget_s"] is None


def test_a_fine_tuned_model_takes_its_drift_baseline_from_validation_and_test(tmp_path,
                                                                             tiny_bert):
    """A fine-tuned encoder has no stored embeddings: its score baseline is the validation
    and test scores the run already computed, not a second encoding of the table."""
    from udf.artifact import read_meta

    db = make_training_table(tmp_path / "w.duckdb", users=80, sessions_per_user=2,
                             anomaly_rate=0.3)
    lines = []
    result = train(config(db, tiny_bert, mode="full", epochs=3, min_anomalies_for_split=0),
                   log=lines.append)
    meta = read_meta(result.path)
    sizes = meta["split_sizes"]
    with duckdb.connect(str(db), read_only=True) as con:
        n_reference = con.execute(
            "select max(n_reference) from duckbert_model_baselines where version = ? and "
            "metric = 'anomaly_score'", [result.version]).fetchone()[0]
    assert meta["served"]["encoder"] == "fine-tuned"
    assert n_reference == sizes["val"] + sizes["test"]  # not all 160 sessions again
    assert any(f"({n_reference} sessions scored)" in line for line in lines)
