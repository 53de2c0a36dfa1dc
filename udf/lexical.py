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
        """Flat (indices, offsets, weights) for torch's EmbeddingBag: sublinear tf * idf, L2.

        Vectorized over the batch: one sort of (row, n-gram) keys instead of one per text.
        """
        n = len(id_lists)
        if n == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
        lengths = np.fromiter((len(ids) for ids in id_lists), dtype=np.int64, count=n)
        tokens = np.fromiter((t for ids in id_lists for t in ids), dtype=np.int64,
                             count=int(lengths.sum()))
        row_of = np.repeat(np.arange(n, dtype=np.int64), lengths)
        same_row = row_of[:-1] == row_of[1:]
        bigrams = self.vocab_size + (
            (tokens[:-1][same_row] * _HASH_MULTIPLIER + tokens[1:][same_row])
            % self.bigram_buckets)
        grams = np.concatenate([tokens, bigrams])
        rows = np.concatenate([row_of, row_of[:-1][same_row]])
        keys, counts = np.unique(rows * self.size + grams, return_counts=True)
        key_rows, index = np.divmod(keys, self.size)
        w = (1.0 + np.log(counts)) * idf[index]
        norms = np.sqrt(np.bincount(key_rows, weights=w * w, minlength=n))
        w = w / np.where(norms > 0, norms, 1.0)[key_rows]
        offsets = np.searchsorted(key_rows, np.arange(n, dtype=np.int64))
        return index.astype(np.int64), offsets.astype(np.int64), w.astype(np.float32)
