"""`duckbert bench speed`: anomaly_score in SQL against the model's own limit, on one machine.

One run, the same texts and the same model for every figure:

1. rows/s and tokens/s of `select anomaly_score(session_text) from sessions` (fresh scorer,
   cache off, distinct texts) at fp32 and at the runtime's precision, against a plain
   batched transformers forward pass at fp32 (speed_throughput.PlainForward), in `rounds`
   interleaved rounds (the order rotates each round); ratios are medians of per-round ratios;
2. the runtime's other savings: a table with duplicate rows (cache and dedup on), the same
   query again (rescoring from the cache), and fp32 with the training run's embedding store;
3. a naive row-at-a-time Python UDF around a transformers pipeline, on a subset;
4. the share of the measured fp32 matmul peak the model reaches (FLOPs from its config);
5. an incremental dbt rebuild of session_scores+ after 1% new sessions against a full one;
6. with --million, peak RSS while 1,000,000 rows stream through anomaly_score (tiny model).

Training seconds per 1,000 sessions belong to the quality benchmark.
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from duckbert.benchmarks import speed_data as data
from duckbert.benchmarks import speed_throughput as tp

GOAL_SQL_VS_PLAIN = 0.9
GOAL_RUNTIME_VS_PLAIN = 1.0
GOAL_GPU_ROWS_PER_S = 20_000
MEMORY_TEXT_EVENTS = 2  # the memory run's base texts: a header and two events (~40 tokens)


@dataclass
class SpeedConfig:
    sessions: int = 2000
    """Sessions in the generated warehouse (or the first N of --db; with --text-tokens: how
    many fixed-length texts to build)."""
    db: str | None = None
    model: str | None = None
    device: str | None = None
    precision: str = "auto"
    sample: int = 256
    """Rows of the throughput comparison (0: all); spread evenly over the sessions."""
    rounds: int = 3
    batch_size: int = 64
    naive_rows: int = 32
    threads: int | None = None
    text_tokens: int | None = None
    duplicate_share: float = 0.25
    rebuild: bool = True
    rebuild_share: float = 0.01
    million: bool = False
    million_rows: int = 1_000_000
    memory_sizes: list[int] | None = None
    out: str | None = None
    docs: str | None = None
    work_dir: str | None = None
    seed: int = 0
    command: str = ""
    extra: dict = field(default_factory=dict)


def _median(values):
    return statistics.median(values) if values else None


def _machine(device: str) -> dict:
    import os

    import duckdb
    import torch

    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    out = {"cpu": cpu, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
           "torch": torch.__version__, "duckdb": duckdb.__version__,
           "python": platform.python_version(), "device": device}
    if device.startswith("cuda"):
        out["gpu"] = torch.cuda.get_device_name(0)
    return out


class _Log:
    def __init__(self, log):
        self.log = log
        self.started = time.perf_counter()

    def __call__(self, text: str) -> None:
        self.log(f"[{time.perf_counter() - self.started:6.0f}s] {text}")


def run_speed(cfg: SpeedConfig, log=print) -> dict:
    import torch

    from udf.artifact import read_meta
    from udf.device import choose_device, choose_precision

    say = _Log(log)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = choose_device(cfg.device)
    work = Path(cfg.work_dir) if cfg.work_dir else Path(tempfile.mkdtemp(prefix="duckbert-speed-"))
    work.mkdir(parents=True, exist_ok=True)
    result: dict = {"benchmark": "speed", "date": dt.date.today().isoformat(),
                    "command": cfg.command, "config": asdict(cfg), "machine": _machine(device),
                    "work_dir": str(work)}

    if cfg.db:
        db = Path(cfg.db)
        sessions = data.read_sessions(db, limit=None if cfg.text_tokens else cfg.sessions)
    else:
        say(f"warehouse: generating ~{cfg.sessions} sessions, load, dbt build")
        db = data.prepare_warehouse(work, min(cfg.sessions, 2000) if cfg.text_tokens
                                    else cfg.sessions, cfg.seed, log=say)
        sessions = data.read_sessions(db)
    say(f"{len(sessions)} session texts from {db}")

    if cfg.model:
        model_dir = Path(cfg.model).resolve()
        built = False
    else:
        say("model: packaged all-MiniLM-L6-v2 + untrained classifier head (lexical term), "
            "precision check")
        model_dir = data.build_artifact(work / "models", sessions.texts, seed=cfg.seed, log=say)
        built = True
    meta = read_meta(model_dir)
    runtime_precision = choose_precision(device, meta.get("precision_check"),
                                         None if cfg.precision == "auto" else cfg.precision)
    request = None if cfg.precision == "auto" else cfg.precision

    plain = tp.PlainForward(model_dir, device, cfg.batch_size)
    tokenizer = plain.model.tokenizer
    if cfg.text_tokens:
        texts = data.fixed_length_texts(sessions.texts, tokenizer, cfg.sessions,
                                        cfg.text_tokens, cfg.seed)
        labelled = [False] * len(texts)
    else:
        texts, labelled = sessions.texts, sessions.labelled
    rows = data.spread(len(texts), cfg.sample)
    sample = [texts[i] for i in rows]
    sample_labelled = [labelled[i] for i in rows]
    shape = tp.encoder_shape(plain.model.encoder.config)
    ids = tokenizer.ids(sample)
    lengths = [min(len(x), tokenizer.max_length - 2) + 2 for x in ids]
    whole = [len(x) <= tokenizer.max_length - 2 for x in ids]  # truncation differs by design
    widths = [tokenizer.padded_length(len(x)) for x in ids]
    useful_flops = sum(tp.encoder_flops(shape, n) for n in lengths)
    runtime_flops = sum(tp.encoder_flops(shape, w) for w in widths)
    tokens = sum(lengths)
    result["model"] = {
        "path": str(model_dir), "built_for_benchmark": built, "name": meta["name"],
        "base_model": meta["base_model"], "shape": shape,
        "max_length": tokenizer.max_length, "threshold": meta["threshold"],
        "precision_check": meta.get("precision_check"), "runtime_precision": runtime_precision,
        "gflops_per_token_at_128": tp.encoder_flops(shape, 128) / 128 / 1e9,
    }
    result["texts"] = {
        "sessions": len(texts), "sample": len(sample), "distinct_in_sample": len(set(sample)),
        "fixed_tokens": cfg.text_tokens, "mean_tokens": tokens / len(sample),
        "max_tokens": max(lengths), "mean_padded_runtime": sum(widths) / len(sample),
    }
    say(f"throughput: {len(sample)} texts, mean {tokens / len(sample):.0f} tokens, "
        f"{cfg.rounds} rounds, runtime precision {runtime_precision}")

    sql = tp.SqlBench(model_dir, {"sessions": sample})
    methods = {
        "plain": lambda: plain.run(sample),
        "sql_fp32": lambda: sql.score(device=device, precision="fp32"),
    }
    if runtime_precision != "fp32":
        methods["sql_runtime"] = lambda: sql.score(device=device, precision=request)
    runs: dict[str, list[dict]] = {k: [] for k in methods}
    peaks: list[float] = []
    for r in range(cfg.rounds):
        peaks.append(tp.matmul_peak(device))
        order = list(methods)
        order = order[r % len(order):] + order[: r % len(order)]
        for name in order:
            out = methods[name]()
            out["seconds_total"] = out["seconds"] if name == "plain" else out["seconds"][0]
            runs[name].append(out)
        say(f"  round {r + 1}: " + ", ".join(
            f"{k} {len(sample) / runs[k][-1]['seconds_total']:.1f} rows/s" for k in methods)
            + f", matmul {peaks[-1]:.0f} GFLOP/s")
    if "sql_runtime" not in runs:
        runs["sql_runtime"] = runs["sql_fp32"]
    result["throughput"] = _throughput(runs, len(sample), tokens, useful_flops, runtime_flops,
                                       shape, peaks, device, whole)
    plain_rps = result["throughput"]["plain"]["rows_per_s"]

    say("naive row-at-a-time pipeline UDF")
    subset = [sample[i] for i in data.spread(len(sample), cfg.naive_rows)]
    naive = tp.naive_udf(model_dir, subset, device)
    sql.add_table("naive_sessions", subset)
    ours = sql.score("naive_sessions", device=device, precision=request)
    naive_rps = len(subset) / naive["seconds"]
    result["naive"] = {
        "rows": len(subset), "naive_rows_per_s": naive_rps,
        # the runtime batches: its rate on the whole sample (same text distribution) is the
        # one a user gets; on a handful of rows it has little to batch
        "runtime_over_naive": result["throughput"]["sql_runtime"]["rows_per_s"] / naive_rps,
        "runtime_rows_per_s_same_rows": len(subset) / ours["seconds"][0],
        "runtime_over_naive_same_rows": naive["seconds"] / ours["seconds"][0],
        "max_abs_diff_vs_runtime": _max_diff(naive["scores"], ours["scores"]),
    }

    say("workloads: duplicates and rescoring (cache and dedup on), embedding store")
    result["workloads"] = _workloads(cfg, sql, sample, sample_labelled, device, request,
                                     plain, plain_rps, model_dir, meta)

    if cfg.rebuild:
        from duckbert.benchmarks.speed_rebuild import rebuild_ratio

        say(f"rebuild: dbt build -s session_scores+ full vs after {cfg.rebuild_share:.0%} "
            "new sessions")
        env = {"DUCKBERT_DEVICE": device, "DUCKBERT_EMBEDDING_STORE": "0"}
        if request:
            env["DUCKBERT_PRECISION"] = request
        if cfg.threads:
            env["OMP_NUM_THREADS"] = str(cfg.threads)
        result["rebuild"] = rebuild_ratio(db, model_dir, work, env, cfg.rebuild_share, log=say)
    else:
        result["rebuild"] = {"skipped": "--skip-rebuild"}

    if cfg.million:
        from duckbert.benchmarks import speed_memory

        sizes = cfg.memory_sizes or [min(100_000, cfg.million_rows), cfg.million_rows]
        say(f"memory: anomaly_score over {', '.join(f'{s:,}' for s in sizes)} rows "
            "(tiny model, one subprocess each)")
        tiny = data.build_tiny_artifact(work / "models", seed=cfg.seed)
        base = [data.SEPARATOR.join(t.split(data.SEPARATOR)[: 1 + MEMORY_TEXT_EVENTS])
                for t in sessions.texts[:512]]
        result["memory"] = speed_memory.measure(tiny, base, work, sizes, cfg.threads, log=say)
    else:
        result["memory"] = {"skipped": "run with --million"}

    sql.close()
    result["goals"] = _goals(result, device)
    result["seconds"] = round(time.perf_counter() - say.started, 1)
    return result


def _max_diff(a, b, keep=None) -> float:
    keep = keep or [True] * len(a)
    return max((abs(x - y) for x, y, k in zip(a, b, keep, strict=True) if k), default=0.0)


def _throughput(runs, n, tokens, useful_flops, runtime_flops, shape, peaks, device,
                whole) -> dict:
    peak = _median(peaks)
    out: dict = {"matmul_peak_gflops": peak, "matmul_peaks_gflops": peaks, "rows": n,
                 "tokens": tokens}
    plain_seconds = [r["seconds_total"] for r in runs["plain"]]
    for name, items in runs.items():
        seconds = [r["seconds_total"] for r in items]
        sec = _median(seconds)
        entry = {
            "seconds": seconds, "rows_per_s": n / sec, "tokens_per_s": tokens / sec,
            "model_flop_utilisation": useful_flops / sec / (peak * 1e9),
        }
        if name == "plain":
            executed = sum(tp.encoder_flops(shape, w) for w in items[0]["widths"])
            entry["padded_tokens"] = sum(items[0]["widths"])
        else:
            executed = runtime_flops
            entry.update(precision=items[0]["precision"], load_s=_median(
                [r["load_s"] for r in items]), forward_rows=items[0]["forward_rows"])
            entry["vs_plain"] = _median([p / s for p, s in zip(plain_seconds, seconds,
                                                               strict=True)])
            entry["vs_plain_per_round"] = [p / s for p, s in zip(plain_seconds, seconds,
                                                                 strict=True)]
            # over texts that fit: past max_length the runtime keeps head and tail, the
            # plain tokenizer the head only
            entry["max_abs_diff_vs_plain"] = _max_diff(items[0]["scores"],
                                                       runs["plain"][0]["scores"], whole)
            entry["truncated_texts"] = whole.count(False)
        entry["executed_flop_utilisation"] = executed / sec / (peak * 1e9)
        if items[0].get("gpu_max_memory_mb") is not None:
            entry["gpu_max_memory_mb"] = max(r["gpu_max_memory_mb"] for r in items)
        out[name] = entry
    if device.startswith("cuda"):
        out["bf16_matmul_peak_gflops"] = tp.matmul_peak(device, dtype="bf16")
        out["sql_runtime"]["model_flop_utilisation_vs_bf16_peak"] = (
            useful_flops / _median([r["seconds_total"] for r in runs["sql_runtime"]])
            / (out["bf16_matmul_peak_gflops"] * 1e9))
    return out


def _workloads(cfg, sql, sample, labelled, device, request, plain, plain_rps, model_dir,
               meta) -> dict:
    import numpy as np

    rng = np.random.default_rng(cfg.seed)
    n_dup = int(round(cfg.duplicate_share * len(sample)))
    rows = list(sample) + [sample[i] for i in rng.integers(len(sample), size=n_dup)]
    rows = [rows[i] for i in rng.permutation(len(rows))]
    sql.add_table("sessions_workload", rows)
    w = sql.score("sessions_workload", device=device, precision=request, cache=True, queries=2)
    first, second = w["seconds"]
    out = {
        "duplicates": {
            "rows": len(rows), "distinct": len(set(rows)), "duplicate_share": n_dup / len(rows),
            "rows_per_s": len(rows) / first, "vs_plain": len(rows) / first / plain_rps,
            "forward_rows": w["forward_rows"], "precision": w["precision"]},
        "rescoring": {"rows": len(rows), "rows_per_s": len(rows) / second,
                      "vs_plain": len(rows) / second / plain_rps},
        "both_queries": {"rows": 2 * len(rows), "rows_per_s": 2 * len(rows) / (first + second),
                         "vs_plain": 2 * len(rows) / (first + second) / plain_rps},
    }
    out["store"] = _store_workload(cfg, sql, sample, labelled, device, plain, plain_rps,
                                   model_dir, meta)
    return out


def _store_workload(cfg, sql, sample, labelled, device, plain, plain_rps, model_dir,
                    meta) -> dict:
    """fp32 scoring with the training run's embedding store covering the labelled texts
    (training embeds every labelled session it reads)."""
    from udf.embedding_store import EmbeddingStore

    key, where = meta.get("encoder_key"), meta.get("embedding_store")
    if not (key and where):
        return {"skipped": "the model records no embedding store (not trained by duckbert)"}
    store_dir = (model_dir / where).resolve()
    covered = [t for t, lab in zip(sample, labelled, strict=True) if lab]
    if cfg.model is None and covered:
        from training.embeddings import embed_texts

        embed_texts(plain.model, covered, plain.model.tokenizer.ids(covered), device,
                    store_dir, progress=False)
    store = EmbeddingStore(store_dir, key)
    keys, missing = store.lookup(sample)
    coverage = 1 - len(missing) / len(sample)
    if not len(store) or coverage == 0:
        return {"skipped": "no sample text is in the embedding store", "coverage": coverage}
    s = sql.score("sessions", device=device, precision="fp32", store=True)
    return {"rows": len(sample), "coverage": coverage, "store_hits": s["store_hits"],
            "rows_per_s": len(sample) / s["seconds"][0],
            "vs_plain": len(sample) / s["seconds"][0] / plain_rps, "precision": "fp32"}


def _goals(result: dict, device: str) -> dict:
    t = result["throughput"]
    # the most conservative workload with the savings counted: one query over a table with
    # duplicate rows, on a fresh scorer (no rescoring, no embedding store)
    savings = result["workloads"]["duplicates"]["vs_plain"]
    goals = {
        "sql_fp32_vs_plain": {"goal": f">= {GOAL_SQL_VS_PLAIN}",
                              "value": t["sql_fp32"]["vs_plain"],
                              "met": t["sql_fp32"]["vs_plain"] >= GOAL_SQL_VS_PLAIN},
        "runtime_vs_plain": {"goal": f"> {GOAL_RUNTIME_VS_PLAIN} (runtime precision, unique)",
                             "value": t["sql_runtime"]["vs_plain"],
                             "met": t["sql_runtime"]["vs_plain"] > GOAL_RUNTIME_VS_PLAIN},
        "runtime_with_savings_vs_plain": {
            "goal": f"> {GOAL_RUNTIME_VS_PLAIN} (runtime precision, dedup and cache; the "
                    "table with duplicate rows, first query)",
            "value": savings, "met": savings > GOAL_RUNTIME_VS_PLAIN},
    }
    if device.startswith("cuda"):
        rps = t["sql_runtime"]["rows_per_s"]
        goals["gpu_rows_per_s"] = {"goal": f">= {GOAL_GPU_ROWS_PER_S}", "value": rps,
                                   "met": rps >= GOAL_GPU_ROWS_PER_S}
    if "bounded" in result["memory"]:
        goals["memory_bounded"] = {"goal": "peak RSS at the largest size < 1.5 x the smallest",
                                   "value": result["memory"]["rss_growth"],
                                   "met": result["memory"]["bounded"]}
    return goals


def write_json(result: dict, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, sort_keys=True, default=str))
    return path
