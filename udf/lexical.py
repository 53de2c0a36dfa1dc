"""Hashed bag of word n-grams with tf-idf weights: the lexical half of the scoring head.

A frozen sentence encoder blurs exact words and their order (a promotional review, "2s
purchase same" three times); this sparse view keeps them. Words are what a TF-IDF baseline
sees (`\\w+` runs and `$ * +` marks, lower case); unigrams, bigrams and trigrams of them are
hashed into one space of `buckets` indices, so the artifact stores weights, not a vocabulary.
Everything after the regex split is vectorized over the batch.
"""

from __future__ import annotations

import re
import zlib
from itertools import chain

import numpy as np

WORD = re.compile(r"\w+|[$*+]+")
# The same split for ASCII text, where \w is [0-9a-z_] once lower-cased: a third faster.
_ASCII_WORD = re.compile(r"[0-9a-z_]+|[$*+]+")
_CRC: dict[str, int] = {}  # crc32 of recent words: session texts reuse a small vocabulary
_CRC_MAX = 1 << 17
_MIX = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F),
        np.uint64(0x165667B19E3779F9))
_ORDER = (np.uint64(0), np.uint64(0x27D4EB2F165667C5), np.uint64(0x85EBCA77C2B2AE63))


def _crc(word: str) -> int:
    value = zlib.crc32(word.encode("utf-8", "surrogatepass"))
    if len(_CRC) >= _CRC_MAX:
        _CRC.clear()  # bounded: a stream of distinct numbers must not grow it forever
    _CRC[word] = value
    return value


def word_hashes(text: str) -> list[int]:
    """crc32 of each lower-cased word of `text`."""
    text = text.lower()
    words = (_ASCII_WORD if text.isascii() else WORD).findall(text)
    hashes = list(map(_CRC.get, words))
    if None in hashes:
        hashes = [_crc(w) if h is None else h for w, h in zip(words, hashes, strict=True)]
    return hashes


class NgramHasher:
    """Maps texts to sparse (index, weight) bags of hashed word 1..max_n-grams."""

    def __init__(self, buckets: int = 1 << 18, max_n: int = 3):
        if not 1 <= int(max_n) <= 3:
            raise ValueError("max_n must be 1, 2 or 3")
        self.buckets = int(buckets)
        self.max_n = int(max_n)
        self.size = self.buckets

    def config(self) -> dict:
        return {"kind": "word_ngrams", "buckets": self.buckets, "max_n": self.max_n}

    def _keys(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, int]:
        """(row of each n-gram, its bucket) over all texts; n-grams never cross texts."""
        words = [word_hashes(t) for t in texts]
        n = len(words)
        lengths = np.fromiter(map(len, words), dtype=np.int64, count=n)
        flat = np.fromiter(chain.from_iterable(words), dtype=np.uint64,
                           count=int(lengths.sum()))
        row_of = np.repeat(np.arange(n, dtype=np.int64), lengths)
        rows, grams = [], []
        with np.errstate(over="ignore"):
            for order in range(self.max_n):
                if flat.size <= order:
                    break
                key = np.full(flat.size - order, _ORDER[order], dtype=np.uint64)
                for k in range(order + 1):
                    key = key + flat[k : flat.size - order + k] * _MIX[k]
                same = row_of[: flat.size - order] == row_of[order:]
                key = key[same]
                key ^= key >> np.uint64(29)
                rows.append(row_of[: flat.size - order][same])
                grams.append((key % np.uint64(self.buckets)).astype(np.int64))
        if not rows:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), n
        return np.concatenate(rows), np.concatenate(grams), n

    def counts(self, texts: list[str]):
        """Sorted unique (row, index) pairs and their counts."""
        rows, grams, n = self._keys(texts)
        keys, counts = np.unique(rows * self.size + grams, return_counts=True)
        key_rows, index = np.divmod(keys, self.size)
        return key_rows, index, counts, n

    def document_frequency(self, texts: list[str], chunk: int = 4096) -> np.ndarray:
        """How many texts contain each n-gram bucket (for the idf fitted at training)."""
        df = np.zeros(self.size, dtype=np.float64)
        for start in range(0, len(texts), chunk):
            _, index, _, _ = self.counts(texts[start : start + chunk])
            np.add.at(df, index, 1)
        return df

    @staticmethod
    def idf(df: np.ndarray, n_docs: int) -> np.ndarray:
        """Smoothed inverse document frequency, as scikit-learn's TfidfVectorizer computes it."""
        return (np.log((1.0 + n_docs) / (1.0 + df)) + 1.0).astype(np.float32)

    def weighted(self, texts: list[str], idf: np.ndarray):
        """Flat (indices, offsets, weights) for torch's EmbeddingBag: sublinear tf * idf, L2."""
        if not texts:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
        key_rows, index, counts, n = self.counts(texts)
        w = (1.0 + np.log(counts)) * idf[index]
        norms = np.sqrt(np.bincount(key_rows, weights=w * w, minlength=n))
        w = w / np.where(norms > 0, norms, 1.0)[key_rows]
        offsets = np.searchsorted(key_rows, np.arange(n, dtype=np.int64))
        return index.astype(np.int64), offsets.astype(np.int64), w.astype(np.float32)

    def bags(self, texts: list[str], idf: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per-text (indices, weights), exactly as `weighted` lays them out."""
        index, offsets, weights = self.weighted(texts, idf)
        ends = [*offsets[1:].tolist(), len(index)]
        return [(index[a:b], weights[a:b]) for a, b in zip(offsets.tolist(), ends, strict=True)]
