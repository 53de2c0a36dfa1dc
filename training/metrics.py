"""Detection metrics: confusion matrix and P/R/F1 at the threshold, PR-AUC, ROC-AUC, recall at
fixed precision, per anomaly family, and a downsampled precision-recall curve for charts."""

from __future__ import annotations

import numpy as np

RECALL_AT_PRECISION = (0.9, 0.95)


def _recall_at_precision(labels, scores, precision_floor: float) -> float:
    from sklearn.metrics import precision_recall_curve

    precision, recall, _ = precision_recall_curve(labels, scores)
    ok = precision >= precision_floor
    return float(recall[ok].max()) if ok.any() else 0.0


def pr_curve_points(labels, scores, points: int = 60) -> list[list[float]]:
    """[[recall, precision], ...] thinned to about `points` entries, for the report."""
    from sklearn.metrics import precision_recall_curve

    precision, recall, _ = precision_recall_curve(labels, scores)
    idx = np.unique(np.linspace(0, len(recall) - 1, points).round().astype(int))
    return [[round(float(recall[i]), 4), round(float(precision[i]), 4)] for i in idx]


def at_threshold(labels, scores, threshold: float) -> dict:
    labels = np.asarray(labels).astype(int)
    flags = np.asarray(scores) >= threshold
    tp = int((flags & (labels == 1)).sum())
    fp = int((flags & (labels == 0)).sum())
    fn = int((~flags & (labels == 1)).sum())
    tn = int((~flags & (labels == 0)).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "threshold": float(threshold),
        "confusion_matrix": {"tp": tp, "fp": fp, "fn": fn, "tn": tn},
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
    }


def ranking(labels, scores) -> dict:
    from sklearn.metrics import average_precision_score, roc_auc_score

    labels = np.asarray(labels).astype(int)
    if labels.min() == labels.max():
        return {"pr_auc": None, "roc_auc": None}
    out = {
        "pr_auc": round(float(average_precision_score(labels, scores)), 4),
        "roc_auc": round(float(roc_auc_score(labels, scores)), 4),
        "positive_rate": round(float(labels.mean()), 4),
    }
    for p in RECALL_AT_PRECISION:
        out[f"recall_at_precision_{p:g}"] = round(_recall_at_precision(labels, scores, p), 4)
    return out


def per_family(labels, scores, families, threshold: float) -> dict:
    """For each anomaly family: its count, recall at the threshold and PR-AUC vs all normals."""
    from sklearn.metrics import average_precision_score

    labels = np.asarray(labels).astype(int)
    scores = np.asarray(scores)
    normal = labels == 0
    out = {}
    for family in sorted({f for f, y in zip(families, labels, strict=True) if y == 1 and f}):
        mine = (np.asarray(families) == family) & (labels == 1)
        keep = mine | normal
        out[family] = {
            "n": int(mine.sum()),
            "recall": round(float((scores[mine] >= threshold).mean()), 4),
            "pr_auc": round(float(average_precision_score(mine[keep], scores[keep])), 4),
        }
    return out


def evaluate_scores(labels, scores, threshold: float, families=None, curve: bool = True) -> dict:
    """All metrics of one scored, labelled set."""
    out = {"n": int(len(labels)), **ranking(labels, scores), **at_threshold(labels, scores,
                                                                             threshold)}
    if families is not None:
        out["per_family"] = per_family(labels, scores, families, threshold)
    if curve and out["pr_auc"] is not None:
        out["pr_curve"] = pr_curve_points(labels, scores)
    return out


def balanced_log_loss(labels, probabilities) -> float:
    """Mean of the two classes' mean log loss: how sure the scores are, at any prevalence."""
    labels = np.asarray(labels).astype(int)
    p = np.clip(np.asarray(probabilities, dtype=np.float64), 1e-7, 1 - 1e-7)
    losses = [-np.log(p[labels == 1]).mean(), -np.log(1 - p[labels == 0]).mean()]
    return float(np.mean(losses))
