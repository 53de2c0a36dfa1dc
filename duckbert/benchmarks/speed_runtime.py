"""`duckbert bench runtime`: the serving runtime at its defaults on a trained warehouse.

One run, the same distinct session texts for every figure:

- the strongest plain baseline: transformers, fp32 torch, length-sorted batches of 64 at the
  model's max_length (speed_throughput.PlainForward with sort=True);
- `select anomaly_score(session_text)` at the runtime's defaults (the variant the model's
  decision check approved; cache, score store and embedding store off: every text encoded);
- the same query pinned to torch fp32 (the decision reference): speed, and the share of
  flags the default variant keeps equal to it;
- the naive row-at-a-time UDF around a transformers pipeline, on a subset;
- repeats: a second query on a fresh scorer over texts in the score store (as an analyst's
  query after `dbt build`), and the same query again on the warm in-process cache, as rows/s;
- explanations: anomaly_explain over the flagged texts (base scores cached, as in the build).
"""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

from duckbert.benchmarks import speed_throughput as tp


def _texts(db: Path, rows: int) -> tuple[list[str], str]:
    from udf.connect import connect_warehouse
    from udf.resolve import resolve_binding

    con = connect_warehouse(str(db), read_only=True)
    try:
        texts = [r[0] for r in con.execute(
            "select session_text from (select distinct session_text from sessions "
            "where session_text is not null) order by md5(session_text) limit ?",
            [rows]).fetchall()]
        model_dir = resolve_binding(con, None).default_dir()
    finally:
        con.close()
    return texts, model_dir


class _env:
    def __init__(self, **settings):
        self.settings = settings

    def __enter__(self):
        self.old = {k: os.environ.get(k) for k in self.settings}
        os.environ.update({k: str(v) for k, v in self.settings.items()})

    def __exit__(self, *exc):
        for key, value in self.old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _load() -> str:
    with open("/proc/loadavg") as fh:
        return " ".join(fh.read().split()[:3])


def run_runtime(db: str | Path, rows: int = 512, batch_size: int = 64, naive_rows: int = 32,
                explain_rows: int = 32, log=print) -> dict:
    import torch

    from udf.artifact import read_meta
    from udf.onnx_backend import cpu_isa
    from udf.scorer import clear_scorers, get_scorer

    db = Path(db).resolve()
    texts, model_dir = _texts(db, rows)
    meta = read_meta(model_dir)
    threshold = float(meta["threshold"])
    out = {"benchmark": "runtime", "date": dt.date.today().isoformat(), "db": str(db),
           "model": str(model_dir), "rows": len(texts), "threshold": threshold,
           "cpu_isa": cpu_isa(), "torch_threads": torch.get_num_threads(),
           "cores": os.cpu_count(), "load_before": _load()}
    log(f"{len(texts)} distinct session texts; model {meta['name']}@{meta['version']}; "
        f"load {out['load_before']}")

    plain = tp.PlainForward(Path(model_dir), "cpu", batch_size, sort=True)
    plain.run(texts[:4])
    p = plain.run(texts)
    log(f"  plain fp32, sorted batches of {batch_size}: {len(texts) / p['seconds']:.1f} rows/s")

    sql = tp.SqlBench(Path(model_dir), {"sessions": texts})
    with _env(DUCKBERT_SCORE_STORE="0"):
        runtime = sql.score()  # defaults; cache (and with it the score store) off
        log(f"  SQL runtime defaults ({runtime['variant']}): "
            f"{len(texts) / runtime['seconds'][0]:.1f} rows/s")
        fp32 = sql.score(precision="fp32")
        log(f"  SQL torch fp32: {len(texts) / fp32['seconds'][0]:.1f} rows/s")
    flags = [s >= threshold for s in runtime["scores"]]
    ref_flags = [s >= threshold for s in fp32["scores"]]
    agree = sum(a == b for a, b in zip(flags, ref_flags, strict=True)) / len(texts)
    plain_flags = [s >= threshold for s in p["scores"]]
    agree_plain = sum(a == b for a, b in zip(flags, plain_flags, strict=True)) / len(texts)

    subset = texts[: max(1, naive_rows)]
    naive = tp.naive_udf(Path(model_dir), subset, "cpu")
    log(f"  naive row UDF: {len(subset) / naive['seconds']:.1f} rows/s on {len(subset)} rows")

    # Repeats. The build wrote its scores to the store; make sure every text is there (a
    # text the build did not score is written now), then query on a fresh scorer.
    clear_scorers()
    fill = sql.score(cache=True)
    second = sql.score(cache=True, queries=2)
    log(f"  second query, score store: {len(texts) / second['seconds'][0]:,.0f} rows/s; "
        f"in-process cache: {len(texts) / second['seconds'][1]:,.0f} rows/s")

    # Explanations of the flagged texts, base scores already cached, variants computed.
    flagged = [t for t, f in zip(texts, flags, strict=True) if f][:explain_rows]
    explain = {"rows": len(flagged)}
    if flagged:
        sql.add_table("flagged", flagged)
        with _env(DUCKBERT_SCORE_STORE="0"):
            clear_scorers()
            sql.con.execute("select anomaly_score(session_text) from flagged").fetchall()
            scorer = get_scorer(model_dir)
            before = scorer.forward_rows
            start = time.perf_counter()
            sql.con.execute("select anomaly_explain(session_text) from flagged").fetchall()
            seconds = time.perf_counter() - start
            explain.update(seconds=seconds, per_session_s=seconds / len(flagged),
                           encoded=scorer.forward_rows - before)
        log(f"  explain: {len(flagged)} flagged sessions in {seconds:.1f} s "
            f"({explain['encoded']} occlusion variants encoded)")
    sql.close()
    clear_scorers()

    plain_rps = len(texts) / p["seconds"]
    out.update({
        "serving": runtime["variant"], "serving_reason": runtime["reason"],
        "plain": {"rows_per_s": plain_rps, "seconds": p["seconds"]},
        "runtime": {"rows_per_s": len(texts) / runtime["seconds"][0],
                    "vs_plain": p["seconds"] / runtime["seconds"][0],
                    "forward_rows": runtime["forward_rows"]},
        "fp32": {"rows_per_s": len(texts) / fp32["seconds"][0],
                 "vs_plain": p["seconds"] / fp32["seconds"][0]},
        "flag_agreement_vs_fp32": agree, "flag_agreement_vs_plain": agree_plain,
        "flagged": sum(flags),
        "naive": {"rows": len(subset), "rows_per_s": len(subset) / naive["seconds"]},
        "store": {"rows_per_s": len(texts) / second["seconds"][0],
                  "hits_before_fill": fill["score_store_hits"],
                  "forward_rows": second["forward_rows"]},
        "cache": {"rows_per_s": len(texts) / second["seconds"][1]},
        "explain": explain, "load_after": _load(),
    })
    return out


def markdown(r: dict, command: str) -> str:
    def rate(x):
        return f"{x:,.0f}" if x >= 100 else f"{x:.1f}"

    e = r["explain"]
    lines = [
        f"Command: `{command}`  ",
        f"Date: {r['date']}; {r['cores']} cores, {r['torch_threads']} torch threads, CPU int8 "
        f"ISA {r['cpu_isa']}; load average {r['load_before']} before, {r['load_after']} after "
        "(a shared machine: compare the ratios, measured in the same run).  ",
        f"{r['rows']} distinct session texts of the trained warehouse; serving "
        f"`{r['serving']}` ({r['serving_reason']}).",
        "",
        "| measurement | rows | rows/s | vs plain |",
        "|---|---:|---:|---:|",
        f"| plain transformers forward, fp32 torch, length-sorted batches of 64, same "
        f"max_length | {r['rows']} | {rate(r['plain']['rows_per_s'])} | 1.00x |",
        f"| `select anomaly_score(session_text)`, runtime defaults ({r['serving']}), cache "
        f"and stores off | {r['rows']} | {rate(r['runtime']['rows_per_s'])} | "
        f"{r['runtime']['vs_plain']:.2f}x |",
        f"| the same, pinned to torch fp32 (the decision reference) | {r['rows']} | "
        f"{rate(r['fp32']['rows_per_s'])} | {r['fp32']['vs_plain']:.2f}x |",
        f"| naive row-at-a-time UDF around a transformers pipeline | {r['naive']['rows']} | "
        f"{rate(r['naive']['rows_per_s'])} | "
        f"{r['naive']['rows_per_s'] / r['plain']['rows_per_s']:.2f}x |",
        f"| second query, fresh scorer, texts in the score store (lookups) | {r['rows']} | "
        f"{rate(r['store']['rows_per_s'])} | - |",
        f"| the same query again, in-process cache (lookups) | {r['rows']} | "
        f"{rate(r['cache']['rows_per_s'])} | - |",
        "",
        f"Flags equal to torch fp32's: {r['flag_agreement_vs_fp32']:.2%} "
        f"({r['flagged']} flagged); to the plain forward's: {r['flag_agreement_vs_plain']:.2%} "
        "(the plain tokenizer keeps a long text's head only, the runtime head and tail).  ",
    ]
    if e.get("rows"):
        lines.append(f"Explanations: anomaly_explain over {e['rows']} flagged sessions took "
                     f"{e['seconds']:.1f} s ({e['per_session_s']:.2f} s each, {e['encoded']} "
                     "occlusion variants encoded, base scores cached).")
    return "\n".join(lines)


def write_docs(result: dict, path: str | Path, command: str) -> Path:
    from duckbert.benchmarks.docs_block import write_block

    return write_block(path, "Serving runtime", "runtime", markdown(result, command))
