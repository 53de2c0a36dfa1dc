"""Few labels: grouped cross-validation instead of a refusal; unsupervised k on validation."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest

from tests.helpers.training_data import make_training_table
from training.config import TrainConfig
from training.labelled import TrainingDataError
from training.splits import user_folds
from training.trainer import train


def quiet(*_args, **_kwargs):
    pass


def config(db, tiny_bert, **kwargs):
    return TrainConfig(**{"db_path": db, "base_model": str(tiny_bert), "mode": "auto",
                          "progress": False, "compare_peers": False, **kwargs})


def test_user_folds_keep_users_whole_and_spread_anomalies():
    groups = np.array([f"u{i // 3}" for i in range(60)])
    labels = np.array([1 if i // 3 < 6 else 0 for i in range(60)])
    folds = user_folds(groups, labels, 3, seed=0)
    assert sorted(np.concatenate(folds).tolist()) == list(range(60))
    for fold in folds:
        assert labels[fold].sum() == 6  # 2 anomalous users of 3 sessions each
        others = set(groups[np.concatenate([f for f in folds if f is not fold])])
        assert not set(groups[fold]) & others


def test_few_labels_train_by_cross_validation_and_say_so(tmp_path, tiny_bert):
    import udf
    from training.summary import train_summary
    from udf.artifact import read_meta

    db = make_training_table(tmp_path / "few.duckdb", users=12, anomaly_rate=0.2)
    lines = []
    result = train(config(db, tiny_bert), log=lines.append)
    meta = read_meta(result.path)
    assert meta["evaluation"]["method"] == "cross-validation"
    assert meta["evaluation"]["grouped_by"] == "user"
    assert 2 <= meta["evaluation"]["folds"] <= 5
    assert result.mode == "head" and result.test == {}
    assert result.validation["n"] == result.n_labelled  # out-of-fold: every labelled row
    assert all("oof_pr_auc" in t for t in meta["history"]["head_trials"])
    assert meta["history"]["selection"]["chosen"] in ("default", "best")
    assert any("cross-validation grouped by user" in line for line in lines)
    summary = train_summary(result)
    assert "out-of-fold estimate" in summary and "cross-validation" in summary
    con = duckdb.connect(db)
    try:
        udf.register(con)
        lo, hi = con.execute("select min(anomaly_score(session_text)), "
                             "max(anomaly_score(session_text)) from training_sessions"
                             ).fetchone()
    finally:
        con.close()
    assert 0 <= lo <= hi <= 1


def test_under_the_anomaly_floor_a_splittable_table_cross_validates(tmp_path, tiny_bert):
    """80 users x 2 sessions at 30%: enough for three parts of 5 anomalies each, but under
    min_anomalies_for_split, so every label fits and selects; the model records that it
    trained on every labelled row, and `evaluate --split test` says it has no test split."""
    from training.evaluate import evaluate_model
    from training.labelled import open_warehouse, read_sessions
    from training.splits import CROSS_VALIDATION, make_split, trained_on
    from training.summary import train_summary
    from udf.artifact import read_meta

    db = make_training_table(tmp_path / "floor.duckdb", users=80, sessions_per_user=2,
                             anomaly_rate=0.3)
    cfg = config(db, tiny_bert, mode="head")
    con = open_warehouse(db, read_only=True)
    sessions = read_sessions(con, cfg)
    con.close()
    anomalous = int((sessions.labels == 1).sum())
    assert 15 <= anomalous < cfg.min_anomalies_for_split
    make_split(sessions, cfg)  # the old rule alone would split
    lines = []
    result = train(config(db, tiny_bert, mode="head", compare_peers=True), log=lines.append)
    meta = read_meta(result.path)
    assert meta["evaluation"]["method"] == "cross-validation" and result.test == {}
    # the peers cross-validate on the same user folds; the lead is over users, out of fold
    peers, lead = meta["metrics"]["peers"], meta["metrics"]["peer_lead"]
    assert {"tfidf_logreg", "gbm_aggregates"} <= set(peers)
    assert all(p["n"] == result.n_labelled and p["scored_on"] == "out-of-fold"
               for p in peers.values())
    assert lead["scored_on"] == "out-of-fold" and lead["best_peer"] in peers
    assert lead["pr_auc"] == pytest.approx(result.validation["pr_auc"], abs=1e-3)
    lo, hi = lead["diff_ci"]
    assert lo <= lead["diff"] <= hi
    summary = train_summary(result)
    assert "peers on the same folds (out-of-fold PR-AUC)" in summary
    assert "users, out-of-fold)" in summary
    assert any(f"only {anomalous} anomalous labels" in line and "--min-anomalies-for-split"
               in line for line in lines)
    assert meta["split"] == {"method": CROSS_VALIDATION, "seed": 0}
    rows = sessions.labelled
    assert trained_on(sessions, rows, meta["split"], cfg).all()
    with pytest.raises(TrainingDataError, match="no test split of its own"):
        evaluate_model(config(db, tiny_bert), result.path, "test")
    assert evaluate_model(config(db, tiny_bert), result.path)["n"] == rows.size
    held_out = train(config(db, tiny_bert, mode="head", min_anomalies_for_split=0), log=quiet)
    assert read_meta(held_out.path)["evaluation"]["method"] == "held-out split"


def test_a_candidate_replaces_the_default_only_on_evidence():
    from training.crossval import _select, lead_interval
    from training.head_trainer import HeadParams

    rng = np.random.default_rng(0)
    groups = np.repeat([f"u{i}" for i in range(40)], 3)
    labels = np.repeat((np.arange(40) < 8).astype(int), 3)
    noise = rng.normal(size=labels.size)
    sharp = labels * 3.0 + noise  # separates the classes
    blurred = labels * 0.3 + noise  # barely
    near = blurred + rng.normal(scale=0.05, size=labels.size)  # the same, jittered
    lo, hi = lead_interval(labels, sharp, blurred, groups, seed=0)
    assert 0 < lo <= hi
    assert lead_interval(labels, blurred, blurred, groups, seed=0) == (0.0, 0.0)
    default = HeadParams(hidden_units=0, lexical=True, imbalance="pos_weight")
    other = HeadParams(hidden_units=0, lexical=False, imbalance="pos_weight")

    def auc(scores):
        from training.head_trainer import _pr_auc

        return _pr_auc(labels, scores)

    # ranked first, but its lead over the default is within noise: the default stays
    chosen, record = _select([(auc(blurred) + 0.01, other, near),
                              (auc(blurred), default, blurred)], labels, groups, 0, quiet)
    assert chosen[1] == default and record["chosen"] == "default"
    assert record["lead_interval"][0] <= 0 <= record["lead_interval"][1]
    chosen, record = _select([(auc(sharp), other, sharp), (auc(blurred), default, blurred)],
                             labels, groups, 0, quiet)
    assert chosen[1] == other and record["chosen"] == "best"


def test_too_few_anomalous_users_even_for_cross_validation_is_a_clear_error(tmp_path,
                                                                            tiny_bert):
    db = make_training_table(tmp_path / "two.duckdb", users=30, anomaly_rate=0.0)
    con = duckdb.connect(db)
    con.execute("update training_sessions set is_anomaly = true "
                "where session_id in ('s1-0', 's2-0')")
    con.close()
    with pytest.raises(TrainingDataError, match="cross-validation by user needs at least 3"):
        train(config(db, tiny_bert), log=quiet)


def test_unsupervised_chooses_k_on_validation_without_the_test_split(tmp_path, tiny_bert,
                                                                      monkeypatch):
    import training.unsupervised as unsupervised
    from udf.artifact import read_meta

    db = make_training_table(tmp_path / "u.duckdb", users=120)
    seen = []
    real = unsupervised.choose_k

    def spy(reference, val_pooled, val_labels, seed, log=print):
        seen.append((len(reference), len(val_pooled)))
        return real(reference, val_pooled, val_labels, seed, log=log)

    monkeypatch.setattr(unsupervised, "choose_k", spy)
    result = train(config(db, tiny_bert, mode="unsupervised"), log=quiet)
    meta = read_meta(result.path)
    sizes = meta["split_sizes"]
    assert seen == [(sizes["train"] + sizes["val"], sizes["val"])]  # test rows never seen
    assert str(meta["head"]["k"]) in meta["head_params"]["k_trials_val_pr_auc"]
    assert result.test["n"] == sizes["test"]


def _few_label_sessions(shared_token: bool):
    """4 sessions each of 6 anomalous and 24 normal users; the anomalous users' sessions carry
    either one token they all share or a token of their own."""
    groups, labels, texts = [], [], []
    for u in range(30):
        bad = u < 6
        for s in range(4):
            mark = ("bot" if shared_token else f"mark{u}") if bad else ""
            texts.append(f"view item{(u + s) % 7} cart item{s} {mark}")
            groups.append(f"u{u}")
            labels.append(int(bad))
    return np.array(groups), np.array(labels), texts


@pytest.mark.parametrize("shared_token", [True, False])
def test_peers_choose_by_folds_that_never_score_their_own_rows(shared_token):
    from training.crossval import choose_folds
    from training.peers import gradient_boosting_folds, tfidf_logreg_folds

    groups, labels, texts = _few_label_sessions(shared_token)
    folds = choose_folds(groups, labels, 0, "few labels")
    scores, params = tfidf_logreg_folds(texts, labels, folds, ["view item1 bot", "view item1"])
    assert params["C"] in (0.3, 1.0, 3.0, 10.0, 30.0)
    if shared_token:  # what all anomalous users share is learnt out of fold
        assert params["out_of_fold_pr_auc"] > 0.95 and scores[0] > scores[1]
    else:  # a token of one user's own is never in the folds that score that user
        assert params["out_of_fold_pr_auc"] < 0.6
    x = np.stack([[float("bot" in t or "mark" in t), len(t)] for t in texts])
    gbm_scores, gbm_params = gradient_boosting_folds(x, labels, folds, x[[0, -1]])
    assert gbm_params["out_of_fold_pr_auc"] > 0.95 and gbm_scores[0] > gbm_scores[1]
