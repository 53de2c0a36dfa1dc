"""Device and precision choice (udf.device): approvals, CPU flags, overrides, clear errors."""

from __future__ import annotations

import io

import pytest

from udf import device
from udf.device import SCORE_TOLERANCE, approved, choose_device, choose_precision

APPROVED_ALL = {"int8": 0.004, "bf16": 0.002, "fp16": 0.001}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    monkeypatch.delenv("DUCKBERT_DEVICE", raising=False)
    monkeypatch.delenv("DUCKBERT_PRECISION", raising=False)


@pytest.fixture
def cpu_bf16(monkeypatch):
    """Set whether the CPU 'has' native bf16: cpu_bf16(True) / cpu_bf16(False)."""
    def set_flag(value: bool):
        monkeypatch.setattr(device, "cpu_has_fast_bf16", lambda: value)
    return set_flag


def test_int8_only_when_measured_within_tolerance(cpu_bf16):
    cpu_bf16(False)
    assert choose_precision("cpu", {"int8": SCORE_TOLERANCE}) == "int8"
    assert choose_precision("cpu", {"int8": 0.0}) == "int8"
    assert choose_precision("cpu", {"int8": SCORE_TOLERANCE + 1e-6}) == "fp32"
    assert choose_precision("cpu", {"int8": 0.3}) == "fp32"
    assert choose_precision("cpu", {"int8": None}) == "fp32"
    assert choose_precision("cpu", {}) == "fp32"
    assert choose_precision("cpu", None) == "fp32"  # an artifact without precision_check


def test_bf16_on_cpu_only_with_native_bf16(cpu_bf16):
    cpu_bf16(False)
    assert choose_precision("cpu", APPROVED_ALL) == "int8"
    assert choose_precision("cpu", {"bf16": 0.001}) == "fp32"
    cpu_bf16(True)
    assert choose_precision("cpu", APPROVED_ALL) == "bf16"
    assert choose_precision("cpu", {"bf16": 0.05, "int8": 0.001}) == "int8"
    assert choose_precision("cpu", {"bf16": 0.05, "int8": 0.05}) == "fp32"


def test_gpu_prefers_half_precision_when_approved(cpu_bf16):
    cpu_bf16(False)
    assert choose_precision("cuda", APPROVED_ALL) == "bf16"
    assert choose_precision("cuda:1", {"fp16": 0.001, "bf16": 0.5}) == "fp16"
    assert choose_precision("cuda", {"int8": 0.0}) == "fp32"  # int8 is a CPU path


def test_explicit_overrides_win(monkeypatch, cpu_bf16):
    cpu_bf16(False)
    assert choose_precision("cpu", APPROVED_ALL, "fp32") == "fp32"
    assert choose_precision("cpu", {"int8": 0.9}, "int8") == "int8"  # the user asked for it
    assert choose_precision("cpu", None, " BF16 ") == "bf16"
    monkeypatch.setenv("DUCKBERT_PRECISION", "fp32")
    assert choose_precision("cpu", APPROVED_ALL) == "fp32"
    assert choose_precision("cpu", APPROVED_ALL, "int8") == "int8"  # argument beats env
    monkeypatch.setenv("DUCKBERT_PRECISION", "auto")
    assert choose_precision("cpu", APPROVED_ALL) == "int8"


def test_bad_precisions_are_clear_errors(monkeypatch):
    with pytest.raises(ValueError, match=r"unknown precision 'fp8'.*fp32.*int8"):
        choose_precision("cpu", None, "fp8")
    with pytest.raises(ValueError, match="int8 dynamic quantization runs on the CPU only"):
        choose_precision("cuda", None, "int8")
    monkeypatch.setenv("DUCKBERT_PRECISION", "half")
    with pytest.raises(ValueError, match="unknown precision 'half'"):
        choose_precision("cpu", None)


def test_approved_reads_the_artifact_check():
    assert approved(None, "fp32") and approved({}, "fp32")
    assert approved({"bf16": "0.001"}, "bf16")  # JSON may carry strings
    assert not approved({"bf16": 0.011}, "bf16")


@pytest.mark.parametrize(("flags", "expected"), [
    ("flags : fpu sse avx2 avx512f avx512bw", False),
    ("flags : fpu avx2 avx512f avx512_bf16", True),
    ("flags : fpu avx2 amx_bf16 amx_tile", True),
])
def test_native_bf16_detection_reads_cpu_flags(monkeypatch, flags, expected):
    monkeypatch.setattr(device, "open", lambda *a, **k: io.StringIO(flags), raising=False)
    device.cpu_has_fast_bf16.cache_clear()
    try:
        assert device.cpu_has_fast_bf16() is expected
    finally:
        device.cpu_has_fast_bf16.cache_clear()


def test_native_bf16_detection_without_proc(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("no /proc here")

    monkeypatch.setattr(device, "open", refuse, raising=False)
    device.cpu_has_fast_bf16.cache_clear()
    try:
        assert device.cpu_has_fast_bf16() is False
    finally:
        device.cpu_has_fast_bf16.cache_clear()


def test_device_choice(monkeypatch):
    import torch

    assert choose_device("cpu") == "cpu"
    assert choose_device(" CPU ") == "cpu"
    monkeypatch.delenv("DUCKBERT_DEVICE", raising=False)
    expected_auto = "cuda" if torch.cuda.is_available() else "cpu"
    assert choose_device() == expected_auto
    assert choose_device("auto") == expected_auto
    monkeypatch.setenv("DUCKBERT_DEVICE", "cpu")
    assert choose_device() == "cpu"
    with pytest.raises(ValueError, match=r"unknown device 'tpu': use auto, cpu or cuda\[:N\]"):
        choose_device("tpu")


@pytest.mark.skipif("__import__('torch').cuda.is_available()", reason="a GPU is present")
def test_cuda_requested_without_a_gpu_is_a_clear_error(monkeypatch, tiny_model):
    from udf.scorer import Scorer

    with pytest.raises(ValueError, match="device 'cuda' requested but torch sees no CUDA GPU"):
        choose_device("cuda")
    monkeypatch.setenv("DUCKBERT_DEVICE", "cuda:0")
    with pytest.raises(ValueError, match="'cuda:0' requested but torch sees no CUDA GPU"):
        choose_device()
    with pytest.raises(ValueError, match="torch sees no CUDA GPU"):
        Scorer(tiny_model)
