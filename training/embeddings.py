"""Frozen-encoder embeddings for training, through the shared on-disk store.

Head mode, unsupervised mode, --resume and the quality benchmark all read the same sessions
through the same frozen encoder; encoding is most of their cost on a CPU, so each pooled vector
is computed once per encoder (udf.embedding_store), and the scorer reuses them after training.
"""

from __future__ import annotations

import numpy as np

from udf.embedding_store import EmbeddingStore, encoder_key


def embed_texts(model, texts: list[str], ids: list[list[int]], device: str,
                store_dir=None, progress: bool = True, desc: str = "encoding") -> np.ndarray:
    """Pooled fp32 embeddings of `texts` (whose token ids are `ids`), via the store."""
    from tqdm.auto import tqdm

    from udf.encode import embed_ids

    store = EmbeddingStore(store_dir, encoder_key(model))
    keys, missing = store.lookup(texts)
    if missing:
        bar = tqdm(total=len(missing), desc=desc, unit="session", disable=not progress,
                   leave=False)
        fresh = embed_ids(model, [ids[i] for i in missing], device, progress=bar.update)
        bar.close()
        store.put([keys[i] for i in missing], fresh)
        store.save()
    return store.get_many(keys)
