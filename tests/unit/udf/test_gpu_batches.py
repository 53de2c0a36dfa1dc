"""The batching that feeds a GPU, checked on the CPU: width packing, out-of-memory halving,
and the producer thread that pads the next batch (tests/unit/udf/test_cuda.py runs them on
a real GPU)."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from tests.helpers.samples import session_texts
from udf.encode import OomRetry, _prefetched, _run_halving, length_sorted_batches
from udf.scorer import Scorer


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread(one_torch_thread):
    """Every test here runs with one torch thread (tests/conftest.py)."""


def test_mixed_widths_pack_a_chunk_into_few_full_batches():
    rng = random.Random(0)
    lengths = [rng.choice(range(16, 257, 16)) for _ in range(2048)]
    single = list(length_sorted_batches(lengths, 262_144, 2048))
    mixed = list(length_sorted_batches(lengths, 262_144, 2048, mixed_widths=True))
    assert len(single) == len(set(lengths))  # one launch per width: 16 small ones
    assert sorted(r for batch in mixed for r in batch) == list(range(2048))
    for batch in mixed:
        assert len(batch) * max(lengths[r] for r in batch) <= 262_144
    assert len(mixed) <= 4, [len(b) for b in mixed]


def test_mixed_widths_respect_the_row_cap_and_a_small_budget():
    lengths = [8] * 10 + [64] * 10
    batches = list(length_sorted_batches(lengths, 256, 4, mixed_widths=True))
    assert all(len(b) <= 4 for b in batches)
    assert all(len(b) * max(lengths[r] for r in b) <= 256 for b in batches)
    assert sorted(r for b in batches for r in b) == list(range(20))


class _SmallMemory(torch.nn.Module):
    """The real tiny model, but a forward over more than `limit` rows raises the error CUDA
    raises when activations do not fit."""

    def __init__(self, model, limit: int):
        super().__init__()
        self.inner, self.limit, self.calls = model, limit, []

    def embed(self, input_ids, mask):
        self.calls.append(len(input_ids))
        if len(input_ids) > self.limit:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return self.inner.embed(input_ids, mask)


def test_out_of_memory_halves_the_batch_until_it_fits(tiny_model):
    model = Scorer(tiny_model, precision="fp32").model
    ids = model.tokenizer.ids(session_texts(24, seed=2))
    rows = list(range(len(ids)))
    input_ids, mask = model.tokenizer.batch(ids)
    expected = model.embed(input_ids, mask).detach().numpy()
    small, retries = _SmallMemory(model, limit=5), OomRetry()
    got = list(_run_halving(small, ids, rows, input_ids, mask, "cpu", None, retries))
    assert sorted(r for part, _, _ in got for r in part) == rows
    assert all(len(part) <= 5 for part, _, _ in got)
    assert retries.halvings >= 3 and retries.smallest_rows <= 5
    out = np.zeros_like(expected)
    for part, pooled, _ in got:
        out[part] = pooled.numpy()
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_a_single_row_that_does_not_fit_is_an_error_not_a_loop(tiny_model):
    model = Scorer(tiny_model, precision="fp32").model
    ids = model.tokenizer.ids(session_texts(2))
    input_ids, mask = model.tokenizer.batch(ids)
    with pytest.raises(torch.cuda.OutOfMemoryError):
        list(_run_halving(_SmallMemory(model, limit=0), ids, [0, 1], input_ids, mask, "cpu",
                          None, OomRetry()))


def test_other_errors_are_not_retried(tiny_model):
    class Broken(_SmallMemory):
        def embed(self, input_ids, mask):
            self.calls.append(len(input_ids))
            raise RuntimeError("device-side assert triggered")

    model = Scorer(tiny_model, precision="fp32").model
    ids = model.tokenizer.ids(session_texts(4))
    input_ids, mask = model.tokenizer.batch(ids)
    broken = Broken(model, limit=0)
    with pytest.raises(RuntimeError, match="device-side assert"):
        list(_run_halving(broken, ids, [0, 1, 2, 3], input_ids, mask, "cpu", None, OomRetry()))
    assert broken.calls == [4]


def test_prefetch_keeps_order_and_hands_producer_errors_to_the_consumer():
    assert [made for _, made in _prefetched(lambda b: b * 10, iter(range(7)))] == \
        [b * 10 for b in range(7)]

    def make(batch):
        if batch == 3:
            raise ValueError("text 3 could not be padded")
        return batch

    seen = []
    with pytest.raises(ValueError, match="text 3"):
        for batch, _ in _prefetched(make, iter(range(6))):
            seen.append(batch)
    assert seen == [0, 1, 2]


def test_a_consumer_that_stops_early_releases_the_producer():
    gen = _prefetched(lambda b: b, iter(range(1000)), depth=1)
    assert next(gen) == (0, 0)
    gen.close()  # must return, not hang on the producer's full queue
