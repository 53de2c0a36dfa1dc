"""Few labels or none: k-nearest-neighbour distance in BERT embedding space.

Abuse sessions are rare and unlike the bulk of human sessions, so their k-th nearest
neighbour among known sessions is far away. The detector is a set of reference embeddings
(`udf.heads.KnnHead`), saved as safetensors like any other head; its raw distance is mapped
to [0, 1] by the references' own leave-one-out distance distribution.
"""

from __future__ import annotations

import numpy as np
import torch

from udf.heads import KnnHead

MAX_REFERENCE = 8000
DEFAULT_K = 10


def fit_knn(pooled: np.ndarray, seed: int, k: int = DEFAULT_K,
            max_reference: int = MAX_REFERENCE) -> KnnHead:
    """A KnnHead over a seeded sample of (mostly unlabelled) session embeddings."""
    rng = np.random.default_rng(seed)
    rows = np.arange(len(pooled))
    if len(rows) > max_reference:
        rows = np.sort(rng.choice(rows, size=max_reference, replace=False))
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
