"""The runtime on a CUDA GPU: scorer, SQL surface, fine-tuning step, precision, OOM retry.

Marked `gpu`: collected on every machine, skipped where torch sees no GPU (tests/conftest.py
sets DUCKBERT_DEVICE=cuda for them, cpu for every other test).
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import pytest

from tests.helpers.samples import session_texts, text_table
from tests.helpers.training_data import make_training_table
from udf.encode import iter_pooled
from udf.scorer import Scorer

pytestmark = pytest.mark.gpu


def _mixed_texts(n: int, seed: int = 0) -> list[str]:
    return session_texts(n, seed=seed, max_events=40)


def test_scores_on_the_gpu_match_the_cpu(tiny_model):
    texts = _mixed_texts(300)
    cpu = Scorer(tiny_model, device="cpu", precision="fp32", cache_size=0).score(texts)
    gpu = Scorer(tiny_model, device="cuda", precision="fp32", cache_size=0)
    assert gpu.device.startswith("cuda")
    np.testing.assert_allclose(gpu.score(texts), cpu, atol=1e-4)
    half = Scorer(tiny_model, device="cuda", precision="bf16", cache_size=0).score(texts)
    assert max(abs(a - b) for a, b in zip(half, cpu, strict=True)) < 0.05


def test_a_chunk_of_mixed_lengths_runs_as_few_large_batches(tiny_model):
    scorer = Scorer(tiny_model, device="cuda", precision="fp32", cache_size=0)
    ids = scorer.model.tokenizer.ids(_mixed_texts(2048, seed=1))
    widths = {scorer.model.tokenizer.padded_length(len(x)) for x in ids}
    batches = list(iter_pooled(scorer.model, ids, "cuda", "fp32"))
    assert sum(len(rows) for rows, _, _ in batches) == 2048
    assert len(batches) < len(widths)
    assert all(pooled.is_cuda for _, pooled, _ in batches)


def test_sql_surface_scores_on_the_gpu(tiny_model, con):
    import duckbert

    texts = _mixed_texts(500, seed=2)
    text_table(con, "s", [*texts, None])
    duckbert.register(con, model=str(tiny_model))
    rows = con.execute("select anomaly_score(t) from s order by i").fetchall()
    assert rows[-1] == (None,) and all(0.0 <= r[0] <= 1.0 for r in rows[:-1])
    info = json.loads(con.execute("select anomaly_model()").fetchone()[0])
    assert info["device"].startswith("cuda")


def test_a_fine_tuning_run_on_the_gpu_writes_a_model_the_cpu_scores(tmp_path, tiny_bert):
    from training.config import TrainConfig
    from training.trainer import train

    db = make_training_table(tmp_path / "w.duckdb")
    cfg = TrainConfig(db_path=db, base_model=str(tiny_bert), mode="full", epochs=1,
                      progress=False, compare_peers=False, device="cuda")
    result = train(cfg, log=lambda *a, **k: None)
    assert result.timings["finetune"] > 0  # the epoch ran on the GPU (it may lose to the head)
    meta = json.loads((Path(result.path) / "duckbert.json").read_text())
    assert meta["training_mode"] in ("full", "head")
    with duckdb.connect(str(db)) as con:
        import duckbert

        duckbert.register(con, model=result.path)
        assert con.execute("select count(anomaly_score(session_text)) from training_sessions"
                           ).fetchone()[0] > 0


def test_out_of_memory_on_the_device_halves_and_still_scores_every_row(tiny_model):
    import torch

    scorer = Scorer(tiny_model, device="cuda", precision="fp32", cache_size=0)
    texts = _mixed_texts(2048, seed=4)
    expected = Scorer(tiny_model, device="cuda", precision="fp32", cache_size=0).score(texts)
    free, _ = torch.cuda.mem_get_info()
    # Leave about 48 MiB: the whole 2,048-row batch's attention does not fit, halves do.
    filler = torch.empty(max(0, free - 48 * 2**20), dtype=torch.uint8, device="cuda")
    try:
        got = scorer.score(texts)
    finally:
        del filler
        torch.cuda.empty_cache()
    assert scorer.oom_retries.halvings > 0
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_precision_on_the_gpu_is_approved_by_a_check_on_the_gpu(tiny_model, tmp_path):
    import shutil

    from udf.device_check import stored_check, write_probe

    path = shutil.copytree(tiny_model, tmp_path / "model")
    texts = _mixed_texts(200, seed=5)
    write_probe(path, texts, [i % 5 == 0 for i in range(200)], threshold=0.5)
    scorer = Scorer(path, device="cuda")
    check = stored_check(path, "cuda")
    assert check is not None and check["device"].startswith("cuda")
    assert set(check["variants"]) >= {"torch-fp32", "torch-bf16", "torch-fp16"}
    served = check["variants"].get(scorer.variant, {})
    assert scorer.variant == "torch-fp32" or served.get("approved") is True
    assert scorer.info()["serving_reason"]
