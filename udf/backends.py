"""Encoder runners: token ids in, pooled embeddings out, on torch or on ONNX Runtime.

`build_runner` prepares the variant udf.serving chose: torch at fp32/bf16/int8 (length-sorted
batches of one padded width under a token budget, udf.encode) or ONNX Runtime at fp32/int8
(one text per call at its own length, udf.onnx_backend). When ONNX Runtime cannot serve
(not installed, export failed, folder read-only) it logs why and falls back to the fastest
approved torch variant, so scoring never fails for want of a faster path.
"""

from __future__ import annotations

import logging

from udf.encode import MAX_ROWS, TOKEN_BUDGET, OomRetry, device_kind, iter_pooled
from udf.serving import Choice, without

log = logging.getLogger("duckbert.udf")


class TorchRunner:
    backend = "torch"

    def __init__(self, model, device: str, precision: str):
        import torch

        self.model, self.device, self.precision = model, device, precision
        if precision == "int8":
            from udf.quantize import quantize_int8

            # Row-wise int8 Linear layers: unlike torch's quantize_dynamic, whose
            # activation scale comes from the whole batch, a text's score then does not
            # depend on its neighbours.
            model.encoder = quantize_int8(model.encoder)
        model.to(device)
        if precision == "bf16" and device == "cpu":
            model.encoder.to(torch.bfloat16)
        kind = device_kind(device)
        self.token_budget, self.max_rows = TOKEN_BUDGET[kind], MAX_ROWS[kind]
        self.retries = OomRetry()  # a GPU out of memory halves the batch and retries

    def batches(self, ids: list[list[int]]):
        """(row indices, pooled embeddings) per batch, shortest texts first."""
        for rows, pooled, _ in iter_pooled(self.model, ids, self.device, self.precision,
                                           self.token_budget, self.max_rows, self.retries):
            yield rows, pooled


class OnnxRunner:
    backend = "onnx"

    def __init__(self, model, model_dir, meta: dict, precision: str):
        from udf.onnx_backend import OnnxEncoder, ensure_exported

        path = ensure_exported(model, model_dir, meta["weights_sha256"], precision)
        self.encoder = OnnxEncoder(path)
        self.model, self.device, self.precision = model, "cpu", precision
        self.path = path

    def batches(self, ids: list[list[int]], rows_per_batch: int = 32):
        """(row indices, pooled embeddings): each text encoded alone, shortest first."""
        import numpy as np
        import torch

        fit = self.model.tokenizer.fit
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for start in range(0, len(order), rows_per_batch):
            rows = order[start : start + rows_per_batch]
            pooled = np.concatenate([self.encoder.pooled(fit(ids[r])) for r in rows])
            yield rows, torch.from_numpy(pooled)


def build_runner(model, model_dir, meta: dict, device: str, choice: Choice):
    """(runner, the choice that actually serves) for `choice` on `device`."""
    if choice.backend == "onnx":
        from udf.onnx_backend import OnnxUnavailable

        try:
            return OnnxRunner(model, model_dir, meta, choice.precision), choice
        except OnnxUnavailable as exc:
            fallback = without(choice, meta.get("precision_check"), device, str(exc))
            log.warning("duckbert: %s", fallback.reason)
            choice = fallback
    return TorchRunner(model, device, choice.precision), choice
