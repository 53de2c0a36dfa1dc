"""Score session texts with a loaded duckbert model: dedup, cache, sort, batch, scatter.

One `Scorer` per (artifact, device, precision) per process, shared by every DuckDB
connection and thread (`get_scorer`). A call drops NULLs, deduplicates identical texts, serves
repeats from an LRU cache keyed by text digest, sorts the rest by token length so padding is
small, runs sub-batches that fit a token budget under `torch.inference_mode`, and scatters
the scores back into the caller's order.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path

from udf.batching import Coalescer
from udf.cache import ScoreCache, text_key
from udf.encode import OomRetry
from udf.pool import ScorerPool
from udf.text_format import check_texts


class Scorer:
    """A model ready to score: weights loaded once, on one device, one backend and precision."""

    def __init__(self, model_dir: str | Path, device: str | None = None,
                 precision: str | None = None, cache_size: int | None = None,
                 use_store: bool = True, backend: str | None = None,
                 score_store: bool = True):
        from udf.artifact import load_model
        from udf.backends import build_runner
        from udf.device import choose_device
        from udf.device_check import check_for
        from udf.serving import choose

        self.model_dir = Path(model_dir).resolve()
        self.model, self.meta = load_model(self.model_dir)
        self.device = choose_device(device)
        if precision and "-" in precision:  # a variant name such as onnx-int8
            backend, precision = precision.split("-", 1)
        check = self.meta.get("precision_check")
        if self.device.startswith("cuda"):
            # CPU figures say nothing of a GPU: its own check, stored or measured now
            wanted = (precision or os.environ.get("DUCKBERT_PRECISION") or "auto").strip()
            check = check_for(self.model_dir, self.device, log=_log) \
                if wanted.lower() == "auto" else None
        planned = choose(self.device, check, precision, backend)
        self.runner, self.choice = build_runner(self.model, self.model_dir, self.meta,
                                                self.device, planned)
        self.backend, self.precision = self.choice.backend, self.choice.precision
        self.variant = self.choice.variant
        self.version = self.meta["version"]
        self.text_format = self.meta.get("text_format")
        self.name = f"model {self.meta.get('name', '?')}@{self.version}"
        self.threshold = float(self.meta["threshold"])
        self.max_length = self.model.tokenizer.max_length
        self.max_rows = self.runner.max_rows if self.backend == "torch" else 128
        if cache_size is None:
            cache_size = int(os.environ.get("DUCKBERT_CACHE_SIZE", "200000"))
        self.cache = ScoreCache(cache_size)
        self._coalescer = Coalescer(self._score_unique)
        from udf import score_store as stored

        # Stored scores of this model and variant (udf/score_store.py); off when uncached.
        self.score_store = stored.ScoreStore(self.model_dir, self.version, self.variant) \
            if score_store and cache_size != 0 and stored.enabled() else None
        self.rows_scored = 0
        self.forward_rows = 0
        self.store_hits = 0
        self.oom_retries = getattr(self.runner, "retries", None) or OomRetry()
        self._store = None
        # Stored vectors are the reference (torch fp32) embeddings: any variant may use them.
        self._store_wanted = use_store and os.environ.get("DUCKBERT_EMBEDDING_STORE",
                                                          "1") != "0"

    # -- public API ---------------------------------------------------------------------

    def score(self, texts: Sequence[str | None], count: bool = True) -> list[float | None]:
        """Scores in [0, 1] aligned with `texts`; None where the text is None.

        `count`: the rows count as scored in the progress report (explanations pass False).
        """
        out: list[float | None] = [None] * len(texts)
        positions: dict[bytes, list[int]] = {}
        first_text: dict[bytes, str] = {}
        for i, text in enumerate(texts):
            if text is None:
                continue
            if not isinstance(text, str):
                raise TypeError(f"session_text must be a string, got {type(text).__name__}")
            key = text_key(text)
            if key not in positions:
                positions[key] = []
                first_text[key] = text
            positions[key].append(i)
        keys = list(positions)
        cached = self.cache.get_many(keys)
        missing = [key for key, value in zip(keys, cached, strict=True) if value is None]
        # Only uncached texts: a cached one was checked before its score was kept.
        check_texts([first_text[k] for k in missing], self.text_format, self.name)
        fresh: dict[bytes, float] = {}
        if missing and self.score_store is not None:
            from udf.score_store import text_sha256

            found = self.score_store.get_many([text_sha256(first_text[k]) for k in missing])
            fresh = {k: v for k, v in zip(missing, found, strict=True) if v is not None}
            self.cache.put_many(fresh)
            missing = [k for k in missing if k not in fresh]
        if missing:
            fresh.update(zip(missing, self._coalescer.submit([first_text[k] for k in missing]),
                             strict=True))
        for key, value in zip(keys, cached, strict=True):
            score = value if value is not None else fresh[key]
            for i in positions[key]:
                out[i] = score
        self.rows_scored += len(texts)
        if count:
            from udf.progress import PROGRESS

            PROGRESS.advance(rows=len(texts))
        return out

    def score_arrow(self, array):
        """pyarrow DOUBLE array of scores for a pyarrow string array (nulls stay null)."""
        import pyarrow as pa

        return pa.array(self.score(array.to_pylist()), type=pa.float64())

    def embed(self, texts: Sequence[str]):
        """Pooled, normalized embeddings (float32 numpy, one row per text), uncached."""
        import numpy as np

        ids = self.model.tokenizer.ids(list(texts))
        out = np.zeros((len(ids), self.model.hidden_size), dtype=np.float32)
        for rows, pooled in self.runner.batches(ids):
            out[rows] = pooled.float().cpu().numpy()
        return out

    def info(self) -> dict:
        from udf.artifact import model_info

        return {**model_info(self.meta, self.model_dir), "device": self.device,
                "precision": self.precision, "backend": self.backend,
                "serving": self.variant, "serving_reason": self.choice.reason}

    # -- internals ----------------------------------------------------------------------

    def _embedding_store(self):
        """The training run's stored fp32 embeddings for this encoder, if any (loaded once)."""
        if self._store is None and self._store_wanted:
            from udf.embedding_store import EmbeddingStore

            self._store_wanted = False
            key, where = self.meta.get("encoder_key"), self.meta.get("embedding_store")
            if key and where:
                store = EmbeddingStore((self.model_dir / where).resolve(), key)
                if len(store) and store.dim == self.model.hidden_size:  # else: ignore it
                    self._store = store
        return self._store

    def _score_unique(self, texts: list[str]) -> list[float]:
        """Score texts that missed the cache (one coalesced job), then fill the cache."""
        import torch

        unique = list(dict.fromkeys(texts))
        # A job that waited behind another may ask for texts that job has just scored.
        cached = self.cache.peek_many([text_key(t) for t in unique])
        scores: dict[str, float] = {t: v for t, v in zip(unique, cached, strict=True)
                                    if v is not None}
        unique = [t for t in unique if t not in scores]
        ids = self.model.tokenizer.ids(unique)

        done_rows: list[int] = []
        done_probs = []  # on the device until the job ends: one host copy per job

        def head(rows, pooled):
            lexical = self.model.lexical_inputs([unique[r] for r in rows], device=self.device)
            with torch.inference_mode():
                done_probs.append(self.model.probability(pooled, lexical).double())
            done_rows.extend(rows)

        store = self._embedding_store()
        todo = list(range(len(unique)))
        if store is not None:
            keys = [text_key(t) for t in unique]
            known = [i for i in todo if store.get(keys[i]) is not None]
            todo = [i for i in todo if store.get(keys[i]) is None]
            for start in range(0, len(known), self.max_rows):
                rows = known[start : start + self.max_rows]
                pooled = torch.from_numpy(store.get_many([keys[r] for r in rows]))
                head(rows, pooled.to(self.device))
            self.store_hits += len(known)
        for local_rows, pooled, _ in self._forward_batches([ids[i] for i in todo]):
            head([todo[r] for r in local_rows], pooled)
        if done_probs:
            probs = torch.cat(done_probs).cpu().tolist()
            for row, prob in zip(done_rows, probs, strict=True):
                scores[unique[row]] = float(prob)
        self.cache.put_many({text_key(t): s for t, s in scores.items()})
        if self.score_store is not None:
            from udf.score_store import text_sha256

            self.score_store.put_many({text_sha256(t): scores[t] for t in unique})
        return [scores[t] for t in texts]

    def _forward_batches(self, ids: list[list[int]]):
        from udf.progress import PROGRESS

        for rows, pooled in self.runner.batches(ids):
            self.forward_rows += len(rows)
            PROGRESS.advance(encoded=len(rows))
            yield rows, pooled, None


def _log(message: str) -> None:
    import sys

    print(message, file=sys.stderr, flush=True)


# at most DUCKBERT_MAX_MODELS loaded models per process, least recently used out (udf.pool)
_POOL = ScorerPool()
# what the last scorer loaded for each artifact serves, for anomaly_model()
_SERVING: dict[str, tuple] = {}
_SERVING_LOCK = threading.Lock()


def get_scorer(model_dir: str | Path, device: str | None = None,
               precision: str | None = None, backend: str | None = None) -> Scorer:
    """The process-wide Scorer for an artifact: loaded on first use, then shared (at most
    DUCKBERT_MAX_MODELS of them, udf.pool)."""
    from udf.artifact import META_FILE

    path = Path(model_dir).resolve()
    try:
        stamp = (path / META_FILE).stat().st_mtime_ns
    except OSError:
        stamp = None
    settings = tuple(os.environ.get(k) for k in ("DUCKBERT_DEVICE", "DUCKBERT_PRECISION",
                                                  "DUCKBERT_BACKEND"))
    key = (str(path), stamp, device, precision, backend, settings)

    def load() -> Scorer:
        scorer = Scorer(path, device=device, precision=precision, backend=backend)
        with _SERVING_LOCK:
            _SERVING[str(path)] = (scorer.choice, scorer.device)
        return scorer

    return _POOL.get(key, load)


def serving_info(model_dir: str | Path, meta: dict) -> dict:
    """What serves the artifact and why: the loaded Scorer's choice (fallbacks included), or
    the plan when none is loaded yet; with the decision figures behind it."""
    from udf.serving import POLICY, approvals

    path = str(Path(model_dir).resolve())
    with _SERVING_LOCK:
        loaded = _SERVING.get(path)
    if loaded:
        choice, device = loaded
    else:
        from udf.device import choose_device
        from udf.serving import choose

        device = choose_device()
    check = meta.get("precision_check")
    if device.startswith("cuda"):
        from udf.device_check import stored_check

        check = stored_check(model_dir, device)  # measured on this GPU kind, or none yet
    if not loaded:
        choice = choose(device, check)
    figures = {name: {k: f.get(k) for k in ("approved", "flag_agreement", "pr_auc_delta",
                                            "rows_per_s", "why")}
               for name, f in approvals(check).items()}
    return {"serving": choice.variant, "serving_reason": choice.reason, "device": device,
            "serving_loaded": bool(loaded), "decision_policy": POLICY, "decisions": figures}


def clear_scorers() -> None:
    """Forget loaded models (tests, and long-lived processes after retraining)."""
    _POOL.clear()
    with _SERVING_LOCK:
        _SERVING.clear()


def loaded_scorers() -> list[tuple]:
    """Keys (path, stamp, device, precision) of the loaded models, least recently used first."""
    return _POOL.keys()
