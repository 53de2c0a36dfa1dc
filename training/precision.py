"""Measure how far cheaper inference precisions move the scores, for the artifact.

The runtime uses int8 or bf16 only where this check, run at training time on validation
sessions, found every score within udf.device.SCORE_TOLERANCE of fp32. It runs exactly the
encoders the runtime would (udf.quantize's row-wise int8, a bf16 copy).
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from udf.encode import embed_ids
from udf.model import AnomalyModel
from udf.quantize import quantize_int8

SAMPLE = {"int8": 128, "bf16": 32}


def _scores(model, ids, pooled_fn):
    pooled = torch.from_numpy(pooled_fn(ids))
    lexical = model.lexical_inputs(ids)
    with torch.no_grad():
        return model.probability(pooled, lexical).numpy()


def precision_check(model, ids: list[list[int]], seed: int = 0, log=print) -> dict:
    """Largest |score - fp32 score| for int8 and bf16 encoders on a sample of `ids`."""
    rng = np.random.default_rng(seed)
    out = {}
    model = model.to("cpu").eval()
    for precision, size in SAMPLE.items():
        rows = rng.choice(len(ids), size=min(size, len(ids)), replace=False)
        sample = [ids[r] for r in rows]
        reference = _scores(model, sample, lambda x: embed_ids(model, x))
        if precision == "int8":
            encoder = quantize_int8(copy.deepcopy(model.encoder))
        else:
            encoder = copy.deepcopy(model.encoder).to(torch.bfloat16)
        buckets = model.hasher.bigram_buckets if model.hasher else 0
        variant = AnomalyModel(encoder, model.head, model.tokenizer, bigram_buckets=buckets)
        scores = _scores(model, sample, lambda x, v=variant: embed_ids(v, x))
        out[precision] = round(float(np.abs(scores - reference).max()), 5)
    log("  precision check (max |score - fp32|): "
        + ", ".join(f"{k} {v:.4f}" for k, v in out.items()))
    return out
