"""Choose the flag threshold on validation scores, by a stated policy (stored with the model).

- max_f1: the threshold with the best F1 on validation (default);
- precision: the lowest threshold whose validation precision reaches a target (most recall);
- contamination: flag the top C share of sessions (no labels needed).
"""

from __future__ import annotations

import numpy as np


def max_f1(labels, scores) -> tuple[float, str]:
    from sklearn.metrics import precision_recall_curve

    precision, recall, thresholds = precision_recall_curve(labels, scores)
    f1 = 2 * precision * recall / np.clip(precision + recall, 1e-12, None)
    best = int(np.argmax(f1[:-1])) if len(thresholds) else 0
    threshold = float(thresholds[best]) if len(thresholds) else 0.5
    return threshold, f"max_f1 on validation (F1={f1[best]:.3f})"


def target_precision(labels, scores, target: float) -> tuple[float, str]:
    from sklearn.metrics import precision_recall_curve

    precision, recall, thresholds = precision_recall_curve(labels, scores)
    ok = np.flatnonzero(precision[:-1] >= target)
    if ok.size == 0:
        threshold, note = max_f1(labels, scores)
        return threshold, f"precision>={target:g} unreachable on validation; fell back to {note}"
    best = ok[np.argmax(recall[ok])]
    return float(thresholds[best]), (
        f"precision>={target:g} on validation (precision={precision[best]:.3f}, "
        f"recall={recall[best]:.3f})"
    )


def contamination(scores, share: float) -> tuple[float, str]:
    threshold = float(np.quantile(np.asarray(scores), 1.0 - share))
    return threshold, f"contamination {share:g}: top {share:.1%} of validation sessions"


def choose_threshold(cfg, labels, scores) -> tuple[float, str]:
    if cfg.threshold_policy == "precision":
        return target_precision(labels, scores, cfg.target_precision)
    if cfg.threshold_policy == "contamination":
        return contamination(scores, cfg.contamination)
    return max_f1(labels, scores)
