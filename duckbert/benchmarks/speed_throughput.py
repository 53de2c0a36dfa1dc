"""The throughput measurements of the speed benchmark, each on a given list of texts.

- `PlainForward`: the model's own limit as a user would write it with transformers: an
  AutoTokenizer (padding to the batch's longest, truncation to max_length), batches of 64 in
  input order, the fp32 encoder, mean pooling and the same head (lexical term included).
- `SqlBench`: `select anomaly_score(session_text) from <table>` on an in-memory DuckDB with
  the functions registered (udf.register), each measurement on a freshly loaded scorer whose
  precision, cache and embedding store are set through the runtime's own DUCKBERT_* settings.
- `naive_udf`: the row-at-a-time Python UDF a user would write around a transformers
  feature-extraction `pipeline`.
- `matmul_peak` and `encoder_flops`: the hardware's measured fp32 matmul rate and the model's
  FLOPs per text from its config (projections, feed-forward and attention), for utilisation.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path


def encoder_shape(config) -> dict:
    return {"hidden": int(config.hidden_size), "layers": int(config.num_hidden_layers),
            "intermediate": int(config.intermediate_size),
            "heads": int(config.num_attention_heads)}


def encoder_flops(shape: dict, length: int) -> float:
    """Multiply-add FLOPs (2 per MAC) of one text of `length` tokens through the encoder.

    Per layer and token: Q, K, V and output projections 4 x 2d^2, feed-forward 2 x 2 d d_ff;
    per layer and text: scores QK^T and weights x V, 2 x 2 L^2 d (all heads together).
    Embedding lookups, LayerNorm, softmax and GELU are not matmuls and are left out; so is the
    pooler (unused) and the head (one dot product).
    """
    d, dff, layers = shape["hidden"], shape["intermediate"], shape["layers"]
    return float(layers * (length * (8 * d * d + 4 * d * dff) + 4 * length * length * d))


def fitted_lengths(tokenizer, texts: list[str]) -> list[int]:
    """Tokens each text runs through the encoder ([CLS] and [SEP] included, truncated)."""
    return [min(len(x), tokenizer.max_length - 2) + 2 for x in tokenizer.ids(texts)]


def _sync(device: str) -> None:
    if str(device).startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def matmul_peak(device: str = "cpu", n: int = 2048, dtype: str = "fp32",
                reps: int = 3) -> float:
    """Best-of-`reps` GFLOP/s of an n x n x n matmul (fp32 unless dtype='bf16')."""
    import torch

    torch_dtype = torch.bfloat16 if dtype == "bf16" else torch.float32
    if str(device).startswith("cuda"):
        n, reps = max(n, 8192), max(reps, 10)
    a = torch.randn(n, n, device=device, dtype=torch_dtype)
    b = torch.randn(n, n, device=device, dtype=torch_dtype)
    with torch.inference_mode():
        a @ b
        _sync(device)
        best = float("inf")
        for _ in range(reps):
            start = time.perf_counter()
            a @ b
            _sync(device)
            best = min(best, time.perf_counter() - start)
    return 2.0 * n**3 / best / 1e9


class PlainForward:
    """A plain batched transformers forward pass at fp32 over texts in their input order."""

    def __init__(self, model_dir: Path, device: str = "cpu", batch_size: int = 64,
                 sort: bool = False):
        from transformers import AutoTokenizer

        from udf.artifact import load_model

        model, _ = load_model(model_dir)
        self.model = model.to(device).eval()
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir), trust_remote_code=False)
        self.device = device
        self.batch_size = int(batch_size)
        self.max_length = model.tokenizer.max_length
        self.sort = sort  # length-sorted batches: the strongest plain baseline

    def run(self, texts: list[str]) -> dict:
        if not self.sort:
            return self._run(texts)
        lengths = [len(ids) for ids in self.tokenizer(texts, truncation=True,
                                                       max_length=self.max_length)["input_ids"]]
        order = sorted(range(len(texts)), key=lengths.__getitem__)
        out = self._run([texts[i] for i in order])
        scores = [0.0] * len(texts)
        for position, i in enumerate(order):
            scores[i] = out["scores"][position]
        out["scores"] = scores  # back in input order (widths stay in batch order)
        return out

    def _run(self, texts: list[str]) -> dict:
        import torch

        from udf.model import mean_pool

        scores: list[float] = []
        widths: list[int] = []
        memory = _reset_gpu_peak(self.device)
        start = time.perf_counter()
        with torch.inference_mode():
            for at in range(0, len(texts), self.batch_size):
                batch = texts[at : at + self.batch_size]
                enc = self.tokenizer(batch, padding=True, truncation=True,
                                     max_length=self.max_length, return_tensors="pt")
                enc = {k: v.to(self.device) for k, v in enc.items()}
                hidden = self.model.encoder(**enc).last_hidden_state
                pooled = mean_pool(hidden, enc["attention_mask"])
                lexical = self.model.lexical_inputs(batch, device=self.device)
                scores.extend(self.model.probability(pooled, lexical).float().cpu().tolist())
                widths.extend([int(enc["input_ids"].shape[1])] * len(batch))
        seconds = time.perf_counter() - start
        return {"seconds": seconds, "scores": scores, "widths": widths,
                "gpu_max_memory_mb": memory()}


def _reset_gpu_peak(device: str):
    """Reset CUDA's peak-memory counter; returns a function reading it (MiB) afterwards."""
    if not str(device).startswith("cuda"):
        return lambda: None
    import torch

    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    return lambda: round(torch.cuda.max_memory_allocated() / 2**20, 1)


@contextlib.contextmanager
def _runtime_settings(settings: dict[str, str | None]):
    """DUCKBERT_* settings for scorers created inside, and no scorer carried in or out."""
    from udf.scorer import clear_scorers

    old = {k: os.environ.get(k) for k in settings}
    for key, value in settings.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = str(value)
    clear_scorers()
    try:
        yield
    finally:
        clear_scorers()
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class SqlBench:
    """An in-memory DuckDB with session tables and the duckbert functions registered."""

    def __init__(self, model_dir: Path, tables: dict[str, list[str]]):
        import duckdb
        import pyarrow as pa

        from udf.sql_functions import register

        self.model_dir = Path(model_dir).resolve()
        self.con = duckdb.connect(":memory:")
        self.con.execute("set enable_progress_bar = false")
        for name, texts in tables.items():
            self.add_table(name, texts)
        register(self.con, model=str(self.model_dir))
        self._pa = pa

    def add_table(self, name: str, texts: list[str]) -> None:
        import pyarrow as pa

        data = pa.table({"session_id": pa.array(range(len(texts)), pa.int64()),
                         "session_text": pa.array(texts, pa.string())})
        self.con.register("_bench_rows", data)
        self.con.execute(f"create or replace table {name} as select * from _bench_rows")
        self.con.unregister("_bench_rows")

    def score(self, table: str = "sessions", device: str | None = None,
              precision: str | None = None, cache: bool = False, store: bool = False,
              queries: int = 1) -> dict:
        """Time `select anomaly_score(session_text) from <table>` `queries` times in a row on
        one freshly loaded scorer (its load is timed apart, on a one-row warm-up query)."""
        from udf.scorer import get_scorer

        settings = {
            "DUCKBERT_DEVICE": device, "DUCKBERT_PRECISION": precision,
            "DUCKBERT_CACHE_SIZE": None if cache else "0",
            "DUCKBERT_EMBEDDING_STORE": "1" if store else "0",
        }
        with _runtime_settings(settings):
            start = time.perf_counter()
            self.con.execute("select anomaly_score('warm up')").fetchall()
            load_s = time.perf_counter() - start
            scorer = get_scorer(self.model_dir)  # the instance the UDF just loaded
            stored = getattr(scorer, "score_store", None)
            before = (scorer.forward_rows, scorer.store_hits, scorer.cache.hits,
                      stored.hits if stored else 0)
            memory = _reset_gpu_peak(scorer.device)
            seconds, rows = [], []
            for _ in range(queries):
                start = time.perf_counter()
                rows = self.con.execute(
                    f"select anomaly_score(session_text) from {table}").fetchall()
                seconds.append(time.perf_counter() - start)
            return {
                "seconds": seconds, "load_s": load_s, "scores": [r[0] for r in rows],
                "precision": scorer.precision, "device": scorer.device,
                "variant": scorer.variant, "reason": scorer.choice.reason,
                "score_store_hits": (stored.hits if stored else 0) - before[3],
                "forward_rows": scorer.forward_rows - before[0],
                "store_hits": scorer.store_hits - before[1],
                "cache_hits": scorer.cache.hits - before[2],
                "coalesced_jobs": getattr(getattr(scorer, "_coalescer", None), "jobs", None),
                "gpu_max_memory_mb": memory(),
            }

    def close(self) -> None:
        self.con.close()


def naive_udf(model_dir: Path, texts: list[str], device: str = "cpu") -> dict:
    """A row-at-a-time DuckDB Python UDF around a transformers feature-extraction pipeline."""
    import duckdb
    import torch
    import torch.nn.functional as F
    from duckdb.sqltypes import DOUBLE, VARCHAR
    from transformers import AutoTokenizer, pipeline

    from udf.artifact import load_model

    model, _ = load_model(model_dir)
    model.eval()
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir), trust_remote_code=False)
    pipe = pipeline("feature-extraction", model=model.encoder, tokenizer=tokenizer,
                    device=device, trust_remote_code=False)
    max_length = model.tokenizer.max_length

    def naive_anomaly_score(text: str) -> float:
        hidden = pipe(text, truncation=True, tokenize_kwargs={"max_length": max_length},
                      return_tensors=True)
        pooled = F.normalize(hidden.float().mean(dim=1), dim=-1).cpu()
        with torch.inference_mode():
            return float(model.probability(pooled, model.lexical_inputs([text]))[0])

    con = duckdb.connect(":memory:")
    try:
        con.execute("set enable_progress_bar = false")
        con.execute("create table sessions (session_text varchar)")
        con.executemany("insert into sessions values (?)", [[t] for t in texts])
        con.create_function("naive_anomaly_score", naive_anomaly_score, [VARCHAR], DOUBLE)
        naive_anomaly_score(texts[0])  # load and warm up, as the runtime's warm-up query
        start = time.perf_counter()
        rows = con.execute("select naive_anomaly_score(session_text) from sessions").fetchall()
        seconds = time.perf_counter() - start
    finally:
        con.close()
    return {"seconds": seconds, "scores": [r[0] for r in rows]}
