"""Few labels or none: k-nearest-neighbour distance in BERT embedding space.

Abuse sessions are rare and unlike the bulk of human sessions, so their k-th nearest
neighbour among known sessions is far away. They also come in campaigns of near-identical
sessions (one bot, one script), so k must reach past a campaign: 1% of the references
(at least 10). On the 3,000-user benchmark warehouse, PR-AUC over all labelled sessions was
0.094 at k = 10, 0.166 at 50, 0.193 at 100 (1%), 0.185 at 200.

The detector is a set of reference embeddings (`udf.heads.KnnHead`), saved as safetensors
like any other head; its raw distance is mapped to [0, 1] by the references' own
leave-one-out distance distribution.
"""

from __future__ import annotations

import numpy as np
import torch

from udf.heads import KnnHead

MAX_REFERENCE = 8000
MIN_K = 10
K_SHARE = 0.01
K_CHOICES = (0.0025, 0.005, 0.01, 0.02, 0.05)  # shares of the references validation picks from


def fit_knn(pooled: np.ndarray, seed: int, k: int | None = None,
            max_reference: int = MAX_REFERENCE) -> KnnHead:
    """A KnnHead over a seeded sample of (mostly unlabelled) session embeddings;
    k defaults to 1% of the references, at least 10."""
    rng = np.random.default_rng(seed)
    rows = np.arange(len(pooled))
    if len(rows) > max_reference:
        rows = np.sort(rng.choice(rows, size=max_reference, replace=False))
    if k is None:
        k = max(MIN_K, round(K_SHARE * len(rows)))
    head = KnnHead(pooled.shape[1], n_reference=len(rows), k=min(k, max(1, len(rows) - 1)))
    with torch.no_grad():
        head.reference.copy_(torch.from_numpy(pooled[rows]))
        head.fit_cdf()
    return head.eval()


def knn_scores(head: KnnHead, pooled: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return np.concatenate([
            head.probability(chunk).numpy()
            for chunk in torch.from_numpy(pooled).split(2048)
        ]) if len(pooled) else np.zeros(0)


def choose_k(reference: np.ndarray, val_pooled: np.ndarray, val_labels: np.ndarray, seed: int,
             log=print) -> tuple[int, dict]:
    """k with the best validation PR-AUC among `K_CHOICES` shares of the references (at least
    MIN_K); a tie keeps the smaller k."""
    from sklearn.metrics import average_precision_score

    n = min(len(reference), MAX_REFERENCE)
    ks = sorted({min(max(MIN_K, round(share * n)), max(1, n - 1)) for share in K_CHOICES})
    trials = {}
    for k in ks:
        head = fit_knn(reference, seed, k=k)
        trials[k] = float(average_precision_score(val_labels, knn_scores(head, val_pooled)))
    best = max(ks, key=lambda k: (trials[k], -k))
    log("  kNN k on validation (PR-AUC): " + ", ".join(
        f"{k} {auc:.4f}" for k, auc in trials.items()) + f" -> k = {best}")
    return best, {"k_trials_val_pr_auc": {str(k): round(v, 4) for k, v in trials.items()}}
