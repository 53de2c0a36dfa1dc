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


def _scores(model, texts, ids, encoder_model):
    pooled = torch.from_numpy(embed_ids(encoder_model, ids))
    lexical = model.lexical_inputs(texts)
    with torch.no_grad():
        return model.probability(pooled, lexical).numpy()


def precision_check(model, texts: list[str], seed: int = 0, log=print) -> dict:
    """Largest |score - fp32 score| for int8 and bf16 encoders on a sample of `texts`."""
    rng = np.random.default_rng(seed)
    out = {}
    model = model.to("cpu").eval()
    for precision, size in SAMPLE.items():
        rows = rng.choice(len(texts), size=min(size, len(texts)), replace=False)
        sample = [texts[r] for r in rows]
        ids = model.tokenizer.ids(sample)
        reference = _scores(model, sample, ids, model)
        if precision == "int8":
            encoder = quantize_int8(copy.deepcopy(model.encoder))
        else:
            encoder = copy.deepcopy(model.encoder).to(torch.bfloat16)
        variant = AnomalyModel(encoder, model.head, model.tokenizer)
        scores = _scores(model, sample, ids, variant)
        out[precision] = round(float(np.abs(scores - reference).max()), 5)
    log("  precision check (max |score - fp32|): "
        + ", ".join(f"{k} {v:.4f}" for k, v in out.items()))
    return out
