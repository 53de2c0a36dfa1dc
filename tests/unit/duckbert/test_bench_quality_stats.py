"""The quality benchmark's statistics and data choices, without a warehouse."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.metrics import average_precision_score

from duckbert.benchmarks.quality_data import Frame, assign, labelled_users
from training.bootstrap import (
    average_precision,
    paired_difference,
    pr_auc_with_interval,
    user_weights,
    verdict,
)


def test_average_precision_matches_sklearn_with_ties_and_weights():
    rng = np.random.default_rng(0)
    labels = rng.random(400) < 0.1
    scores = np.round(rng.random(400) + labels * 0.3, 1)  # many ties
    assert average_precision(labels, scores)[0] == pytest.approx(
        average_precision_score(labels, scores), abs=1e-12)
    weights = rng.integers(0, 3, size=(5, 400)).astype(float)
    ours = average_precision(labels, scores, weights)
    for row, value in zip(weights, ours, strict=True):
        assert value == pytest.approx(
            average_precision_score(labels, scores, sample_weight=row), abs=1e-12)


def test_replicate_without_positives_is_nan():
    labels = np.array([1, 0, 0, 0])
    weights = np.array([[0.0, 1, 1, 1], [1.0, 1, 1, 1]])
    out = average_precision(labels, np.array([0.9, 0.1, 0.2, 0.3]), weights)
    assert np.isnan(out[0]) and out[1] == 1.0


def test_bootstrap_resamples_users_not_sessions():
    users = np.array(["a", "a", "a", "b", "c", "c"])
    weights = user_weights(users, 200, seed=1)
    assert weights.shape == (200, 6)
    # all sessions of a user carry the same weight, and each replicate draws 3 users
    assert (weights[:, 0] == weights[:, 2]).all() and (weights[:, 4] == weights[:, 5]).all()
    per_user = weights[:, [0, 3, 4]]
    assert (per_user.sum(axis=1) == 3).all()
    assert (user_weights(users, 200, seed=1) == weights).all()


def test_interval_contains_the_estimate_and_a_paired_difference_is_tighter():
    rng = np.random.default_rng(3)
    users = np.repeat(np.arange(300), 3).astype(str)
    labels = (rng.random(900) < 0.08).astype(int)
    good = labels * 1.0 + rng.normal(0, 0.6, 900)
    worse = good + rng.normal(0, 0.3, 900)
    weights = user_weights(users, 300, seed=0)
    a = pr_auc_with_interval(labels, good, weights)
    b = pr_auc_with_interval(labels, worse, weights)
    assert a["ci"][0] <= a["pr_auc"] <= a["ci"][1]
    diff = paired_difference(a, b)
    assert diff["diff"] == pytest.approx(a["pr_auc"] - b["pr_auc"], abs=1e-4)
    assert diff["ci"][1] - diff["ci"][0] < (a["ci"][1] - a["ci"][0])
    assert verdict({"ci": [0.01, 0.05]}).startswith("yes")
    assert verdict({"ci": [-0.05, -0.01]}).startswith("no: behind")
    assert verdict({"ci": [-0.01, 0.02]}).startswith("no clear")


def _frame(n_users=200, seed=0):
    rng = np.random.default_rng(seed)
    users = np.repeat([str(500_000_000 + u) for u in range(n_users)], 4)
    bad_user = rng.random(n_users) < 0.1
    truth = np.repeat(bad_user, 4).astype(int)
    families = np.where(truth == 1, "scraping", "").astype(object)
    variants = np.where(truth == 1, "blatant", "").astype(object)
    variants[:8][truth[:8] == 1] = "novel"
    shifted = np.zeros(len(users), dtype=bool)
    shifted[-40:] = True
    return Frame(db=None, ids=np.array([f"s{i}" for i in range(len(users))], dtype=object),
                 users=users.astype(object), labels=truth, truth=truth, families=families,
                 variants=variants, texts=["x"] * len(users), shifted=shifted)


def test_test_users_pool_and_label_shares():
    frame = _frame()
    sets = assign(frame, 0.25, seed=0)
    pool_users, test_users = set(frame.users[sets.pool]), set(frame.users[sets.test])
    assert not pool_users & test_users
    assert not set(frame.users[sets.shifted]) & (pool_users | test_users)
    assert not (frame.variants[sets.pool] == "novel").any()  # novel variants never train
    assert 0.2 < len(test_users) / (len(test_users) + len(pool_users)) < 0.3
    assert frame.truth[sets.test].sum() > 0
    small = labelled_users(frame, sets.pool, 0.02, seed=0)
    larger = labelled_users(frame, sets.pool, 0.3, seed=0)
    assert small <= larger  # nested
    assert any(frame.truth[(frame.users == u)].any() for u in small)  # one anomalous user
    assert labelled_users(frame, sets.pool, 1.0, seed=0) == pool_users


@pytest.mark.parametrize("args, message", [
    (["--rows", "a,z"], "unknown row"),
    (["--fractions", "0,1"], "(0, 1]"),
    (["--fractions", "lots"], "--fractions"),
    (["--holdout-family", "nope"], "holdout family"),
    (["--modes", "fast"], "unknown mode"),
])
def test_cli_rejects_bad_options_before_any_work(args, message, tmp_path):
    from duckbert.cli import main

    result = CliRunner().invoke(main, ["bench", "quality", "--work-dir", str(tmp_path / "w"),
                                       *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (tmp_path / "w").exists()


def test_report_notes_say_why_a_peer_refused():
    """A refused peer's cell reads "refused"; the notes under the table say why."""
    from duckbert.benchmarks.quality_report import markdown

    fitted = {"pr_auc": 0.4, "ci": [0.3, 0.5], "info": {"trained_as": "head", "seconds": 1.0}}
    why = "no anomalous or no normal labels to fit on"
    results = {
        "config": {"test_share": 0.25, "device": "cpu", "base_model": "m", "bootstrap": 10},
        "date": "2026-12-02", "seconds": 1.0,
        "rows": [{"row": "b 2%", "title": "2% of users labelled",
                  "test": {"sessions": 10, "anomalous": 2},
                  "train": {"note": "2% of pool users", "labelled_sessions": 9,
                            "labelled_anomalous": 1, "labelled_users": 3},
                  "models": {"duckbert": fitted, "tfidf_logreg": {"refused": why},
                             "gbm_aggregates": {"pr_auc": 0.2, "ci": [0.1, 0.3]}}}],
    }
    text = markdown(results, "duckbert bench quality")
    table_row = next(line for line in text.splitlines() if line.startswith("| b 2%"))
    assert "| refused |" in table_row
    note = next(line for line in text.splitlines() if line.startswith("- b 2%"))
    assert f"TF-IDF + LR: refused ({why})" in note and "GBM aggregates" not in note
