"""The model against its best peer on a run's test split (training.bootstrap)."""

from __future__ import annotations

import numpy as np
import pytest

from training.bootstrap import lead_over_best_peer
from training.summary import lead_line


def _test_split(n_users=120, seed=0):
    """Test sessions of `n_users` users, 3 each; a tenth of the users anomalous."""
    rng = np.random.default_rng(seed)
    users = np.repeat([f"u{i}" for i in range(n_users)], 3)
    labels = np.repeat(rng.random(n_users) < 0.1, 3).astype(float)
    labels[:3] = 1.0
    return rng, users, labels


def test_a_model_that_ranks_every_anomaly_first_leads_the_better_peer():
    rng, users, labels = _test_split()
    ours = labels + 0.1 * rng.random(labels.size)           # perfect ranking
    good = labels * 0.5 + rng.random(labels.size)            # the better peer
    noise = rng.random(labels.size)                          # no better than chance
    lead = lead_over_best_peer(labels, users, ours, {"tfidf_logreg": good, "gbm": noise},
                               seed=0, replicates=200)
    assert lead["best_peer"] == "tfidf_logreg"
    assert lead["pr_auc"] == pytest.approx(1.0)
    assert lead["diff"] == pytest.approx(1.0 - lead["best_peer_pr_auc"], abs=1e-4)
    assert lead["diff_ci"][0] > 0 and lead["verdict"] == "yes: ahead of the best peer"
    assert lead["test_users"] == 120 and lead["replicates"] == 200


def test_the_same_scores_as_the_peer_are_no_clear_difference():
    rng, users, labels = _test_split(seed=1)
    scores = labels * 0.7 + rng.random(labels.size)
    lead = lead_over_best_peer(labels, users, scores, {"tfidf_logreg": scores.copy()},
                               seed=0, replicates=200)
    assert lead["diff"] == 0.0 and lead["diff_ci"] == [0.0, 0.0]
    assert lead["verdict"] == "no clear difference (interval includes 0)"


def test_a_worse_model_is_said_to_be_behind():
    rng, users, labels = _test_split(seed=2)
    peer = labels + 0.1 * rng.random(labels.size)
    lead = lead_over_best_peer(labels, users, rng.random(labels.size), {"gbm": peer},
                               seed=0, replicates=200)
    assert lead["diff_ci"][1] < 0 and lead["verdict"] == "no: behind the best peer"


def test_no_peer_or_no_anomaly_in_test_gives_no_comparison():
    rng, users, labels = _test_split()
    scores = rng.random(labels.size)
    assert lead_over_best_peer(labels, users, scores, {}, seed=0) == {}
    assert lead_over_best_peer(np.zeros_like(labels), users, scores, {"gbm": scores},
                               seed=0) == {}


def test_the_summary_line_names_the_peer_the_interval_and_the_verdict():
    line = lead_line({"best_peer": "tfidf_logreg", "diff": 0.0091, "diff_ci": [0.003, 0.016],
                      "test_users": 812, "verdict": "yes: ahead of the best peer"})
    assert line == ("duckbert - best peer (tfidf_logreg): +0.009 [+0.003, +0.016] "
                    "(95% over 812 test users) — yes: ahead of the best peer")
