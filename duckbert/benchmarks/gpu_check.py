"""The GPU check (bench/gpu_check.sh, `duckbert bench gpu`): the whole job on one GPU, timed.

Generate a warehouse (>= 200,000 sessions), load it and `dbt build` it, train a head and one
fine-tuning epoch on a sample, then score every distinct session text in SQL at the precision
the runtime approves, against fp32 through the same SQL and a plain torch forward pass on the
same GPU (length-sorted batches of 64, fp32). Reports sessions/s, GPU utilisation sampled
during the SQL run, peak memory and the share of flags that agree with fp32.

`dry_run` runs the same steps on the CPU at tiny sizes, so the script is tested on every
machine and cannot rot; its figures mean nothing and are never written to the docs.
"""

from __future__ import annotations

import math
import shutil
import statistics
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

GOAL_ROWS_PER_S = 20_000
SESSIONS_PER_USER = 3.8  # what the default generator produces, measured


class GpuCheckError(RuntimeError):
    """A step of the GPU check could not run; the message names the step."""


@dataclass
class GpuCheckConfig:
    """What the check runs; defaults are the real run on one GPU."""

    work_dir: Path
    sessions: int = 200_000  # generated sessions (about; users = sessions / 3.8)
    finetune_rows: int = 20_000  # labelled sessions the fine-tuning epoch trains on
    base_model: str | None = None  # None: the packaged all-MiniLM-L6-v2
    dry_run: bool = False  # CPU, tiny sizes: tests the script, measures nothing
    seed: int = 0


class UtilisationSampler:
    """Samples `nvidia-smi` GPU utilisation every 0.2 s while running (None without it)."""

    def __init__(self, interval_s: float = 0.2):
        self.interval_s = interval_s
        self.samples: list[float] = []
        self.available = shutil.which("nvidia-smi") is not None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            out = subprocess.run(
                ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits",
                 "--id=0"], capture_output=True, text=True, check=False)
            if out.returncode == 0 and out.stdout.strip():
                self.samples.append(float(out.stdout.split()[0]))

    def __enter__(self):
        if self.available:
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self.available:
            self._thread.join()

    def summary(self) -> dict | None:
        if not self.samples:
            return None
        return {"mean_pct": round(statistics.fmean(self.samples), 1),
                "max_pct": max(self.samples), "samples": len(self.samples)}


def _step(name: str, log, fn):
    log(f"gpu_check: {name} ...")
    start = time.perf_counter()
    try:
        value = fn()
    except Exception as exc:
        raise GpuCheckError(f"gpu_check step '{name}' failed: {exc}") from exc
    seconds = time.perf_counter() - start
    log(f"gpu_check: {name} done in {seconds:.1f}s")
    return value, round(seconds, 2)


def _device(dry_run: bool) -> str:
    import torch

    if dry_run:
        return "cpu"
    if not torch.cuda.is_available():
        raise GpuCheckError("gpu_check: torch sees no CUDA GPU (torch "
                            f"{torch.__version__}, CUDA build: {torch.version.cuda}); run "
                            "with --dry-run to exercise the script on the CPU")
    return "cuda"


def _train(db: Path, cfg: GpuCheckConfig, device: str, **options):
    from training.config import TrainConfig
    from training.trainer import train

    if cfg.dry_run:  # a few hundred sessions hold only a handful of anomalies per split
        options.setdefault("min_rows_per_split", 2)
    config = TrainConfig(db_path=str(db), base_model=cfg.base_model, device=device,
                         progress=False, compare_peers=False, seed=cfg.seed,
                         models_dir=str(cfg.work_dir / "models"), **options)
    result = train(config, log=lambda *a, **k: None)
    if not result.path:
        raise GpuCheckError(f"training ({options}) wrote no model: {result.note}")
    return result


def _texts(db: Path) -> list[str]:
    from udf.connect import connect_warehouse

    con = connect_warehouse(db, read_only=True)
    try:
        rows = con.execute("select distinct session_text from sessions "
                           "where session_text is not null order by 1").fetchall()
    finally:
        con.close()
    return [r[0] for r in rows]


def run_gpu_check(cfg: GpuCheckConfig, log=print) -> dict:
    """Run every step; returns the figures (see module docstring). Raises GpuCheckError."""
    import torch

    from duckbert.benchmarks.speed_throughput import PlainForward, SqlBench, fitted_lengths
    from duckbert.benchmarks.warehouse import build_warehouse_parts

    device = _device(cfg.dry_run)
    cfg.work_dir = Path(cfg.work_dir)
    users = max(20, math.ceil(cfg.sessions / SESSIONS_PER_USER))
    timings: dict[str, float] = {}
    db, timings["generate_load_build_s"] = _step(
        f"generate {users:,} users, load, dbt build", log,
        lambda: build_warehouse_parts(cfg.work_dir, [{"name": "gpu", "users": users,
                                                      "seed": cfg.seed}], log=log))
    head, timings["train_head_s"] = _step(
        "train the head (frozen encoder)", log, lambda: _train(db, cfg, device, mode="head"))
    tuned, timings["finetune_epoch_s"] = _step(
        f"one fine-tuning epoch on {cfg.finetune_rows:,} sessions", log,
        lambda: _train(db, cfg, device, mode="full", epochs=1, name="gpu-check-finetuned",
                       finetune_max_rows=cfg.finetune_rows))
    texts, _ = _step("read the distinct session texts", log, lambda: _texts(db))
    model_dir = Path(head.path)
    bench = SqlBench(model_dir, {"sessions": texts})
    try:
        with UtilisationSampler() as sampler:
            runtime, timings["sql_runtime_s"] = _step(
                "anomaly_score() in SQL, approved precision", log,
                lambda: bench.score(device=device))
        fp32, timings["sql_fp32_s"] = _step("anomaly_score() in SQL, fp32", log,
                                            lambda: bench.score(device=device, precision="fp32"))
    finally:
        bench.close()
    plain_model = PlainForward(model_dir, device=device, batch_size=64)
    lengths = fitted_lengths(plain_model.model.tokenizer, texts)
    by_length = [texts[i] for i in sorted(range(len(texts)), key=lengths.__getitem__)]
    plain, timings["plain_forward_s"] = _step("plain torch forward, fp32, sorted batches of 64",
                                              log, lambda: plain_model.run(by_length))
    threshold = head.threshold
    flags = [(a >= threshold) == (b >= threshold)
             for a, b in zip(runtime["scores"], fp32["scores"], strict=True)]
    n = len(texts)
    result = {
        "dry_run": cfg.dry_run, "device": device,
        "gpu": torch.cuda.get_device_name(0) if device == "cuda" else None,
        "torch": torch.__version__,
        "sessions": n, "users": users,
        "tokens": {"mean": round(statistics.fmean(lengths), 1),
                   "p50": sorted(lengths)[n // 2], "p95": sorted(lengths)[int(n * 0.95)],
                   "max": max(lengths)},
        "precision": runtime["precision"],
        "rows_per_s": {"sql_runtime": round(n / min(runtime["seconds"]), 1),
                       "sql_fp32": round(n / min(fp32["seconds"]), 1),
                       "plain_fp32": round(n / plain["seconds"], 1)},
        "flag_agreement_vs_fp32": round(sum(flags) / max(1, n), 5),
        "gpu_max_memory_mb": {"sql_runtime": runtime["gpu_max_memory_mb"],
                              "plain_fp32": plain["gpu_max_memory_mb"]},
        "utilisation": sampler.summary(),
        "utilisation_note": None if sampler.available else "nvidia-smi not found",
        "finetune": {"requested": "full, 1 epoch", "shipped_mode": tuned.mode,
                     "val_pr_auc": tuned.validation.get("pr_auc")},
        "head": {"val_pr_auc": head.validation.get("pr_auc"),
                 "test_pr_auc": head.test.get("pr_auc")},
        "timings": timings,
        "total_s": round(sum(timings.values()), 1),
    }
    rates = result["rows_per_s"]
    result["vs_plain"] = round(rates["sql_runtime"] / rates["plain_fp32"], 2)
    result["goal_met"] = device == "cuda" and rates["sql_runtime"] >= GOAL_ROWS_PER_S
    return result


def summary_lines(r: dict) -> list[str]:
    """The check's figures as the terminal shows them."""
    rates, util = r["rows_per_s"], r["utilisation"]
    where = r["gpu"] or "CPU (dry run: figures mean nothing)"
    lines = [
        f"== gpu_check on {where}, torch {r['torch']} ==",
        f"sessions: {r['sessions']:,} distinct texts, tokens mean {r['tokens']['mean']:.0f}, "
        f"p50 {r['tokens']['p50']}, p95 {r['tokens']['p95']}, max {r['tokens']['max']}",
        f"anomaly_score() in SQL at {r['precision']}: {rates['sql_runtime']:>12,.0f} sessions/s",
        f"anomaly_score() in SQL at fp32:  {rates['sql_fp32']:>12,.0f} sessions/s",
        f"plain torch forward, fp32, sorted batches of 64: {rates['plain_fp32']:,.0f} sessions/s"
        f" (runtime {r['vs_plain']:.2f}x)",
        f"flags agreeing with fp32 at the threshold: {r['flag_agreement_vs_fp32']:.2%}",
        "GPU utilisation during the SQL run: " + (
            f"mean {util['mean_pct']:.0f}%, max {util['max_pct']:.0f}% ({util['samples']} samples)"
            if util else f"not measured ({r['utilisation_note'] or 'no samples'})"),
        f"peak GPU memory: runtime {r['gpu_max_memory_mb']['sql_runtime']} MiB, "
        f"plain {r['gpu_max_memory_mb']['plain_fp32']} MiB",
        "steps: " + ", ".join(f"{k.removesuffix('_s')} {v:.0f}s" for k, v in r["timings"].items())
        + f" (total {r['total_s']:.0f}s)",
        f"goal >= {GOAL_ROWS_PER_S:,} sessions/s in SQL on one GPU: "
        + ("met" if r["goal_met"] else "NOT met" + (" (dry run)" if r["dry_run"] else "")),
    ]
    return lines


def docs_table(r: dict, command: str, date: str) -> str:
    """The markdown block for docs/BENCHMARKS.md (never written by a dry run)."""
    rates = r["rows_per_s"]
    util = r["utilisation"]
    rows = [
        ("anomaly_score() in SQL, approved precision " + r["precision"],
         rates["sql_runtime"], r["gpu_max_memory_mb"]["sql_runtime"]),
        ("anomaly_score() in SQL, fp32", rates["sql_fp32"], None),
        ("plain torch forward, fp32, length-sorted batches of 64", rates["plain_fp32"],
         r["gpu_max_memory_mb"]["plain_fp32"]),
    ]
    body = [f"`{command}` on {date}: {r['gpu']}, torch {r['torch']}, {r['sessions']:,} distinct "
            f"session texts (tokens mean {r['tokens']['mean']:.0f}, p95 {r['tokens']['p95']}).",
            "", "| path | sessions/s | ratio to plain | peak GPU MiB |", "|---|---:|---:|---:|"]
    for name, rate, memory in rows:
        body.append(f"| {name} | {rate:,.0f} | {rate / rates['plain_fp32']:.2f}x | "
                    f"{memory if memory is not None else ''} |")
    body += ["", f"Flags agreeing with fp32 at the threshold: {r['flag_agreement_vs_fp32']:.2%}. "
             "GPU utilisation during the SQL run: "
             + (f"mean {util['mean_pct']:.0f}%, max {util['max_pct']:.0f}%." if util
                else "not measured."),
             "Steps (s): " + ", ".join(f"{k.removesuffix('_s')} {v:.0f}"
                                       for k, v in r["timings"].items()) + "."]
    return "\n".join(body)
