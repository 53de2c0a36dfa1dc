"""`duckbert bench quality`: every training mode and the classic peers, one split, one run.

Generates the synthetic warehouse (default difficulty), builds it with dbt, then trains each
mode on the same user-grouped split (the split is a function of the seed and the users) and
reads the peers — TF-IDF + logistic regression on session_text, gradient boosting and an
isolation forest on the session aggregates — from the same run. Fine-tuning on a CPU sees a
sample of the training rows (`finetune_max_rows`) for one epoch; on a GPU all rows, 3 epochs.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

from udf.base_models import DEFAULT_BASE_MODEL

DEFAULT_MODES = ("auto", "lora", "full", "unsupervised")
REVIEW_FAMILIES = ("fake_review", "brushing")


def _row(result, per_thousand_rows: int) -> dict:
    test = result.test
    families = test.get("per_family", {})
    out = {
        "pr_auc": test.get("pr_auc"), "roc_auc": test.get("roc_auc"),
        "f1": test.get("f1"), "precision": test.get("precision"), "recall": test.get("recall"),
        "recall_per_family": {k: v["recall"] for k, v in families.items()},
        "pr_auc_per_family": {k: v["pr_auc"] for k, v in families.items()},
        "trained_as": result.mode, "plan": result.plan, "timings": result.timings,
        "seconds_per_1000": round(1000 * result.seconds / max(per_thousand_rows, 1), 1),
    }
    if result.path:
        from udf.artifact import read_meta

        epochs = read_meta(result.path).get("history", {}).get("finetune")
        if epochs:
            out["finetune_val_pr_auc_by_epoch"] = [e["val_pr_auc"] for e in epochs]
    ft = result.timings.get("finetune")
    if ft and result.timings.get("finetune_rows"):
        out["finetune_seconds_per_1000"] = round(1000 * ft / result.timings["finetune_rows"], 1)
    return out


def _peer_row(metrics: dict) -> dict:
    families = metrics.get("per_family", {})
    return {
        "pr_auc": metrics.get("pr_auc"), "roc_auc": metrics.get("roc_auc"),
        "f1": metrics.get("f1"), "precision": metrics.get("precision"),
        "recall": metrics.get("recall"),
        "recall_per_family": {k: v["recall"] for k, v in families.items()},
        "pr_auc_per_family": {k: v["pr_auc"] for k, v in families.items()},
    }


def run_quality(users: int = 3000, seed: int = 0, difficulty: float | None = None,
                modes=DEFAULT_MODES, work_dir: str | None = None,
                finetune_max_rows: int = 1500, device: str | None = None,
                base_model: str | None = None, log=print) -> dict:
    """Train every mode in `modes` and the peers on one split; returns the results dict."""
    import tempfile

    from duckbert.benchmarks.speed_data import build_warehouse
    from training.config import TrainConfig
    from training.trainer import train
    from udf.device import choose_device

    started = time.monotonic()
    work = Path(work_dir or tempfile.mkdtemp(prefix="duckbert-quality-"))
    work.mkdir(parents=True, exist_ok=True)
    db = build_warehouse(work, users, seed, difficulty, log)
    on_gpu = choose_device(device).startswith("cuda")
    results = {"modes": {}, "peers": {}}
    for mode in modes:
        log(f"\n== mode {mode}")
        fine = mode in ("full", "lora")
        cfg = TrainConfig(
            db_path=str(db), mode=mode, seed=seed, name=f"bench-{mode}", device=device,
            base_model=base_model,
            models_dir=str(work / "models"), compare_peers=not results["peers"],
            progress=False, epochs=(None if on_gpu else 1) if fine else None,
            finetune_max_rows=None if on_gpu else finetune_max_rows,
        )
        result = train(cfg, log=lambda line: log("  " + line))
        results["modes"][mode] = _row(result, result.n_labelled)
        if result.peers and not results["peers"]:
            results["peers"] = {k: _peer_row(v) for k, v in result.peers.items()}
        results["split"] = result.split_sizes
    results["config"] = {
        "users": users, "seed": seed, "difficulty": difficulty, "modes": list(modes),
        "finetune_max_rows": None if on_gpu else finetune_max_rows,
        "device": choose_device(device), "work_dir": str(work),
        "base_model": base_model or DEFAULT_BASE_MODEL,
    }
    results["date"] = dt.date.today().isoformat()
    results["seconds"] = round(time.monotonic() - started, 1)
    return results


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.3f}"


def _review_recall(row: dict) -> str:
    values = [row["recall_per_family"].get(f) for f in REVIEW_FAMILIES]
    values = [v for v in values if v is not None]
    return "-" if not values else f"{sum(values) / len(values):.3f}"


def _finetune_note(row: dict) -> str:
    by_epoch = row.get("finetune_val_pr_auc_by_epoch")
    if not by_epoch:
        return ""
    kept = ("the head alone (no fine-tuning epoch beat it on validation)"
            if row["trained_as"] == "head" else f"the fine-tuned {row['trained_as']} model")
    return (f"; validation PR-AUC by epoch {', '.join(f'{v:.4f}' for v in by_epoch)} "
            f"(epoch 0 = the head alone); kept {kept}")


def markdown(results: dict, command: str) -> str:
    """The quality table, per-family recall, and the training cost per mode."""
    rows = [(f"duckbert {m}" + (f" (as {r['trained_as']})" if r["trained_as"] != m else ""), r)
            for m, r in results["modes"].items()]
    rows += [(f"peer: {name}", r) for name, r in results["peers"].items()]
    families = sorted({f for _, r in rows for f in r["recall_per_family"]})
    split = results.get("split", {})
    lines = [
        f"Command: `{command}` — {results['date']}, device {results['config']['device']}, "
        f"{results['seconds']:.0f} s in all. Split by user: {split.get('train')} train / "
        f"{split.get('val')} validation / {split.get('test')} test sessions; every row "
        "below is on the same test split. Thresholds: each model's own max-F1 threshold on "
        "validation.",
        "",
        "| model | PR-AUC | ROC-AUC | F1 | precision | recall | recall on review families "
        f"({', '.join(REVIEW_FAMILIES)}) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in rows:
        lines.append(f"| {name} | {_fmt(r['pr_auc'])} | {_fmt(r['roc_auc'])} | {_fmt(r['f1'])} "
                     f"| {_fmt(r['precision'])} | {_fmt(r['recall'])} | {_review_recall(r)} |")
    lines += ["", "Recall at the threshold, per anomaly family (test split):", "",
              "| model | " + " | ".join(families) + " |",
              "|---|" + "---|" * len(families)]
    for name, r in rows:
        lines.append(f"| {name} | " + " | ".join(
            _fmt(r["recall_per_family"].get(f)) for f in families) + " |")
    lines += ["", "Training cost (this machine, this run):", "",
              "| mode | seconds per 1,000 labelled sessions (whole run) | encode s | head s "
              "| fine-tune s per 1,000 rows per epoch |", "|---|---|---|---|---|"]
    for mode, r in results["modes"].items():
        t = r["timings"]
        lines.append(f"| {mode} | {r['seconds_per_1000']} | {t.get('encode', '-')} | "
                     f"{t.get('head', '-')} | {r.get('finetune_seconds_per_1000', '-')} |")
    plans = [f"- {m}: {r['plan']}{_finetune_note(r)}" for m, r in results["modes"].items()
             if r.get("plan")]
    if plans:
        lines += ["", "What each run chose and why:", "", *plans]
    return "\n".join(lines)


def save(results: dict, out_path: str | Path, docs_path: str | Path | None,
         command: str) -> str:
    """Write the JSON and (optionally) the docs block; returns the Markdown."""
    from duckbert.benchmarks.docs_block import write_block

    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str))
    text = markdown(results, command)
    if docs_path:
        write_block(docs_path, "Quality", "quality", text)
    return text
