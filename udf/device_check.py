"""Precision approved on the device that serves: the decision policy, measured on a GPU.

A CPU check says nothing about a GPU: CUDA runs bf16 and fp16 as autocast, other arithmetic
than a CPU's cast weights. So an artifact's CPU figures (duckbert.json `precision_check`)
serve only the CPU. For a GPU, the same policy (udf.serving.POLICY: flags agreeing, PR-AUC
difference) is measured on that GPU against torch fp32 on the same device, on the validation
sessions training kept in the artifact (PROBE_FILE). Where training ran on the GPU it is
measured there; otherwise on the first load on a GPU. The figures are written beside the
artifact (runtime/precision-<device>.json, atomically) so each GPU kind measures once.
An artifact without a probe serves fp32 on a GPU: nothing approved a faster variant.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from pathlib import Path

PROBE_FILE = "validation_probe.json"
GPU_VARIANTS = ("torch-bf16", "torch-fp16")
_LOCK = threading.Lock()


def write_probe(model_dir: str | Path, texts: list[str], labels, threshold: float) -> None:
    """Keep the decision check's validation sessions in the artifact, for later devices."""
    labels = None if labels is None else [int(v) for v in labels]
    data = {"threshold": float(threshold), "texts": list(texts), "labels": labels}
    (Path(model_dir) / PROBE_FILE).write_text(json.dumps(data))


def read_probe(model_dir: str | Path) -> dict | None:
    path = Path(model_dir) / PROBE_FILE
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    texts = data.get("texts") if isinstance(data, dict) else None
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        return None
    return data


def device_slug(device: str) -> str:
    """A file-name-safe name of the GPU model behind `device` (checks differ per GPU kind)."""
    import torch

    name = torch.cuda.get_device_name(torch.device(device)) if device.startswith("cuda") \
        else "cpu"
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "device"


def _timed_scores(model_dir: Path, device: str, variant: str, texts: list[str]):
    from udf.serving import bare_scorer, timed_scores

    return timed_scores(bare_scorer(model_dir, device, variant), texts)


def measure(model_dir: str | Path, device: str, probe: dict,
            variants: tuple[str, ...] = GPU_VARIANTS) -> dict:
    """The decision check of `variants` against torch fp32, both on `device`."""
    from udf.serving import POLICY, REFERENCE, decision_figures, pr_auc

    model_dir = Path(model_dir)
    texts, labels, threshold = probe["texts"], probe.get("labels"), float(probe["threshold"])
    labelled = labels is not None and len(set(labels)) == 2
    reference, ref_rate = _timed_scores(model_dir, device, REFERENCE, texts)
    ref_auc = pr_auc(labels, reference) if labelled else None
    out = {"policy": dict(POLICY), "reference": REFERENCE, "device": device,
           "device_name": device_slug(device), "sessions": len(texts),
           "threshold": threshold, "labelled": labelled,
           "variants": {REFERENCE: {"flag_agreement": 1.0, "pr_auc": ref_auc,
                                    "pr_auc_delta": 0.0 if labelled else None,
                                    "rows_per_s": round(ref_rate, 2), "approved": True,
                                    "why": "the reference"}}}
    for variant in variants:
        try:
            scores, rate = _timed_scores(model_dir, device, variant, texts)
        except Exception as exc:  # a variant that cannot run here is simply not approved
            out["variants"][variant] = {"approved": False,
                                        "why": f"could not run: {type(exc).__name__}: {exc}"}
            continue
        out["variants"][variant] = decision_figures(scores, reference, threshold,
                                                    labels if labelled else None, rate)
    return out


def check_path(model_dir: str | Path, device: str) -> Path:
    return Path(model_dir) / "runtime" / f"precision-{device_slug(device)}.json"


def save_check(model_dir: str | Path, device: str, check: dict) -> Path | None:
    """Write the figures beside the artifact (temp file + rename); None where read-only."""
    path = check_path(model_dir, device)
    try:
        path.parent.mkdir(exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
        tmp.write_text(json.dumps(check, indent=2, sort_keys=True))
        os.replace(tmp, path)
    except OSError:
        return None
    return path


def stored_check(model_dir: str | Path, device: str) -> dict | None:
    """The figures measured earlier on this kind of device, if any (never measures)."""
    try:
        stored = json.loads(check_path(model_dir, device).read_text())
    except (OSError, ValueError):
        return None
    ok = isinstance(stored, dict) and isinstance(stored.get("variants"), dict)
    return stored if ok else None


def check_for(model_dir: str | Path, device: str, log=None) -> dict | None:
    """The decision figures that govern `device` (a GPU): stored, or measured now."""
    model_dir = Path(model_dir)
    with _LOCK:
        stored = stored_check(model_dir, device)
        if stored is not None:
            return stored
        probe = read_probe(model_dir)
        if probe is None:
            return None
        started = time.perf_counter()
        check = measure(model_dir, device, probe)
        check["measured_at"] = "first load on this device"
        where = save_check(model_dir, device, check)
        if log is not None:
            log(f"duckbert: precision check on {device} ({check['device_name']}) in "
                f"{time.perf_counter() - started:.1f}s"
                + (f", kept in {where}" if where else " (artifact read-only: not kept)"))
        return check
