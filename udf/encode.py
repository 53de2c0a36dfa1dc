"""Run the encoder over token-id lists in length-sorted batches that fit a token budget.

Shared by the scorer (SQL) and training, so both pool exactly the same way.
"""

from __future__ import annotations

# Rows x padded tokens per forward pass: large enough to keep the cores busy, small enough
# that activations stay in cache on a CPU and in memory on a GPU.
TOKEN_BUDGET = {"cpu": 8192, "cuda": 262_144}
MAX_ROWS = {"cpu": 128, "cuda": 2048}


def device_kind(device: str) -> str:
    return "cuda" if str(device).startswith("cuda") else "cpu"


def length_sorted_batches(lengths: list[int], token_budget: int, max_rows: int):
    """Yield lists of row indices, shortest texts first, each within the token budget.

    A batch never mixes two lengths (pass padded widths): each text is then encoded at its
    own width, so its embedding does not depend on which texts share its batch.
    """
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    start = 0
    while start < len(order):
        stop = start + 1
        width = lengths[order[start]]
        while (stop < len(order) and stop - start < max_rows
               and lengths[order[stop]] == width
               and (stop - start + 1) * width <= token_budget):
            stop += 1
        yield order[start:stop]
        start = stop


def iter_pooled(model, ids: list[list[int]], device: str, precision: str = "fp32",
                token_budget: int | None = None, max_rows: int | None = None):
    """Yield (row indices, pooled embeddings on `device`, their token ids) per batch."""
    import torch

    kind = device_kind(device)
    token_budget = token_budget or TOKEN_BUDGET[kind]
    max_rows = max_rows or MAX_ROWS[kind]
    lengths = [model.tokenizer.padded_length(len(x)) for x in ids]
    autocast = precision in ("bf16", "fp16") and kind == "cuda"
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    for rows in length_sorted_batches(lengths, token_budget, max_rows):
        batch_ids = [ids[r] for r in rows]
        input_ids, mask = model.tokenizer.batch(batch_ids)
        input_ids, mask = input_ids.to(device), mask.to(device)
        with torch.inference_mode():
            if autocast:
                with torch.autocast("cuda", dtype=dtype):
                    pooled = model.embed(input_ids, mask)
            else:
                pooled = model.embed(input_ids, mask)
        yield rows, pooled, batch_ids


def embed_ids(model, ids: list[list[int]], device: str = "cpu", precision: str = "fp32",
              progress=None):
    """Pooled embeddings (float32 numpy, one row per id list, in input order)."""
    import numpy as np

    out = np.zeros((len(ids), model.hidden_size), dtype=np.float32)
    for rows, pooled, _ in iter_pooled(model, ids, device, precision):
        out[rows] = pooled.float().cpu().numpy()
        if progress is not None:
            progress(len(rows))
    return out
