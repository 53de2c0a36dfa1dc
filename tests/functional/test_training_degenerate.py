"""Training on warehouses whose data lacks a whole kind of value: every `price` NULL (a
services shop, a privacy-stripped export) or no review at all. generate -> load -> null the
column -> dbt build -> `duckbert train` with the peers on: the run succeeds, registers a
current model that serves SQL, and names every step it left out (issue #15: the gradient
boosting peer's binning once killed such a run after its fine-tuning)."""

from __future__ import annotations

import json
import subprocess
import sys

import duckdb
import pytest

from duckbert.dbt_runner import dbt_build
from duckbert.loader import load
from tests.helpers.processes import REPO, child_env, query

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dbt_degenerate")]

USERS = 200


def _warehouse(root, tiny_bert, blank: str):
    from duckbert.synthetic import generate

    data = root / "data"
    generate(data, users=USERS, seed=11)
    db = root / "warehouse.duckdb"
    con = duckdb.connect(str(db))
    try:
        load(con, events=data / "events.csv", reviews=data / "reviews.csv",
             labels=data / "labels.csv")
        if blank == "price":
            con.execute("update raw_events set price = null")
        else:
            con.execute("delete from raw_reviews")
    finally:
        con.close()
    result = dbt_build(db, out=None, env={"DUCKBERT_MODEL": ""}, target_path=root / "target",
                       log_path=root / "logs")
    assert result.ok, "\n".join(result.tail)
    done = subprocess.run(
        [sys.executable, "-c", "from duckbert.cli import main; main()", "train", "--db",
         str(db), "--base-model", str(tiny_bert), "--mode", "head", "--quiet",
         "--min-anomalies-for-split", "0"],  # 55 anomalous labels: split, peers on it
        env=child_env(), cwd=str(REPO), capture_output=True, text=True, timeout=900)
    return db, done


@pytest.fixture(scope="module", params=["price", "reviews"])
def trained(request, tmp_path_factory, tiny_bert):
    root = tmp_path_factory.mktemp(f"no-{request.param}")
    db, done = _warehouse(root, tiny_bert, request.param)
    return request.param, db, done


def test_the_column_is_really_blank(trained):
    blank, db, _ = trained
    if blank == "price":
        assert query(db, "select count(*), count(price_mean) from training_sessions")[0][1] == 0
    else:
        assert query(db, "select count(*) from stg_reviews") == [(0,)]


def test_training_succeeds_with_peers_and_registers_a_current_model(trained):
    blank, db, done = trained
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "peers on the same split" in output
    assert "duckbert - best peer (" in output  # the lead, with its interval over test users
    rows = query(db, "select version, path, metrics from duckbert_models where is_current")
    assert len(rows) == 1
    version, path, metrics = rows[0]
    peers = json.loads(metrics)["peers"]
    assert set(peers) == {"tfidf_logreg", "gbm_aggregates", "isolation_forest_aggregates"}
    assert peers["gbm_aggregates"]["pr_auc"] is not None
    lead = json.loads(metrics)["peer_lead"]
    assert lead["best_peer"] in ("tfidf_logreg", "gbm_aggregates") and lead["verdict"]
    if blank == "price":  # the all-NULL and the now-constant columns were left out, by name
        dropped = peers["gbm_aggregates"]["dropped_features"]
        assert {dropped[c] for c in ("price_min", "price_max", "price_mean")} == {"all NULL"}
        assert dropped["purchase_value"] == "constant"
        assert "aggregate columns left out: price_min (all NULL)" in output
    assert json.loads(metrics)["skipped_steps"] == []
    con = duckdb.connect(str(db), read_only=True)
    try:
        import udf

        udf.register(con)
        assert json.loads(con.execute("select anomaly_model()").fetchall()[0][0])[
            "version"] == version
        score = con.execute("select anomaly_score(session_text) from sessions limit 1")
        assert 0.0 <= score.fetchall()[0][0] <= 1.0
    finally:
        con.close()


def test_drift_baselines_were_recorded(trained):
    _, db, _ = trained
    metrics = {r[0] for r in query(db, "select distinct metric from duckbert_model_baselines")}
    assert {"anomaly_score", "text_length"} <= metrics
