"""Pooled fp32 embeddings on disk, keyed by (encoder, text): computed once, read by many.

Training encodes every labelled session with the frozen encoder; a head-mode model keeps
that encoder unchanged, so the first `dbt build` after training would encode the very same
texts again. Training writes the vectors here and records the store in duckbert.json; the
scorer reads it (fp32 only, so a stored vector is bit-identical to a fresh one) and encodes
only texts it has not seen. Files are plain .npz arrays (no pickle), replaced atomically.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import numpy as np

from udf.cache import text_key


def encoder_key(model) -> str:
    """Identity of an encoder's weights and input length: a hash over its parameters."""
    digest = hashlib.blake2b(digest_size=10)
    digest.update(str(model.tokenizer.max_length).encode())
    for name, tensor in sorted(model.encoder.state_dict().items()):
        if not tensor.is_floating_point():
            continue
        digest.update(name.encode())
        flat = tensor.detach().float().flatten()
        digest.update(flat[:: max(1, flat.numel() // 4096)].numpy().tobytes())
        digest.update(str(float(flat.sum())).encode())
    return digest.hexdigest()


class EmbeddingStore:
    """The vectors of one encoder, in `<directory>/<encoder key>.npz`."""

    def __init__(self, directory: str | os.PathLike | None, key: str):
        self.path = Path(directory) / f"{key}.npz" if directory else None
        self._vectors: dict[bytes, np.ndarray] = {}
        self._lock = threading.Lock()
        if self.path and self.path.exists():
            try:
                with np.load(self.path, allow_pickle=False) as data:
                    keys, vectors = data["keys"], data["vectors"]
                if (keys.dtype != np.uint8 or keys.ndim != 2 or keys.shape[1] != 16
                        or vectors.ndim != 2 or len(keys) != len(vectors)
                        or not np.isfinite(vectors).all()):
                    raise ValueError(f"{self.path} is not an embedding store")
                self._vectors = {k.tobytes(): v for k, v in zip(keys, vectors, strict=True)}
            except (OSError, ValueError, KeyError):
                self._vectors = {}  # a damaged store only makes a run slower

    @property
    def dim(self) -> int:
        """Width of the stored vectors (0 when empty)."""
        return len(next(iter(self._vectors.values()))) if self._vectors else 0

    def __len__(self) -> int:
        return len(self._vectors)

    def lookup(self, texts: list[str]) -> tuple[list[bytes], list[int]]:
        """Digests of `texts` and the positions of those not in the store."""
        keys = [text_key(t) for t in texts]
        missing = [i for i, k in enumerate(keys) if k not in self._vectors]
        return keys, missing

    def get(self, key: bytes) -> np.ndarray | None:
        return self._vectors.get(key)

    def get_many(self, keys: list[bytes]) -> np.ndarray:
        return np.stack([self._vectors[k] for k in keys]).astype(np.float32)

    def put(self, keys: list[bytes], vectors: np.ndarray) -> None:
        with self._lock:
            for key, vector in zip(keys, vectors, strict=True):
                self._vectors[key] = np.asarray(vector, dtype=np.float32)

    def save(self) -> None:
        if not self.path or not self._vectors:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            keys = np.frombuffer(b"".join(self._vectors), dtype=np.uint8).reshape(-1, 16)
            vectors = np.stack(list(self._vectors.values())).astype(np.float32)
        tmp = self.path.with_name(f".{self.path.stem}.{os.getpid()}.npz")
        np.savez(tmp, keys=keys, vectors=vectors)
        os.replace(tmp, self.path)
