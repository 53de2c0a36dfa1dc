"""Scoring heads that sit on the pooled BERT embedding.

Both heads map a batch to a probability-like score in [0, 1], higher = more anomalous:
- `ClassifierHead`: the seed's fully connected layer (optionally one hidden layer) plus an
  optional lexical term, trained with binary cross-entropy;
- `KnnHead`: the unsupervised detector, distance to the k-th nearest reference session,
  mapped to [0, 1] by the empirical distribution of reference distances.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def rowwise_matmul(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """x @ weight.T, each row computed as its own 1-row product (a batched matmul).

    BLAS picks other kernels, with other summation orders, for other row counts (MKL does
    below 12 rows and for counts that are not a multiple of 4), so a plain matmul would move
    one session's score in the last bits with the number of sessions scored alongside it.
    """
    return torch.bmm(x.unsqueeze(1), weight.T.unsqueeze(0).expand(x.shape[0], -1, -1)).squeeze(1)


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def stable_sigmoid(logits: torch.Tensor) -> torch.Tensor:
    """sigmoid, float64, the same scalar code for every element (inference only).

    torch runs a vectorized kernel over most of a tensor and a scalar one over its tail, and
    the two round differently, so torch.sigmoid would make a score depend on the session's
    position in its batch. One scalar libm call per session costs well under a microsecond.
    On a GPU, where batches mix widths anyway, it stays on the device: no host round trip.
    """
    if logits.is_cuda:
        return torch.sigmoid(logits.detach().double())
    values = logits.detach().double().cpu().reshape(-1).tolist()
    out = torch.tensor([_sigmoid(v) for v in values], dtype=torch.float64)
    return out.reshape(logits.shape).to(logits.device)


def _mlp_forward(mlp: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """`mlp(x)`; at inference (no grad) with batch-size-independent Linear layers."""
    if torch.is_grad_enabled() or x.is_cuda:
        return mlp(x)
    for layer in mlp:
        if isinstance(layer, nn.Linear):
            x = rowwise_matmul(x, layer.weight)
            if layer.bias is not None:
                x = x + layer.bias
        else:
            x = layer(x)
    return x


class ClassifierHead(nn.Module):
    """logit = mlp(embedding) + scale * (w . tfidf + b); probability = sigmoid(logit).

    The lexical term is a logistic regression over hashed n-grams; `scale` lets the head
    learn how far to trust it next to the embedding.
    """

    kind = "classifier"

    def __init__(self, hidden_size: int, hidden_units: int = 0, dropout: float = 0.1,
                 lexical_size: int = 0):
        super().__init__()
        self.hidden_units = int(hidden_units)
        self.dropout_p = float(dropout)
        if self.hidden_units:
            self.mlp = nn.Sequential(
                nn.Dropout(dropout),
                nn.Linear(hidden_size, self.hidden_units),
                nn.GELU(),
                nn.Dropout(dropout),
                nn.Linear(self.hidden_units, 1),
            )
        else:
            self.mlp = nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden_size, 1))
        self.lexical_size = int(lexical_size)
        if self.lexical_size:
            self.lexical = nn.EmbeddingBag(self.lexical_size, 1, mode="sum")
            nn.init.zeros_(self.lexical.weight)
            self.lexical_bias = nn.Parameter(torch.zeros(()))
            self.lexical_scale = nn.Parameter(torch.ones(()))
            self.register_buffer("idf", torch.ones(self.lexical_size))
        else:
            self.lexical = None

    def config(self) -> dict:
        return {
            "kind": self.kind,
            "hidden_units": self.hidden_units,
            "dropout": self.dropout_p,
            "lexical_size": self.lexical_size,
        }

    def lexical_logit(self, lexical) -> torch.Tensor:
        """w . tfidf + b for EmbeddingBag inputs (indices, offsets, weights)."""
        indices, offsets, weights = lexical
        return self.lexical(indices, offsets, per_sample_weights=weights).squeeze(-1) + \
            self.lexical_bias

    def logits(self, pooled: torch.Tensor, lexical=None, lexical_logit=None) -> torch.Tensor:
        """Logits; the lexical part from bags, or precomputed as `lexical_logit`."""
        out = _mlp_forward(self.mlp, pooled.float()).squeeze(-1)
        if self.lexical is not None:
            if lexical_logit is None and lexical is not None:
                lexical_logit = self.lexical_logit(lexical)
            if lexical_logit is not None:
                out = out + self.lexical_scale * lexical_logit
        return out

    def probability(self, pooled: torch.Tensor, lexical=None) -> torch.Tensor:
        logits = self.logits(pooled, lexical)
        return torch.sigmoid(logits) if torch.is_grad_enabled() else stable_sigmoid(logits)


class KnnHead(nn.Module):
    """Unsupervised score: cosine distance to the k-th nearest reference embedding.

    The raw distance is mapped to [0, 1] through the reference sessions' own leave-one-out
    distances (an empirical CDF), so 0.99 reads "farther out than 99% of known sessions".
    """

    kind = "knn"

    def __init__(self, hidden_size: int, n_reference: int, k: int = 10, n_quantiles: int = 201):
        super().__init__()
        self.k = int(k)
        self.register_buffer("reference", torch.zeros(n_reference, hidden_size))
        self.register_buffer("cdf_distance", torch.linspace(0, 2, n_quantiles))
        self.register_buffer("cdf_level", torch.linspace(0, 1, n_quantiles))

    def config(self) -> dict:
        return {
            "kind": self.kind,
            "k": self.k,
            "n_reference": int(self.reference.shape[0]),
            "n_quantiles": int(self.cdf_distance.shape[0]),
        }

    def distance(self, pooled: torch.Tensor, exclude_self: bool = False) -> torch.Tensor:
        pooled = pooled.float()
        sims = pooled @ self.reference.T if torch.is_grad_enabled() else \
            rowwise_matmul(pooled, self.reference)
        k = min(self.k + int(exclude_self), sims.shape[1])
        kth = sims.topk(k, dim=1).values[:, -1]
        return 1.0 - kth

    def fit_cdf(self) -> None:
        """Set the distance-to-level map from the references' leave-one-out distances."""
        levels = self.cdf_level
        distances = torch.cat([
            self.distance(chunk, exclude_self=True) for chunk in self.reference.split(1024)
        ])
        self.cdf_distance.copy_(torch.quantile(distances, levels))

    def probability(self, pooled: torch.Tensor, lexical=None) -> torch.Tensor:
        d = self.distance(pooled)
        xs, ys = self.cdf_distance, self.cdf_level
        idx = torch.searchsorted(xs, d.contiguous()).clamp(1, xs.numel() - 1)
        x0, x1 = xs[idx - 1], xs[idx]
        y0, y1 = ys[idx - 1], ys[idx]
        t = ((d - x0) / (x1 - x0).clamp(min=1e-12)).clamp(0, 1)
        return (y0 + t * (y1 - y0)).clamp(0, 1)


def build_head(hidden_size: int, config: dict) -> nn.Module:
    """Rebuild a head from the `head` block of duckbert.json."""
    kind = config.get("kind")
    if kind == ClassifierHead.kind:
        return ClassifierHead(
            hidden_size,
            hidden_units=config.get("hidden_units", 0),
            dropout=config.get("dropout", 0.1),
            lexical_size=config.get("lexical_size", 0),
        )
    if kind == KnnHead.kind:
        return KnnHead(
            hidden_size,
            n_reference=config["n_reference"],
            k=config.get("k", 10),
            n_quantiles=config.get("n_quantiles", 201),
        )
    raise ValueError(f"unknown head kind {kind!r} in duckbert.json")
