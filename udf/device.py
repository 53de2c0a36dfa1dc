"""Pick where and at what precision the encoder runs.

GPU: bf16 when the model's artifact shows it keeps scores within tolerance, else fp32.
CPU: the fastest precision this CPU runs well among those the artifact approved: bf16 only
where the CPU has native bf16 matrix units (AVX-512 BF16 or AMX), int8 dynamic quantization,
then fp32. Approval is measured at training time: `precision_check` in duckbert.json holds the
largest score difference each precision showed against fp32 on validation sessions.
"""

from __future__ import annotations

import os
from functools import lru_cache

PRECISIONS = ("fp32", "bf16", "fp16", "int8")
SCORE_TOLERANCE = 0.01


def choose_device(requested: str | None = None) -> str:
    """`requested`, else DUCKBERT_DEVICE, else cuda when torch sees a GPU, else cpu."""
    import torch

    requested = (requested or os.environ.get("DUCKBERT_DEVICE") or "auto").strip().lower()
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {requested!r} requested but torch sees no CUDA GPU")
    if requested != "cpu" and not requested.startswith("cuda"):
        raise ValueError(f"unknown device {requested!r}: use auto, cpu or cuda[:N]")
    return requested


@lru_cache(maxsize=1)
def cpu_has_fast_bf16() -> bool:
    """True where the CPU multiplies bf16 natively (AVX-512 BF16 or AMX tiles)."""
    try:
        with open("/proc/cpuinfo") as fh:
            flags = fh.read()
    except OSError:
        return False
    return any(flag in flags for flag in ("avx512_bf16", "amx_bf16"))


def approved(check: dict | None, precision: str) -> bool:
    """Did training measure `precision` within SCORE_TOLERANCE of fp32?"""
    if precision == "fp32":
        return True
    value = (check or {}).get(precision)
    return value is not None and float(value) <= SCORE_TOLERANCE


def choose_precision(device: str, check: dict | None, requested: str | None = None) -> str:
    """`requested`, else DUCKBERT_PRECISION, else the fastest approved precision for `device`."""
    requested = (requested or os.environ.get("DUCKBERT_PRECISION") or "auto").strip().lower()
    if requested != "auto":
        if requested not in PRECISIONS:
            raise ValueError(f"unknown precision {requested!r}: use auto or one of {PRECISIONS}")
        if requested == "int8" and device != "cpu":
            raise ValueError("int8 dynamic quantization runs on the CPU only")
        return requested
    if device.startswith("cuda"):
        order = ("bf16", "fp16", "fp32")
    elif cpu_has_fast_bf16():
        order = ("bf16", "int8", "fp32")
    else:
        order = ("int8", "fp32")
    return next(p for p in order if approved(check, p))
