"""Fine-tuning batches: sized by the device, accumulated over micro-batches, halved on OOM."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.helpers.samples import session_texts
from training.batch_steps import CPU_BATCH, AccumulatingStep, activation_bytes_per_row, plan_batch
from udf.scorer import Scorer


@pytest.fixture
def model(tiny_model):
    return Scorer(tiny_model, precision="fp32").model.train()


def _setup(model, n=24):
    texts = session_texts(n, seed=7)
    ids = model.tokenizer.ids(texts)
    y = torch.from_numpy((np.arange(n) % 3 == 0).astype(np.float32))
    return texts, ids, y, torch.nn.BCEWithLogitsLoss()


def _grads(model):
    return torch.cat([p.grad.reshape(-1) for p in model.parameters() if p.grad is not None])


def test_the_cpu_keeps_the_classic_batch(model):
    assert plan_batch(model, "cpu", 256) == (CPU_BATCH, CPU_BATCH)


def test_activation_estimate_grows_with_length_and_width():
    from types import SimpleNamespace

    minilm = SimpleNamespace(hidden_size=384, num_attention_heads=12, num_hidden_layers=6)
    short, long = activation_bytes_per_row(minilm, 64), activation_bytes_per_row(minilm, 256)
    assert 4 * short < long  # attention grows with the square of the length
    assert 30e6 < long < 60e6  # ~44 MB per 256-token session for MiniLM


def test_micro_batches_accumulate_the_gradient_of_the_whole_batch(model):
    torch.manual_seed(0)
    model.eval()  # dropout off, so both runs see the same function
    texts, ids, y, loss_fn = _setup(model)
    batch = list(range(24))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    whole = AccumulatingStep(model, texts, ids, y, loss_fn, "cpu", micro_rows=24)
    loss_whole = whole(optimizer, batch)
    grads_whole = _grads(model).clone()
    micro = AccumulatingStep(model, texts, ids, y, loss_fn, "cpu", micro_rows=5)
    loss_micro = micro(optimizer, batch)
    assert loss_micro == pytest.approx(loss_whole, rel=1e-5)
    torch.testing.assert_close(_grads(model), grads_whole, rtol=1e-4, atol=1e-6)


def test_out_of_memory_halves_the_micro_batch_and_retries_the_step(model):
    model.eval()
    texts, ids, y, loss_fn = _setup(model)
    real_embed, calls = model.embed, []

    def small_memory_embed(input_ids, mask):
        calls.append(len(input_ids))
        if len(input_ids) > 6:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 1 GiB")
        return real_embed(input_ids, mask)

    model.embed = small_memory_embed
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    step = AccumulatingStep(model, texts, ids, y, loss_fn, "cpu", micro_rows=24)
    step(optimizer, list(range(24)))
    assert step.micro_rows <= 6 and step.halvings == 2  # 24 -> 12 -> 6
    assert calls[:2] == [24, 12] and all(c <= 6 for c in calls[2:])
    assert sum(calls[2:]) == 24  # the retried step saw every row once


def test_precomputed_lexical_logits_replace_the_bags(model):
    """Fine-tuning trains on the out-of-fold lexical logits it is given, not the bags'."""
    model.eval()
    texts, ids, y, loss_fn = _setup(model)
    batch = list(range(24))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    given = {r: (4.0 if y[r] > 0 else -4.0) for r in batch}  # a lexical term that is sure
    loss_given = AccumulatingStep(model, texts, ids, y, loss_fn, "cpu", 24, given)(
        optimizer, batch)
    input_ids, mask = model.tokenizer.batch(ids)
    with torch.no_grad():
        logits = model.head.logits(model.embed(input_ids, mask),
                                   lexical_logit=torch.tensor([given[r] for r in batch]))
    assert loss_given == pytest.approx(float(loss_fn(logits, y)), rel=1e-5)
    loss_bags = AccumulatingStep(model, texts, ids, y, loss_fn, "cpu", 24)(optimizer, batch)
    assert loss_bags != pytest.approx(loss_given, rel=1e-3)
