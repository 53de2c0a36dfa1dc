"""Approve faster encoder variants by the decisions they make, for the artifact.

Each faster variant (ONNX Runtime fp32 and int8, torch bf16 where the CPU has native bf16
units, torch row-wise int8) scores the validation sessions through the very runtime path that
would serve it (udf.scorer.Scorer on the new artifact, cache and stores off), next to the
reference torch fp32. Recorded per variant: the share of sessions whose flag (score >= the
calibrated threshold) is the same as the reference's, the PR-AUC and its difference from the
reference's (where validation has labels of both classes), the largest score difference, and
rows/s on this machine. udf.serving.POLICY decides approval (>= 99.5% of flags agree and
|PR-AUC difference| <= 0.005); the runtime serves the fastest approved variant.

Cost is bounded: every variant's speed is probed first on PROBE texts; the full comparison
then runs in that speed order and stops at the first approved variant (a slower one could
never serve), and a variant slower than the reference is not compared at all. Those keep
their probed rows/s and say why they were not compared. The reference scores reuse the
training run's stored fp32 embeddings, which are the reference's by construction.
"""

from __future__ import annotations

import numpy as np

MAX_SESSIONS = 512  # validation sessions measured (a seeded sample beyond this)
PROBE = 24
WARMUP = 4


def variants_to_check() -> list[str]:
    from udf.device import cpu_has_fast_bf16

    out = ["onnx-int8", "onnx-fp32", "torch-int8"]
    if cpu_has_fast_bf16():
        out.insert(1, "torch-bf16")
    return out


def _scorer(model_dir, variant: str, use_store: bool = False):
    from udf.serving import bare_scorer

    return bare_scorer(model_dir, "cpu", variant, use_store)


def validation_sample(texts: list[str], labels, seed: int = 0):
    """(texts, labels or None): the validation sessions every decision check measures, a
    seeded sample of MAX_SESSIONS beyond that."""
    rng = np.random.default_rng(seed)
    rows = np.arange(len(texts))
    if len(rows) > MAX_SESSIONS:
        rows = np.sort(rng.choice(rows, size=MAX_SESSIONS, replace=False))
    y = None if labels is None else np.asarray(labels)[rows].astype(int)
    return [texts[i] for i in rows], y


def device_checks(model_dir, device: str, texts: list[str], labels, threshold: float,
                  seed: int = 0, log=print) -> None:
    """Keep the validation sample in the artifact (udf.device_check.PROBE_FILE), so a GPU can
    measure its own precisions on first load; when training runs on a GPU, measure them here
    and store the figures beside the artifact."""
    from udf.device_check import measure, save_check, write_probe

    sample, y = validation_sample(texts, labels, seed)
    write_probe(model_dir, sample, y, threshold)
    if str(device).startswith("cuda"):
        check = measure(model_dir, device, {"texts": sample, "threshold": threshold,
                                            "labels": None if y is None else y.tolist()})
        save_check(model_dir, device, check)
        log(f"  decision check on {device}: " + ", ".join(
            f"{k} {'approved' if v.get('approved') else 'refused'}"
            for k, v in check["variants"].items() if k != check["reference"]))


def decision_check(model_dir, texts: list[str], labels, threshold: float, seed: int = 0,
                   log=print) -> dict:
    """The `precision_check` block of duckbert.json (see udf/serving.py for its shape)."""
    from udf.onnx_backend import cpu_isa
    from udf.serving import POLICY, REFERENCE, decision_figures, pr_auc, timed_scores

    sample, y = validation_sample(texts, labels, seed)
    labelled = y is not None and len(set(y.tolist())) == 2
    probe = sample[WARMUP : WARMUP + PROBE] or sample
    _, ref_rate = timed_scores(_scorer(model_dir, REFERENCE), probe, WARMUP)
    reference, _ = timed_scores(_scorer(model_dir, REFERENCE, use_store=True), sample, WARMUP)
    ref_auc = pr_auc(y, reference) if labelled else None
    out = {"policy": dict(POLICY), "reference": REFERENCE, "sessions": len(sample),
           "threshold": float(threshold), "cpu_isa": cpu_isa(), "labelled": labelled,
           "variants": {REFERENCE: {"flag_agreement": 1.0, "pr_auc": ref_auc,
                                    "pr_auc_delta": 0.0 if labelled else None,
                                    "max_score_delta": 0.0, "rows_per_s": round(ref_rate, 2),
                                    "approved": True, "why": "the reference"}}}
    probed = []
    for variant in variants_to_check():
        try:
            scorer = _scorer(model_dir, variant)
            if scorer.variant != variant:
                raise RuntimeError(f"unavailable here ({scorer.choice.reason})")
            _, rate = timed_scores(scorer, probe, WARMUP)
        except Exception as exc:  # a variant that cannot run here is simply not approved
            out["variants"][variant] = {"approved": False,
                                        "why": f"could not run: {type(exc).__name__}: {exc}"}
            continue
        probed.append((rate, variant, scorer))
    approved_one = None
    for rate, variant, scorer in sorted(probed, key=lambda p: -p[0]):
        if approved_one or rate <= ref_rate:
            why = (f"not compared: slower than the approved {approved_one}" if approved_one
                   else "not compared: no faster than the reference here")
            out["variants"][variant] = {"approved": False, "why": why,
                                        "rows_per_s": round(rate, 2)}
            continue
        scores, _ = timed_scores(scorer, sample, WARMUP)
        figures = decision_figures(scores, reference, threshold, y if labelled else None, rate)
        out["variants"][variant] = figures
        if figures["approved"]:
            approved_one = variant
    log(f"  decision check on {len(sample)} validation sessions (policy: flags agree >= "
        f"{100 * POLICY['min_flag_agreement']:.1f}%, |PR-AUC delta| <= "
        f"{POLICY['max_pr_auc_delta']:.3f}):")
    for variant, f in out["variants"].items():
        if variant == REFERENCE:
            log(f"    {variant:<11} reference, {f['rows_per_s']:.1f} rows/s")
            continue
        mark = "approved" if f.get("approved") else \
            "refused" if "flag_agreement" in f else "skipped"
        rate = f", {f['rows_per_s']:.1f} rows/s" if f.get("rows_per_s") else ""
        log(f"    {variant:<11} {mark}: {f.get('why')}{rate}")
    return out
