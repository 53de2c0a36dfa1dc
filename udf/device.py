"""Pick where the encoder runs, and what the CPU offers (native bf16 units).

Which backend and precision serve is udf.serving's decision: approved at training time by the
share of validation flags that stay the same (see udf/serving.py for the policy).
"""

from __future__ import annotations

import os
from functools import lru_cache


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


def choose_precision(device: str, check: dict | None, requested: str | None = None) -> str:
    """The precision that would serve on `device` (udf.serving.choose decides; this is its
    precision part, for callers that only ask about precision)."""
    from udf.serving import choose

    return choose(device, check, requested).precision
