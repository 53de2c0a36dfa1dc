"""Run the encoder over token-id lists in length-sorted batches that fit a token budget.

Shared by the scorer (SQL) and training, so both pool exactly the same way.

On the CPU a batch holds one padded width only, so a text's embedding never depends on its
batch neighbours. On a GPU that rule would cut a DuckDB chunk of mixed-length rows into many
small launches; there batches mix widths (sorted, so padding stays small) up to a token budget
sized for the device, the next batch is padded into pinned memory by a producer thread while
the current one runs, copies are non-blocking, and an out-of-memory error halves the batch.
"""

from __future__ import annotations

import queue
import threading

# Rows x padded tokens per forward pass: large enough to keep the cores busy, small enough
# that activations stay in cache on a CPU and in memory on a GPU.
TOKEN_BUDGET = {"cpu": 8192, "cuda": 262_144}
MAX_ROWS = {"cpu": 128, "cuda": 2048}
PREFETCH = 2  # batches padded ahead of the GPU


def device_kind(device: str) -> str:
    return "cuda" if str(device).startswith("cuda") else "cpu"


def length_sorted_batches(lengths: list[int], token_budget: int, max_rows: int,
                          mixed_widths: bool = False):
    """Yield lists of row indices, shortest texts first, each within the token budget.

    By default a batch never mixes two lengths (pass padded widths): each text is then encoded
    at its own width, so its embedding does not depend on which texts share its batch. With
    `mixed_widths` a batch grows while rows x its widest row stays within the budget.
    """
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    start = 0
    while start < len(order):
        stop = start + 1
        width = lengths[order[start]]
        while stop < len(order) and stop - start < max_rows:
            next_width = lengths[order[stop]]
            if next_width != width and not mixed_widths:
                break
            if (stop - start + 1) * next_width > token_budget:
                break
            width = next_width
            stop += 1
        yield order[start:stop]
        start = stop


class OomRetry:
    """Counts the out-of-memory retries of one scorer or run (halvings, smallest batch)."""

    def __init__(self):
        self.halvings = 0
        self.smallest_rows: int | None = None

    def note(self, rows: int) -> None:
        self.halvings += 1
        self.smallest_rows = rows if self.smallest_rows is None else min(self.smallest_rows,
                                                                         rows)


def is_oom(exc: BaseException) -> bool:
    """Is `exc` a CUDA out-of-memory error (the only error worth retrying smaller)?"""
    import torch

    return isinstance(exc, torch.cuda.OutOfMemoryError) or "out of memory" in str(exc)


def _prefetched(make, batches, depth: int = PREFETCH):
    """Yield make(batch) for each batch, computed up to `depth` ahead on a producer thread."""
    slots: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def produce():
        try:
            for batch in batches:
                if stop.is_set():
                    return
                slots.put((batch, make(batch), None))
        except BaseException as exc:  # handed to the consumer, which re-raises it
            slots.put((None, None, exc))
        slots.put((done, None, None))

    worker = threading.Thread(target=produce, name="duckbert-pad", daemon=True)
    worker.start()
    try:
        while True:
            batch, made, error = slots.get()
            if error is not None:
                raise error
            if batch is done:
                return
            yield batch, made
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            try:
                slots.get_nowait()
            except queue.Empty:
                worker.join(timeout=0.01)


def _forward(model, input_ids, mask, autocast_dtype):
    import torch

    with torch.inference_mode():
        if autocast_dtype is not None:
            with torch.autocast("cuda", dtype=autocast_dtype):
                return model.embed(input_ids, mask)
        return model.embed(input_ids, mask)


def iter_pooled(model, ids: list[list[int]], device: str, precision: str = "fp32",
                token_budget: int | None = None, max_rows: int | None = None,
                retries: OomRetry | None = None):
    """Yield (row indices, pooled embeddings on `device`, their token ids) per batch."""
    import torch

    kind = device_kind(device)
    token_budget = token_budget or TOKEN_BUDGET[kind]
    max_rows = max_rows or MAX_ROWS[kind]
    lengths = [model.tokenizer.padded_length(len(x)) for x in ids]
    batches = length_sorted_batches(lengths, token_budget, max_rows, mixed_widths=kind == "cuda")
    if kind == "cpu":
        for rows in batches:
            batch_ids = [ids[r] for r in rows]
            input_ids, mask = model.tokenizer.batch(batch_ids)
            yield rows, _forward(model, input_ids, mask, None), batch_ids
        return

    autocast_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)

    def pad_pinned(rows):
        input_ids, mask = model.tokenizer.batch([ids[r] for r in rows])
        return input_ids.pin_memory(), mask.pin_memory()

    for rows, (input_ids, mask) in _prefetched(pad_pinned, batches):
        yield from _run_halving(model, ids, rows, input_ids, mask, device, autocast_dtype,
                                retries)


def _run_halving(model, ids, rows, input_ids, mask, device, autocast_dtype, retries):
    """One GPU batch; on out-of-memory, free the cache and run its two halves instead."""
    import torch

    try:
        pooled = _forward(model, input_ids.to(device, non_blocking=True),
                          mask.to(device, non_blocking=True), autocast_dtype)
    except RuntimeError as exc:
        if not is_oom(exc) or len(rows) == 1:
            raise
        torch.cuda.empty_cache()
        half = len(rows) // 2
        if retries is not None:
            retries.note(half)
        for part in (slice(0, half), slice(half, None)):
            yield from _run_halving(model, ids, rows[part], input_ids[part], mask[part], device,
                                    autocast_dtype, retries)
        return
    yield rows, pooled, [ids[r] for r in rows]


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
