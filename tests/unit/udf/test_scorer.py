"""The Scorer on a real tiny BERT: NULLs, dedup, cache, batch invariance, concurrency."""

from __future__ import annotations

import random
import threading

import pytest

from tests.helpers.samples import session_texts
from udf.batching import Coalescer
from udf.scorer import Scorer, clear_scorers, get_scorer


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread(one_torch_thread):
    """Every test here runs with one torch thread (tests/conftest.py)."""


@pytest.fixture
def scorer(tiny_model):
    """A private fp32 Scorer (not the process-wide one), so counters start at zero."""
    return Scorer(tiny_model, precision="fp32", score_store=False)  # counts forward passes


def test_scores_are_probabilities_aligned_with_input(scorer):
    texts = session_texts(40)
    inputs = [None, *texts[:20], None, "", *texts[20:], None]
    scores = scorer.score(inputs)
    assert len(scores) == len(inputs)
    for text, score in zip(inputs, scores, strict=True):
        if text is None:
            assert score is None
        else:
            assert isinstance(score, float) and 0.0 <= score <= 1.0
    assert scores[1:21] == scorer.score(texts[:20])


def test_all_null_and_empty_inputs(scorer):
    assert scorer.score([]) == []
    assert scorer.score([None, None]) == [None, None]
    assert scorer.forward_rows == 0
    empty, blank = scorer.score(["", "   "])
    assert 0.0 <= empty <= 1.0 and empty == blank  # both tokenize to [CLS] [SEP]


def test_non_string_is_a_clear_type_error(scorer):
    with pytest.raises(TypeError, match="session_text must be a string, got int"):
        scorer.score(["ok", 3])


def test_duplicates_reach_the_forward_pass_once(scorer):
    texts = session_texts(5)
    batch = [texts[i % 5] for i in range(200)]
    scores = scorer.score(batch)
    assert scorer.forward_rows == 5
    assert scores == [scores[i % 5] for i in range(200)]
    assert scorer.cache.misses == 5 and scorer.cache.hits == 0


def test_second_call_is_served_from_the_cache(scorer):
    texts = session_texts(30)
    first = scorer.score(texts)
    forward, jobs = scorer.forward_rows, scorer._coalescer.jobs
    second = scorer.score(list(reversed(texts)))
    assert second == list(reversed(first))
    assert scorer.forward_rows == forward and scorer._coalescer.jobs == jobs
    assert scorer.cache.hits == 30


def test_cache_is_bounded_and_can_be_disabled(tiny_model):
    texts = session_texts(10)
    small = Scorer(tiny_model, precision="fp32", cache_size=3, score_store=False)
    small.score(texts)
    assert len(small.cache) == 3
    off = Scorer(tiny_model, precision="fp32", cache_size=0)
    assert off.score(texts) == off.score(texts)
    assert len(off.cache) == 0 and off.forward_rows == 20


def test_truncation_keeps_long_texts_scoreable(scorer):
    long_text = " | ".join(["view electronics.smartphone apple 199.99"] * 400)
    assert len(scorer.model.tokenizer.ids([long_text])[0]) > scorer.max_length
    (score,) = scorer.score([long_text])
    assert 0.0 <= score <= 1.0


@pytest.mark.parametrize("precision", ["fp32", "int8", "bf16"])
def test_score_does_not_depend_on_batch_neighbours(tiny_model, precision):
    """Bit-identical scores alone, in a large batch, in another order, in other batches.

    Three things used to move a score with its neighbours: padding to the batch's longest
    text (attention kernels block by width), int8 activation scales taken over the whole
    batch, and BLAS/vectorized kernels whose rounding depends on the row count or position.
    """
    texts = session_texts(150, seed=3, max_events=20)
    texts.append(" | ".join(["purchase apparel.shoes nike 89.99"] * 300))  # truncated
    scorer = Scorer(tiny_model, precision=precision, cache_size=0)
    together = scorer.score(texts)
    alone = [scorer.score([t])[0] for t in texts[::7]]
    assert alone == together[::7]
    shuffled = list(range(len(texts)))
    random.Random(1).shuffle(shuffled)
    again = scorer.score([texts[i] for i in shuffled])
    assert again == [together[i] for i in shuffled]
    assert scorer.score(texts[:37]) == together[:37]


def test_precisions_stay_close_to_fp32(tiny_model):
    texts = session_texts(60, seed=5)
    reference = Scorer(tiny_model, precision="fp32", cache_size=0).score(texts)
    for precision in ("int8", "bf16"):
        other = Scorer(tiny_model, precision=precision, cache_size=0)
        assert other.precision == precision
        diff = max(abs(a - b) for a, b in zip(reference, other.score(texts), strict=True))
        assert diff < 0.05, (precision, diff)


def test_int8_replaces_every_encoder_linear(tiny_model):
    from torch import nn

    from udf.quantize import RowwiseInt8Linear

    scorer = Scorer(tiny_model, precision="int8", score_store=False)
    layers = list(scorer.model.encoder.modules())
    assert any(isinstance(m, RowwiseInt8Linear) for m in layers)
    assert not any(type(m) is nn.Linear for m in layers)


def test_info_describes_the_loaded_model(scorer, tiny_model):
    info = scorer.info()
    assert info["name"] == "tiny" and info["path"] == str(tiny_model.resolve())
    assert info["device"] == "cpu" and info["precision"] == "fp32"
    assert info["threshold"] == 0.5 and info["version"] == scorer.version


def test_embed_returns_normalized_rows_in_order(scorer):
    import numpy as np

    texts = session_texts(9)
    vectors = scorer.embed(texts)
    assert vectors.shape == (9, scorer.model.hidden_size)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(scorer.embed(texts[3:4])[0], vectors[3])


def test_get_scorer_is_shared_per_artifact(tiny_model):
    clear_scorers()
    try:
        first = get_scorer(tiny_model)
        assert get_scorer(str(tiny_model)) is first
        clear_scorers()
        assert get_scorer(tiny_model) is not first
    finally:
        clear_scorers()


def test_threads_share_one_scorer_and_agree_with_single_threaded(tiny_model):
    texts = session_texts(240, seed=11)
    expected = Scorer(tiny_model, precision="fp32", cache_size=0).score(texts)
    shared = Scorer(tiny_model, precision="fp32", cache_size=0)
    chunks = [texts[i::6] for i in range(6)]
    results: dict[int, list] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(len(chunks))

    def work(i):
        try:
            start.wait(timeout=30)
            results[i] = shared.score(chunks[i])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(chunks))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "scoring threads deadlocked"
    assert not errors
    for i in range(len(chunks)):
        assert results[i] == expected[i::6]
    assert shared._coalescer.jobs <= len(chunks)


# -- the Coalescer on its own -----------------------------------------------------------


def test_coalescer_merges_concurrent_calls_and_returns_each_slice():
    gate = threading.Event()
    calls: list[list] = []

    def fn(items):
        calls.append(list(items))
        gate.wait(timeout=10)  # hold the first job so that the others queue up
        return [x * 10 for x in items]

    coalescer = Coalescer(fn)
    results: dict[int, list] = {}

    def submit(i):
        results[i] = coalescer.submit([i, i + 100])

    leader = threading.Thread(target=submit, args=(0,))
    leader.start()
    while not calls:
        threading.Event().wait(0.001)
    followers = [threading.Thread(target=submit, args=(i,)) for i in range(1, 6)]
    for t in followers:
        t.start()
    while len(coalescer._pending) < 5:
        threading.Event().wait(0.001)
    gate.set()
    for t in [leader, *followers]:
        t.join(timeout=10)
        assert not t.is_alive()
    assert results == {i: [i * 10, (i + 100) * 10] for i in range(6)}
    assert len(calls) == 2 and sorted(calls[1]) == sorted(
        x for i in range(1, 6) for x in (i, i + 100)
    )
    assert coalescer.jobs == 2


def test_coalescer_error_reaches_every_waiter_and_it_recovers():
    gate = threading.Event()
    state = {"entered": 0}

    def fn(items):
        state["entered"] += 1
        first = state["entered"] == 1
        gate.wait(timeout=10)
        if first:
            raise RuntimeError("forward pass failed")
        return items

    coalescer = Coalescer(fn)
    errors: list[str] = []

    def submit(i):
        try:
            coalescer.submit([i])
        except RuntimeError as exc:
            errors.append(str(exc))

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(4)]
    threads[0].start()
    while not state["entered"]:
        threading.Event().wait(0.001)
    for t in threads[1:]:
        t.start()
    while len(coalescer._pending) < 3:
        threading.Event().wait(0.001)
    gate.set()  # the first job fails; the queued one then runs as the second job
    for t in threads:
        t.join(timeout=10)
        assert not t.is_alive()
    assert errors == ["forward pass failed"]
    assert coalescer.submit([7, 8]) == [7, 8]
    assert coalescer.submit([]) == []
