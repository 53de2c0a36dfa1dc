"""Frozen-encoder embeddings for training, cached on disk by (encoder, text).

Head mode, unsupervised mode, --resume and the quality benchmark all read the same sessions
through the same frozen encoder; encoding is most of their cost on a CPU, so each pooled vector
is computed once per encoder. Files are plain .npy arrays (no pickle), written atomically.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from udf.cache import text_key


def encoder_key(model) -> str:
    """Identity of an encoder's weights and input length: a hash over its parameters."""
    import hashlib

    digest = hashlib.blake2b(digest_size=10)
    digest.update(str(model.tokenizer.max_length).encode())
    for name, tensor in sorted(model.encoder.state_dict().items()):
        digest.update(name.encode())
        flat = tensor.detach().float().flatten()
        digest.update(flat[:: max(1, flat.numel() // 4096)].numpy().tobytes())
        digest.update(str(float(flat.sum())).encode())
    return digest.hexdigest()


class EmbeddingCache:
    """Pooled vectors of one encoder, keyed by text digest, in `<dir>/<encoder key>.npz`."""

    def __init__(self, directory: str | os.PathLike | None, key: str):
        self.path = Path(directory) / f"{key}.npz" if directory else None
        self._vectors: dict[bytes, np.ndarray] = {}
        if self.path and self.path.exists():
            try:
                with np.load(self.path, allow_pickle=False) as data:
                    keys, vectors = data["keys"], data["vectors"]
                self._vectors = {k.tobytes(): v for k, v in zip(keys, vectors, strict=True)}
            except (OSError, ValueError, KeyError):
                self._vectors = {}  # a damaged cache is only a slower run

    def lookup(self, texts: list[str]) -> tuple[list[bytes], list[int]]:
        keys = [text_key(t) for t in texts]
        missing = [i for i, k in enumerate(keys) if k not in self._vectors]
        return keys, missing

    def get(self, keys: list[bytes]) -> np.ndarray:
        return np.stack([self._vectors[k] for k in keys]) if keys else np.zeros((0, 0))

    def put(self, keys: list[bytes], vectors: np.ndarray) -> None:
        for key, vector in zip(keys, vectors, strict=True):
            self._vectors[key] = vector

    def save(self) -> None:
        if not self.path or not self._vectors:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = np.frombuffer(b"".join(self._vectors), dtype=np.uint8).reshape(-1, 16)
        vectors = np.stack(list(self._vectors.values())).astype(np.float32)
        tmp = self.path.with_name(f".{self.path.stem}.{os.getpid()}.npz")
        np.savez(tmp, keys=keys, vectors=vectors)
        os.replace(tmp, self.path)


def embed_texts(model, texts: list[str], ids: list[list[int]], device: str,
                cache_dir=None, progress: bool = True, desc: str = "encoding") -> np.ndarray:
    """Pooled embeddings of `texts` (whose token ids are `ids`), via the disk cache."""
    from tqdm.auto import tqdm

    from udf.encode import embed_ids

    cache = EmbeddingCache(cache_dir, encoder_key(model))
    keys, missing = cache.lookup(texts)
    if missing:
        bar = tqdm(total=len(missing), desc=desc, unit="session", disable=not progress,
                   leave=False)
        fresh = embed_ids(model, [ids[i] for i in missing], device, progress=bar.update)
        bar.close()
        cache.put([keys[i] for i in missing], fresh)
        cache.save()
    return cache.get(keys).astype(np.float32)
