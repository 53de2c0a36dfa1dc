"""Which encoder variant serves a model: approved by its decisions, the fastest first.

A variant is a backend and a precision: `torch-fp32` (the reference, always allowed),
`torch-bf16`, `torch-int8` (udf.quantize's row-wise int8), `onnx-fp32` and `onnx-int8`
(udf.onnx_backend). Training scores the validation sessions with each of them and with the
reference (training/precision.py) and records, in duckbert.json's `precision_check`:

    {"policy": POLICY, "reference": "torch-fp32", "sessions": n, "threshold": t,
     "cpu_isa": "avx512_vnni", "variants": {"onnx-int8": {"flag_agreement": 0.998,
     "pr_auc": ..., "pr_auc_delta": -0.001, "max_score_delta": 0.03, "rows_per_s": ...,
     "approved": true, "why": "..."}, ...}}

The policy (POLICY): a variant is approved when at least 99.5% of the validation sessions get
the same flag (score >= threshold) as under the reference, and its PR-AUC on them is within
0.005 of the reference's (checked only where validation has labels of both classes). How far a
score moves in the third decimal does not matter; whether a decision changes does.

At run time the fastest approved variant serves (by the rows/s measured in the same check,
ties broken by STATIC_ORDER), for the device: the CPU takes any approved variant (bf16 only
with native bf16 units), a GPU takes torch bf16/fp16/fp32. An explicit precision
(argument or DUCKBERT_PRECISION) means torch at that precision, as before; DUCKBERT_BACKEND
(auto, torch, onnx) narrows the choice. Artifacts from before this check carry
`{"int8": max_delta, ...}`: they have no decision figures, so they serve torch-fp32.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

POLICY = {"min_flag_agreement": 0.995, "max_pr_auc_delta": 0.005}
REFERENCE = "torch-fp32"
PRECISIONS = ("fp32", "bf16", "fp16", "int8")
BACKENDS = ("torch", "onnx")
STATIC_ORDER = ("onnx-int8", "torch-bf16", "torch-int8", "onnx-fp32", "torch-fp32")
GPU_ORDER = ("torch-bf16", "torch-fp16", "torch-fp32")


@dataclass(frozen=True)
class Choice:
    backend: str
    precision: str
    reason: str

    @property
    def variant(self) -> str:
        return f"{self.backend}-{self.precision}"


def judge(figures: dict, labelled: bool) -> tuple[bool, str]:
    """(approved, why) for one variant's figures under POLICY."""
    agreement = figures.get("flag_agreement")
    if agreement is None:
        return False, "not measured"
    problems = []
    if agreement < POLICY["min_flag_agreement"]:
        problems.append(f"flag agreement {agreement:.4f} < {POLICY['min_flag_agreement']}")
    delta = figures.get("pr_auc_delta")
    if labelled:
        if delta is None:
            problems.append("PR-AUC not measured")
        elif abs(delta) > POLICY["max_pr_auc_delta"]:
            problems.append(f"|PR-AUC delta| {abs(delta):.4f} > {POLICY['max_pr_auc_delta']}")
    if problems:
        return False, "; ".join(problems)
    tail = f", PR-AUC delta {delta:+.4f}" if labelled and delta is not None else \
        " (no labels of both classes: agreement only)"
    return True, f"flag agreement {agreement:.4f}{tail}"


def pr_auc(labels, scores) -> float | None:
    """Average precision, or None without labels of both classes."""
    from sklearn.metrics import average_precision_score

    if labels is None or len(set(list(labels))) < 2:
        return None
    return float(average_precision_score(labels, scores))


def decision_figures(scores, reference, threshold: float, labels, rate: float) -> dict:
    """One variant's figures against the reference's scores on the same sessions, judged."""
    import numpy as np

    scores, reference = np.asarray(scores, np.float64), np.asarray(reference, np.float64)
    flags, ref_flags = scores >= threshold, reference >= threshold
    labelled = labels is not None and len(set(list(labels))) == 2
    auc = pr_auc(labels, scores) if labelled else None
    ref_auc = pr_auc(labels, reference) if labelled else None
    figures = {
        "flag_agreement": round(float(np.mean(flags == ref_flags)), 5),
        "flags_changed": int(np.sum(flags != ref_flags)),
        "pr_auc": None if auc is None else round(auc, 5),
        "pr_auc_delta": None if auc is None else round(auc - ref_auc, 5),
        "max_score_delta": round(float(np.max(np.abs(scores - reference))), 5),
        "rows_per_s": round(rate, 2),
    }
    figures["approved"], figures["why"] = judge(figures, labelled)
    return figures


def bare_scorer(model_dir, device: str, variant: str, use_store: bool = False):
    """A Scorer of one variant with no cache and no score store: what a decision check times."""
    from udf.scorer import Scorer

    return Scorer(model_dir, device=device, precision=variant, cache_size=0,
                  use_store=use_store, score_store=False)


def timed_scores(scorer, texts: list[str], warmup: int = 4):
    """(scores as float64, rows per second) of one pass over `texts`, after a warm-up."""
    import time

    import numpy as np

    scorer.score(texts[:warmup])
    started = time.perf_counter()
    scores = np.asarray(scorer.score(texts), dtype=np.float64)
    return scores, len(texts) / max(time.perf_counter() - started, 1e-9)


def approvals(check: dict | None) -> dict[str, dict]:
    """{variant: figures} of the decision check (empty for an old or missing check)."""
    if not isinstance(check, dict) or not isinstance(check.get("variants"), dict):
        return {}
    return {k: v for k, v in check["variants"].items() if isinstance(v, dict)}


def is_approved(check: dict | None, variant: str) -> bool:
    if variant == REFERENCE:
        return True
    return bool(approvals(check).get(variant, {}).get("approved"))


def _fast_bf16() -> bool:
    from udf.device import cpu_has_fast_bf16

    return cpu_has_fast_bf16()


def candidates(device: str, backend: str = "auto") -> list[str]:
    """Variants this device may serve, in the static order, fastest expected first."""
    if device.startswith("cuda"):
        order = list(GPU_ORDER)
    else:
        order = [v for v in STATIC_ORDER if v != "torch-bf16" or _fast_bf16()]
    if backend != "auto":
        order = [v for v in order if v.startswith(backend + "-")] or [REFERENCE]
    return order


def _requested(name: str, value: str | None, allowed: tuple) -> str:
    value = (value or os.environ.get(name) or "auto").strip().lower()
    if value != "auto" and value not in allowed:
        label = "precision" if name.endswith("PRECISION") else "backend"
        raise ValueError(f"unknown {label} {value!r}: use auto or one of {allowed}")
    return value


def choose(device: str, check: dict | None, precision: str | None = None,
           backend: str | None = None) -> Choice:
    """What serves on `device` for an artifact whose decision check is `check`."""
    precision = _requested("DUCKBERT_PRECISION", precision, PRECISIONS)
    backend = _requested("DUCKBERT_BACKEND", backend, BACKENDS)
    if precision != "auto":
        if precision == "int8" and device != "cpu":
            raise ValueError("int8 runs on the CPU only")
        chosen = "torch" if backend == "auto" else backend
        if chosen == "onnx" and (device != "cpu" or precision not in ("fp32", "int8")):
            raise ValueError("the onnx backend runs fp32 or int8 on the CPU only")
        return Choice(chosen, precision, f"{chosen}-{precision} requested")
    figures = approvals(check)
    order = candidates(device, backend)
    approved = [v for v in order if is_approved(check, v)]
    if not figures:
        return Choice("torch", "fp32", "no decision check in the artifact: the reference "
                      "serves")
    rank = {v: i for i, v in enumerate(order)}
    speed = {v: float(figures.get(v, {}).get("rows_per_s") or 0.0) for v in approved}
    if all(speed.get(v) for v in approved if v != REFERENCE) and speed.get(REFERENCE):
        approved.sort(key=lambda v: (-speed[v], rank[v]))
    best = approved[0]
    backend_name, precision_name = best.split("-", 1)
    if best == REFERENCE:
        return Choice("torch", "fp32", "no faster variant met the policy")
    why = figures[best].get("why") or "approved"
    rate = f", {speed[best]:.0f} rows/s at training" if speed.get(best) else ""
    return Choice(backend_name, precision_name, f"fastest approved: {why}{rate}")


def without(choice: Choice, check: dict | None, device: str, reason: str) -> Choice:
    """The next choice when `choice` cannot run here (e.g. ONNX Runtime is missing)."""
    order = [v for v in candidates(device, "torch") if is_approved(check, v)]
    best = order[0] if order else REFERENCE
    backend_name, precision_name = best.split("-", 1)
    return Choice(backend_name, precision_name,
                  f"{choice.variant} unavailable ({reason}); fell back to {best}")
