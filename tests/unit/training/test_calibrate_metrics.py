"""Threshold policies and the detection metrics reported at the threshold."""

from __future__ import annotations

import numpy as np
import pytest

from training.config import TrainConfig


@pytest.mark.parametrize("policy,kwargs", [
    ("max_f1", {}), ("precision", {"target_precision": 0.8}),
    ("contamination", {"contamination": 0.1}),
])
def test_threshold_policies(policy, kwargs):
    from training.calibrate import choose_threshold

    rng = np.random.default_rng(0)
    labels = (rng.random(2000) < 0.1).astype(int)
    scores = np.clip(labels * 0.5 + rng.normal(0.3, 0.15, 2000), 0, 1)
    cfg = TrainConfig(db_path="x", **kwargs)
    assert cfg.threshold_policy == policy
    threshold, note = choose_threshold(cfg, labels, scores)
    flags = scores >= threshold
    if policy == "precision":
        assert labels[flags].mean() >= 0.8
    if policy == "contamination":
        assert flags.mean() == pytest.approx(0.1, abs=0.01)
    assert note


def test_metrics_at_threshold_and_per_family():
    from training.metrics import evaluate_scores

    labels = np.array([1, 1, 0, 0, 1, 0])
    scores = np.array([0.9, 0.4, 0.2, 0.6, 0.8, 0.1])
    families = np.array(["bot", "ato", "", "", "bot", ""], dtype=object)
    m = evaluate_scores(labels, scores, 0.5, families)
    assert m["confusion_matrix"] == {"tp": 2, "fp": 1, "fn": 1, "tn": 2}
    assert m["precision"] == pytest.approx(2 / 3, abs=1e-3)
    assert m["recall"] == pytest.approx(2 / 3, abs=1e-3)
    assert m["per_family"]["bot"]["recall"] == 1.0
    assert m["per_family"]["ato"]["recall"] == 0.0
    assert 0 <= m["pr_auc"] <= 1 and m["pr_curve"]


def test_balanced_log_loss_weighs_the_classes_the_same():
    from training.metrics import balanced_log_loss

    # the two classes weigh the same whatever the prevalence
    assert balanced_log_loss([1, 0, 0, 0], [0.5, 0.5, 0.5, 0.5]) == pytest.approx(np.log(2))
