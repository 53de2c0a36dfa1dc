"""The speed benchmark's table (terminal and Markdown) and its block in docs/BENCHMARKS.md."""

from __future__ import annotations

from pathlib import Path


def _f(value, digits=1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def rows(result: dict) -> list[tuple[str, str, str, str, str]]:
    """(measurement, rows, rows/s, tokens/s, vs plain) lines of the main table."""
    t, w = result["throughput"], result["workloads"]
    prec = result["model"]["runtime_precision"]
    out = [
        ("plain transformers forward, fp32, batch 64 in input order", t["rows"],
         t["plain"]["rows_per_s"], t["plain"]["tokens_per_s"], 1.0),
        ("anomaly_score in SQL, fp32, cache off, distinct texts", t["rows"],
         t["sql_fp32"]["rows_per_s"], t["sql_fp32"]["tokens_per_s"], t["sql_fp32"]["vs_plain"]),
        (f"anomaly_score in SQL, runtime precision ({prec}), cache off", t["rows"],
         t["sql_runtime"]["rows_per_s"], t["sql_runtime"]["tokens_per_s"],
         t["sql_runtime"]["vs_plain"]),
        (f"  + {w['duplicates']['duplicate_share']:.0%} duplicate rows, cache and dedup on",
         w["duplicates"]["rows"], w["duplicates"]["rows_per_s"], None,
         w["duplicates"]["vs_plain"]),
        ("  + the same query again (rescoring, cache warm)", w["rescoring"]["rows"],
         w["rescoring"]["rows_per_s"], None, w["rescoring"]["vs_plain"]),
        ("  both queries together", w["both_queries"]["rows"], w["both_queries"]["rows_per_s"],
         None, w["both_queries"]["vs_plain"]),
    ]
    store = w["store"]
    if "vs_plain" in store:
        out.append((f"anomaly_score, fp32 + training's embedding store "
                    f"({store['coverage']:.0%} of texts)", store["rows"], store["rows_per_s"],
                    None, store["vs_plain"]))
    n = result["naive"]
    out.append(("naive row-at-a-time UDF around a transformers pipeline", n["rows"],
                n["naive_rows_per_s"], None,
                n["naive_rows_per_s"] / t["plain"]["rows_per_s"]))
    return [(a, _f(b), _f(c), _f(d), f"{e:.2f}x" if e is not None else "-")
            for a, b, c, d, e in out]


def facts(result: dict) -> list[tuple[str, str]]:
    """(figure, value) lines below the table."""
    t, m, texts = result["throughput"], result["model"], result["texts"]
    n = result["naive"]
    out = [
        ("anomaly_score (runtime precision) vs the naive pipeline UDF",
         f"{n['runtime_over_naive']:.1f}x (naive on {n['rows']} of the rows; on exactly "
         f"those rows {n['runtime_over_naive_same_rows']:.1f}x)"),
        ("measured fp32 matmul peak (2048^3, median of rounds)",
         f"{t['matmul_peak_gflops']:.1f} GFLOP/s"),
        ("model FLOPs per token (at 128 tokens, attention included)",
         f"{m['gflops_per_token_at_128'] * 1000:.1f} MFLOP"),
        ("model FLOP utilisation: plain fp32 / SQL fp32 / SQL runtime",
         " / ".join(f"{t[k]['model_flop_utilisation']:.0%}"
                    for k in ("plain", "sql_fp32", "sql_runtime"))),
        ("executed FLOPs (padding included): plain fp32 / SQL fp32",
         " / ".join(f"{t[k]['executed_flop_utilisation']:.0%}" for k in ("plain", "sql_fp32"))),
        ("tokens per text: real mean / padded (runtime) / padded (plain)",
         f"{texts['mean_tokens']:.0f} / {texts['mean_padded_runtime']:.0f} / "
         f"{t['plain']['padded_tokens'] / t['rows']:.0f}"),
        ("max |score difference| SQL fp32 vs plain; runtime precision vs plain "
         "(texts within max_length)",
         f"{t['sql_fp32']['max_abs_diff_vs_plain']:.1e}; "
         f"{t['sql_runtime']['max_abs_diff_vs_plain']:.1e}"),
        ("precision check of the model (max |score - fp32|)", str(m["precision_check"])),
        ("model load on first call (median)", f"{t['sql_fp32']['load_s']:.1f} s"),
    ]
    if "bf16_matmul_peak_gflops" in t:
        out.append(("measured bf16 matmul peak; runtime model FLOP utilisation vs it",
                    f"{t['bf16_matmul_peak_gflops']:,.0f} GFLOP/s; "
                    f"{t['sql_runtime']['model_flop_utilisation_vs_bf16_peak']:.0%}"))
    for key in ("plain", "sql_runtime"):
        if "gpu_max_memory_mb" in t[key]:
            out.append((f"GPU memory, max allocated ({key})",
                        f"{t[key]['gpu_max_memory_mb']:,.0f} MiB"))
    r = result["rebuild"]
    if "full_s" in r:
        out += [
            (f"rebuild of session_scores+ ({r['sessions']} sessions): full / no-op / "
             f"after {r['new_sessions']} new", f"{r['full_s']:.1f} s / {r['noop_s']:.1f} s / "
                                               f"{r['incremental_s']:.1f} s"),
            ("incremental / full rebuild (wall, dbt process included)",
             f"{r['incremental_over_full']:.3f}"),
            ("incremental / full rebuild, above the no-op run's fixed cost",
             f"{r['scoring_share']:.3f}"),
        ]
    else:
        out.append(("rebuild", r.get("skipped", "-")))
    mem = result["memory"]
    if "runs" in mem:
        runs = mem["runs"]
        out += [
            ("peak RSS scoring " + " vs ".join(f"{x['rows']:,}" for x in runs) + " rows",
             " vs ".join(f"{x['maxrss_mb']:,.0f} MiB" for x in runs)
             + f" (x{mem['rss_growth']:.2f}; all texts materialized would be "
               f"~{mem['materialized_texts_mb']:,.0f} MiB)"),
            ("rows/s of those runs (tiny 2-layer model, fp32, cache capped)",
             " / ".join(f"{x['rows_per_s']:,.0f}" for x in runs)),
        ]
    else:
        out.append(("memory (1,000,000 rows)", mem.get("skipped", "-")))
    for name, goal in result["goals"].items():
        out.append((f"goal {name} {goal['goal']}",
                    f"{_f(goal['value'], 2)} -> {'met' if goal['met'] else 'NOT met'}"))
    return out


HEADER = ("measurement", "rows", "rows/s", "tokens/s", "vs plain")


def format_table(result: dict) -> str:
    lines = rows(result)
    widths = [max(len(h), *(len(r[i]) for r in lines)) for i, h in enumerate(HEADER)]

    def line(cells):
        return "  ".join(c.ljust(widths[0]) if i == 0 else c.rjust(widths[i])
                         for i, c in enumerate(cells))

    out = [line(HEADER), line(["-" * w for w in widths]), *(line(r) for r in lines), ""]
    key_width = max(len(k) for k, _ in facts(result))
    out += [f"{k.ljust(key_width)}  {v}" for k, v in facts(result)]
    return "\n".join(out)


def markdown(result: dict) -> str:
    m, mach, texts = result["model"], result["machine"], result["texts"]
    cfg = result["config"]
    text_kind = (f"{texts['sessions']} synthetic texts of <= {texts['fixed_tokens']} tokens"
                 if texts["fixed_tokens"] else f"{texts['sessions']} warehouse sessions")
    out = [
        f"Command: `{result['command']}`  ",
        f"Date: {result['date']}; {mach['cpu']}, {mach['cores']} cores, "
        f"{mach['torch_threads']} torch thread(s), device {mach['device']}"
        + (f" ({mach['gpu']})" if mach.get("gpu") else "")
        + f"; torch {mach['torch']}, duckdb {mach['duckdb']}; "
          f"run took {result['seconds']:.0f} s.  ",
        f"Model: {m['base_model']} ({m['shape']['layers']} layers, {m['shape']['hidden']} "
        f"wide), max_length {m['max_length']}, runtime precision {m['runtime_precision']}.  ",
        f"Texts: {text_kind}; throughput on {texts['sample']} of them (mean "
        f"{texts['mean_tokens']:.0f} tokens), {cfg['rounds']} interleaved rounds, medians.",
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(HEADER) - 1)) + "|",
    ]
    out += ["| " + " | ".join(r) + " |" for r in rows(result)]
    out += ["", "| figure | value |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in facts(result)]
    return "\n".join(out)


def write_docs(result: dict, path: str | Path) -> Path:
    """Replace the generated block of the Speed section (create the file if needed)."""
    from duckbert.benchmarks.docs_block import write_block

    return write_block(path, "Speed", "speed", markdown(result))
