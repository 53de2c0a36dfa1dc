"""Peak resident memory while `anomaly_score` streams over 1,000,000 sessions.

Each size runs in its own Python process (`python -m duckbert.benchmarks.speed_memory`), so
its peak RSS (ru_maxrss, read by the parent with os.wait4) is that run's alone. The process
builds the texts inside DuckDB from a small table of real session texts, made distinct with
the row number, and aggregates the scores, so neither side ever holds all rows:

    select count(*), count(s), sum(s) from (
        select anomaly_score(b.session_text || ' | ' || r.i) as s
        from range(N) r(i) join base b on b.k = r.i % K)

Memory is bounded when the peak at 1,000,000 rows is close to the peak at 100,000 rows (the
score cache is capped at DUCKBERT_CACHE_SIZE entries; nothing else grows with the rows).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

QUERY = """
select count(*) as n, count(s) as scored, sum(s) as total from (
    select anomaly_score(b.session_text || ' | ' || r.i::varchar) as s
    from range({rows}) r(i) join base b on b.k = r.i % {k})
"""


def _child(model: str, texts_file: str, rows: int, threads: int | None) -> dict:
    import resource

    import duckdb

    if threads:
        import torch

        torch.set_num_threads(threads)
    from udf.sql_functions import register

    con = duckdb.connect(":memory:")
    con.execute("set enable_progress_bar = false")
    texts = json.loads(Path(texts_file).read_text())
    con.execute("create table base (k bigint, session_text varchar)")
    con.executemany("insert into base values (?, ?)", list(enumerate(texts)))
    register(con, model=model)
    con.execute("select anomaly_score('warm up')").fetchall()
    start = time.perf_counter()
    n, scored, total = con.execute(QUERY.format(rows=int(rows), k=len(texts))).fetchall()[0]
    seconds = time.perf_counter() - start
    from udf.scorer import get_scorer

    scorer = get_scorer(model)
    return {"rows": n, "scored": scored, "mean_score": total / max(scored, 1),
            "seconds": seconds, "rows_per_s": n / seconds, "cache_entries": len(scorer.cache),
            "forward_rows": scorer.forward_rows,
            "self_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _wait4_popen(argv, env, cwd, timeout_s):
    """Popen + os.wait4: stdout and the child's own rusage (ru_maxrss in KiB on Linux)."""
    import tempfile

    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env, cwd=cwd, text=True)
        deadline = time.monotonic() + timeout_s
        while True:
            pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                os.wait4(proc.pid, 0)
                raise TimeoutError(f"{argv} ran past {timeout_s}s")
            time.sleep(0.2)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return proc.returncode, out.read(), err.read(), rusage


def measure(model: Path, texts: list[str], work_dir: Path, sizes=(100_000, 1_000_000),
            threads: int | None = None, log=print) -> dict:
    """Peak RSS and rows/s per size; `bounded` compares the largest size with the smallest."""
    texts_file = work_dir / "memory_texts.json"
    texts_file.write_text(json.dumps(texts))
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "DUCKBERT_PRECISION": "fp32", "DUCKBERT_EMBEDDING_STORE": "0"}
    env.pop("DUCKBERT_CACHE_SIZE", None)  # the runtime's default cap
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    runs = []
    for rows in sizes:
        argv = [sys.executable, "-m", "duckbert.benchmarks.speed_memory", "--model",
                str(model), "--texts", str(texts_file), "--rows", str(rows)]
        if threads:
            argv += ["--threads", str(threads)]
        code, out, err, rusage = _wait4_popen(argv, env, str(root), timeout_s=3600)
        if code != 0:
            raise RuntimeError(f"memory run of {rows} rows failed:\n{err[-3000:]}")
        result = json.loads(out.strip().splitlines()[-1])
        result["maxrss_mb"] = round(rusage.ru_maxrss / 1024, 1)
        runs.append(result)
        log(f"  {rows:,} rows: {result['rows_per_s']:,.0f} rows/s, peak RSS "
            f"{result['maxrss_mb']:,.0f} MiB")
    small, large = runs[0], runs[-1]
    text_bytes = sum(len(t.encode()) for t in texts) / len(texts)
    growth = large["maxrss_mb"] / small["maxrss_mb"]
    return {
        "runs": runs, "mean_text_bytes": round(text_bytes, 1),
        "rss_growth": growth,
        # all texts of the largest run as Python strings, if they had been materialized
        "materialized_texts_mb": round(large["rows"] * (text_bytes + 60) / 2**20, 1),
        "bounded": growth < 1.5,
    }


def main(argv=None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--texts", required=True)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    print(json.dumps(_child(args.model, args.texts, args.rows, args.threads)))


if __name__ == "__main__":
    main()
