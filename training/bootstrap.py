"""PR-AUC with a 95% bootstrap interval over test users, and paired differences.

Used by `duckbert train` (the model against its peers on the run's own test split, so that
any labelled warehouse says whether BERT earns its place there) and by `duckbert bench
quality` (every row's contenders).

Sessions of one user are not independent (a bot's sessions look alike), so the bootstrap
resamples users, not sessions: each replicate draws as many users as the test set has, with
replacement, and weights every session by how often its user was drawn. All models of a row
are scored on the same replicates, so the interval of a difference between two models is
paired. PR-AUC is average precision, as sklearn computes it (checked in the unit tests), but
vectorized over the replicates.
"""

from __future__ import annotations

import numpy as np

LEVEL = 0.95


def user_weights(users, replicates: int, seed: int) -> np.ndarray:
    """(replicates, sessions) weights: how often each session's user was drawn."""
    _, index = np.unique(np.asarray(users, dtype=str), return_inverse=True)
    n_users = int(index.max()) + 1 if len(index) else 0
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_users, size=(replicates, n_users))
    counts = np.stack([np.bincount(row, minlength=n_users) for row in draws])
    return counts[:, index].astype(np.float64)


def average_precision(labels, scores, weights: np.ndarray | None = None) -> np.ndarray:
    """Average precision of `scores` for each row of `weights` (one row of ones if None).

    Ties are one threshold, as in sklearn: sessions with equal scores enter together.
    Returns NaN for a replicate without a positive.
    """
    labels = np.asarray(labels, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    w = np.ones((1, len(labels))) if weights is None else np.atleast_2d(weights)
    order = np.argsort(-scores, kind="mergesort")
    y, s, w = labels[order], scores[order], w[:, order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # end of each run of equal scores
    tp = np.cumsum(w * y, axis=1)[:, last]
    fp = np.cumsum(w * (1.0 - y), axis=1)[:, last]
    positives = tp[:, -1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        recall = tp / positives
    step = np.diff(np.c_[np.zeros((len(w), 1)), recall], axis=1)
    out = (step * precision).sum(axis=1)
    out[positives[:, 0] <= 0] = np.nan
    return out


def interval(values: np.ndarray) -> list[float] | None:
    """The central LEVEL interval of bootstrap values (NaNs dropped)."""
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None
    tail = (1.0 - LEVEL) / 2 * 100
    lo, hi = np.percentile(values, [tail, 100 - tail])
    return [round(float(lo), 4), round(float(hi), 4)]


def pr_auc_with_interval(labels, scores, weights) -> dict:
    """{"pr_auc", "ci", "replicates"}: the point estimate on the test set and its interval."""
    point = average_precision(labels, scores)[0]
    replicates = average_precision(labels, scores, weights)
    return {"pr_auc": None if np.isnan(point) else round(float(point), 4),
            "ci": interval(replicates), "_replicates": replicates}


def paired_difference(a: dict, b: dict) -> dict:
    """PR-AUC of model a minus model b, with the interval over the same replicates."""
    diff = a["_replicates"] - b["_replicates"]
    return {"diff": round(a["pr_auc"] - b["pr_auc"], 4), "ci": interval(diff)}


def verdict(diff: dict) -> str:
    """Plain words for a paired difference: a clear lead, a clear deficit, or no difference."""
    ci = diff.get("ci")
    if ci is None:
        return "not measured"
    if ci[0] > 0:
        return "yes: ahead of the best peer"
    if ci[1] < 0:
        return "no: behind the best peer"
    return "no clear difference (interval includes 0)"


def public(metrics: dict) -> dict:
    """The metrics without the bootstrap replicates (for JSON and tables)."""
    return {k: v for k, v in metrics.items() if not k.startswith("_")}


REPLICATES = 1000  # bootstrap replicates of the training run's comparison with its peers
RIVALS = ("tfidf_logreg", "gbm_aggregates")  # the supervised peers the model must beat


def lead_over_best_peer(labels, users, scores, peer_scores: dict, seed: int,
                        replicates: int = REPLICATES) -> dict:
    """The model's test PR-AUC minus the best peer's, with the paired interval over test
    users and its verdict; {} when no peer has scores or the test split has no anomaly.

    The best peer is the one with the highest test PR-AUC of `peer_scores` ({name: test
    scores}, aligned with `labels`), as in the quality benchmark."""
    labels = np.asarray(labels, dtype=np.float64)
    if not peer_scores or labels.sum() <= 0 or labels.sum() >= labels.size:
        return {}
    weights = user_weights(users, replicates, seed)
    ours = pr_auc_with_interval(labels, scores, weights)
    rivals = {name: pr_auc_with_interval(labels, s, weights) for name, s in peer_scores.items()}
    best = max(rivals, key=lambda name: rivals[name]["pr_auc"])
    diff = paired_difference(ours, rivals[best])
    return {"best_peer": best, "pr_auc": ours["pr_auc"], "ci": ours["ci"],
            "best_peer_pr_auc": rivals[best]["pr_auc"], "best_peer_ci": rivals[best]["ci"],
            "diff": diff["diff"], "diff_ci": diff["ci"], "verdict": verdict(diff),
            "replicates": int(replicates), "test_users": len(set(map(str, users)))}
