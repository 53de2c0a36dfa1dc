"""Validation decides every part of the model, the seed recipe is one option away, and the
artifact says what it serves (tiny random BERT, small generated table)."""

from __future__ import annotations

import json

import duckdb
from click.testing import CliRunner

from tests.helpers.training_data import make_training_table
from training.config import TrainConfig
from training.head_trainer import candidate_grid
from training.trainer import train


def quiet(*_args, **_kwargs):
    pass


def test_lexical_none_puts_heads_with_and_without_the_term_on_validation():
    both = candidate_grid(None)
    assert {p.lexical for p in both} == {True, False}
    assert {p.hidden_units for p in both} == {0, 128}
    assert {p.lexical for p in candidate_grid(False)} == {False}
    assert {p.lexical for p in candidate_grid(True)} == {True}
    assert {p.hidden_units for p in candidate_grid(None, hidden_units=0)} == {0}


def test_default_run_lets_validation_choose_the_lexical_term(tmp_path, tiny_bert):
    from udf.artifact import read_meta

    db = make_training_table(tmp_path / "w.duckdb")
    result = train(TrainConfig(db_path=db, base_model=str(tiny_bert), mode="head",
                               progress=False, compare_peers=False), log=quiet)
    meta = read_meta(result.path)
    trials = meta["history"]["head_trials"]
    assert {t["lexical"] for t in trials} == {True, False}
    best = max(t["val_pr_auc"] for t in trials)
    chosen = meta["head_params"]
    assert [t for t in trials if t["lexical"] == chosen["lexical"]
            and t["hidden_units"] == chosen["hidden_units"]
            and t["imbalance"] == chosen["imbalance"]][0]["val_pr_auc"] == best
    assert meta["served"]["lexical_term"] == (meta["head"]["lexical_size"] > 0)
    assert meta["lexical_params"]["in_head"] == meta["served"]["lexical_term"]
    assert meta["served"]["encoder"] == "frozen"
    assert result.served == meta["served"]["description"]


def test_recipe_seed_from_the_cli_serves_frozen_encoder_one_layer_no_lexical(tmp_path,
                                                                              tiny_bert):
    import udf
    from duckbert.cli import main

    db = make_training_table(tmp_path / "w.duckdb")
    out = CliRunner().invoke(main, ["train", "--db", db, "--recipe", "seed", "--base-model",
                                    str(tiny_bert), "--no-peers", "--quiet"])
    assert out.exit_code == 0, out.output
    assert "served model: frozen encoder, head: one fully connected layer, no lexical " \
           "term" in out.output
    con = duckdb.connect(db)
    try:
        udf.register(con)
        info = json.loads(con.execute("select anomaly_model()").fetchone()[0])
    finally:
        con.close()
    assert info["training_mode"] == "head"
    assert info["served"]["encoder"] == "frozen"
    assert info["served"]["head"] == "one fully connected layer"
    assert info["served"]["lexical_term"] is False


def test_cli_lexical_flag_forces_the_term(tmp_path, tiny_bert):
    from duckbert.cli import main
    from udf.artifact import read_meta

    db = make_training_table(tmp_path / "w.duckdb")
    out = CliRunner().invoke(main, ["train", "--db", db, "--mode", "head", "--lexical",
                                    "--base-model", str(tiny_bert), "--no-peers", "--quiet"])
    assert out.exit_code == 0, out.output
    con = duckdb.connect(db, read_only=True)
    path = con.execute("select path from duckbert_models where is_current").fetchone()[0]
    con.close()
    meta = read_meta(path)
    assert {t["lexical"] for t in meta["history"]["head_trials"]} == {True}
    assert meta["served"]["lexical_term"] is True
    assert "lexical n-gram term on" in meta["served"]["description"]


def test_old_artifacts_without_a_served_block_are_described_from_mode_and_head():
    from udf.artifact import served_model

    old = {"training_mode": "full", "head": {"kind": "classifier", "hidden_units": 128,
                                             "lexical_size": 16}}
    served = served_model(old)
    assert served["encoder"] == "fine-tuned"
    assert served["description"] == ("fine-tuned encoder (all layers), head: MLP with one "
                                     "hidden layer of 128, lexical n-gram term on")
    knn = served_model({"training_mode": "unsupervised", "head": {"kind": "knn", "k": 10}})
    assert knn["encoder"] == "frozen" and not knn["lexical_term"]
