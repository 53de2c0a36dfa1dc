"""Hashed bag of token n-grams with tf-idf weights: the lexical half of the scoring head.

A frozen sentence encoder blurs exact words (a promotional review, a brand repeated twenty
times); this sparse view keeps them. It reuses the WordPiece ids the encoder already needs, so
it costs one numpy pass per text. Index layout: unigram = token id; bigram = vocab_size +
hash(a, b) mod bigram_buckets.
"""

from __future__ import annotations

import numpy as np

_HASH_MULTIPLIER = 1_000_003


class NgramHasher:
    """Maps token-id lists to sparse (index, count) bags of unigrams and hashed bigrams."""

    def __init__(self, vocab_size: int, bigram_buckets: int = 1 << 18):
        self.vocab_size = int(vocab_size)
        self.bigram_buckets = int(bigram_buckets)
        self.size = self.vocab_size + self.bigram_buckets

    def bag(self, ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """Sorted unique n-gram indices of one text and their counts."""
        tokens = np.asarray(ids, dtype=np.int64)
        if tokens.size == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        bigrams = (tokens[:-1] * _HASH_MULTIPLIER + tokens[1:]) % self.bigram_buckets
        grams = np.concatenate([tokens, self.vocab_size + bigrams])
        index, counts = np.unique(grams, return_counts=True)
        return index, counts.astype(np.float32)

    def document_frequency(self, id_lists: list[list[int]]) -> np.ndarray:
        """How many texts contain each n-gram (for the idf weights fitted at training)."""
        df = np.zeros(self.size, dtype=np.float64)
        for ids in id_lists:
            index, _ = self.bag(ids)
            df[index] += 1
        return df

    @staticmethod
    def idf(df: np.ndarray, n_docs: int) -> np.ndarray:
        """Smoothed inverse document frequency, as scikit-learn's TfidfVectorizer computes it."""
        return (np.log((1.0 + n_docs) / (1.0 + df)) + 1.0).astype(np.float32)

    def weighted(self, id_lists: list[list[int]], idf: np.ndarray):
        """Flat (indices, offsets, weights) for torch's EmbeddingBag: sublinear tf * idf, L2."""
        indices, offsets, weights = [], [], []
        position = 0
        for ids in id_lists:
            index, counts = self.bag(ids)
            w = (1.0 + np.log(counts)) * idf[index]
            norm = float(np.sqrt(np.dot(w, w)))
            if norm > 0:
                w = w / norm
            offsets.append(position)
            indices.append(index)
            weights.append(w.astype(np.float32))
            position += index.size
        if not indices:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
        return (
            np.concatenate(indices),
            np.asarray(offsets, dtype=np.int64),
            np.concatenate(weights),
        )
