"""Device and serving choice (udf.device, udf.serving): decision policy, CPU flags, overrides."""

from __future__ import annotations

import io

import pytest

from udf import device, serving
from udf.device import choose_device, choose_precision
from udf.serving import POLICY, choose, judge


def _check(**variants) -> dict:
    """A decision check with these {variant: (agreement, pr_auc_delta, rows/s)} figures."""
    out = {"torch-fp32": {"flag_agreement": 1.0, "pr_auc_delta": 0.0, "rows_per_s": 10.0,
                          "approved": True}}
    for name, (agreement, delta, rate) in variants.items():
        figures = {"flag_agreement": agreement, "pr_auc_delta": delta, "rows_per_s": rate}
        figures["approved"], figures["why"] = judge(figures, labelled=True)
        out[name.replace("_", "-")] = figures
    return {"policy": POLICY, "variants": out}


APPROVED_ALL = _check(onnx_int8=(1.0, 0.0, 50.0), torch_bf16=(1.0, 0.0, 30.0),
                      torch_int8=(1.0, 0.0, 20.0), onnx_fp32=(1.0, 0.0, 15.0),
                      torch_fp16=(1.0, 0.0, 40.0))


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in ("DUCKBERT_DEVICE", "DUCKBERT_PRECISION", "DUCKBERT_BACKEND"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def cpu_bf16(monkeypatch):
    """Set whether the CPU 'has' native bf16: cpu_bf16(True) / cpu_bf16(False)."""
    def set_flag(value: bool):
        monkeypatch.setattr(device, "cpu_has_fast_bf16", lambda: value)
    return set_flag


def test_policy_is_decisions_not_score_deltas():
    assert judge({"flag_agreement": 0.995, "pr_auc_delta": -0.005}, True)[0]
    assert not judge({"flag_agreement": 0.9949, "pr_auc_delta": 0.0}, True)[0]
    ok, why = judge({"flag_agreement": 1.0, "pr_auc_delta": 0.0051}, True)
    assert not ok and "PR-AUC" in why
    assert not judge({"flag_agreement": 1.0, "pr_auc_delta": None}, True)[0]
    assert judge({"flag_agreement": 1.0, "pr_auc_delta": None}, False)[0]  # no labels
    # a score that moved a lot but changed no flag is approved
    assert judge({"flag_agreement": 1.0, "pr_auc_delta": 0.0, "max_score_delta": 0.2}, True)[0]


def test_fastest_approved_variant_serves(cpu_bf16):
    cpu_bf16(False)
    choice = choose("cpu", APPROVED_ALL)
    assert choice.variant == "onnx-int8" and "fastest approved" in choice.reason
    refused = _check(onnx_int8=(0.99, 0.0, 50.0), torch_int8=(1.0, 0.0, 20.0),
                     onnx_fp32=(1.0, 0.0, 15.0))
    assert choose("cpu", refused).variant == "torch-int8"
    slow = _check(onnx_int8=(1.0, 0.0, 5.0), onnx_fp32=(1.0, 0.0, 15.0))
    assert choose("cpu", slow).variant == "onnx-fp32"  # measured speed, not a fixed order
    none = _check(onnx_int8=(0.9, 0.0, 50.0))
    assert choose("cpu", none).variant == "torch-fp32"
    assert "no faster variant" in choose("cpu", none).reason


def test_old_or_missing_checks_serve_the_reference(cpu_bf16):
    cpu_bf16(False)
    for check in (None, {}, {"int8": 0.0, "bf16": 0.001}):
        choice = choose("cpu", check)
        assert choice.variant == "torch-fp32" and "no decision check" in choice.reason
    assert choose_precision("cpu", {"int8": 0.0}) == "fp32"


def test_bf16_on_cpu_only_with_native_bf16(cpu_bf16):
    only_bf16 = _check(torch_bf16=(1.0, 0.0, 30.0))
    cpu_bf16(False)
    assert choose("cpu", only_bf16).variant == "torch-fp32"
    cpu_bf16(True)
    assert choose("cpu", only_bf16).variant == "torch-bf16"


def test_gpu_takes_torch_half_precision_when_approved(cpu_bf16):
    cpu_bf16(False)
    assert choose("cuda", APPROVED_ALL).variant == "torch-fp16"  # measured fastest there
    assert choose("cuda", _check(torch_bf16=(1.0, 0.0, 30.0))).variant == "torch-bf16"
    assert choose("cuda", _check(onnx_int8=(1.0, 0.0, 90.0))).variant == "torch-fp32"


def test_explicit_overrides_win(monkeypatch, cpu_bf16):
    cpu_bf16(False)
    assert choose("cpu", APPROVED_ALL, "fp32").variant == "torch-fp32"
    assert choose("cpu", None, "int8").variant == "torch-int8"  # the user asked for it
    assert choose("cpu", None, " BF16 ").variant == "torch-bf16"
    assert choose("cpu", None, "int8", "onnx").variant == "onnx-int8"
    monkeypatch.setenv("DUCKBERT_PRECISION", "fp32")
    assert choose("cpu", APPROVED_ALL).variant == "torch-fp32"
    assert choose("cpu", APPROVED_ALL, "int8").variant == "torch-int8"  # argument beats env
    monkeypatch.setenv("DUCKBERT_PRECISION", "auto")
    assert choose("cpu", APPROVED_ALL).variant == "onnx-int8"
    monkeypatch.setenv("DUCKBERT_BACKEND", "torch")
    assert choose("cpu", APPROVED_ALL).variant == "torch-int8"


def test_bad_precisions_are_clear_errors(monkeypatch):
    with pytest.raises(ValueError, match=r"unknown precision 'fp8'.*fp32.*int8"):
        choose_precision("cpu", None, "fp8")
    with pytest.raises(ValueError, match="int8 runs on the CPU only"):
        choose_precision("cuda", None, "int8")
    with pytest.raises(ValueError, match="unknown backend 'tvm'"):
        choose("cpu", None, None, "tvm")
    monkeypatch.setenv("DUCKBERT_PRECISION", "half")
    with pytest.raises(ValueError, match="unknown precision 'half'"):
        choose_precision("cpu", None)


def test_fallback_when_onnx_cannot_serve(cpu_bf16):
    cpu_bf16(False)
    first = choose("cpu", APPROVED_ALL)
    fallback = serving.without(first, APPROVED_ALL, "cpu", "onnxruntime not installed")
    assert fallback.variant == "torch-int8"
    assert "onnxruntime not installed" in fallback.reason


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
