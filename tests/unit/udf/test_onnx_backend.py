"""The ONNX Runtime backend: parity with torch, one export per artifact, verified, atomic,
and a logged fall back to torch when it cannot serve."""

from __future__ import annotations

import json
import logging
import shutil

import pytest

from tests.helpers.samples import session_texts as sample_texts
from udf import onnx_backend
from udf.onnx_backend import FILES, MANIFEST, RUNTIME_DIR, cpu_isa
from udf.scorer import Scorer

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def artifact(tiny_model, tmp_path):
    """A private copy of the tiny artifact (exports write into it)."""
    out = tmp_path / "model"
    shutil.copytree(tiny_model, out, ignore=shutil.ignore_patterns(RUNTIME_DIR))
    return out


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in ("DUCKBERT_DEVICE", "DUCKBERT_PRECISION", "DUCKBERT_BACKEND"):
        monkeypatch.delenv(name, raising=False)


def test_parity_with_torch(artifact):
    texts = sample_texts(40)
    reference = Scorer(artifact, precision="fp32", cache_size=0).score(texts)
    fp32 = Scorer(artifact, precision="onnx-fp32", cache_size=0)
    int8 = Scorer(artifact, precision="onnx-int8", cache_size=0)
    assert (fp32.variant, int8.variant) == ("onnx-fp32", "onnx-int8")
    got32, got8 = fp32.score(texts), int8.score(texts)
    assert max(abs(a - b) for a, b in zip(got32, reference, strict=True)) < 1e-4
    assert max(abs(a - b) for a, b in zip(got8, reference, strict=True)) < 0.05
    emb_torch = Scorer(artifact, precision="fp32").embed(texts[:5])
    emb_onnx = fp32.embed(texts[:5])
    assert abs(emb_torch - emb_onnx).max() < 1e-4


def test_a_text_scores_the_same_whatever_its_neighbours(artifact):
    texts = sample_texts(24)
    scorer = Scorer(artifact, precision="onnx-int8", cache_size=0)
    together = scorer.score(texts)
    alone = [scorer.score([t])[0] for t in texts]
    reversed_ = scorer.score(texts[::-1])[::-1]
    assert together == alone == reversed_  # bit-identical


def test_default_serves_onnx_int8_and_exports_once_with_digests(artifact):
    scorer = Scorer(artifact)
    assert scorer.variant == "onnx-int8"
    assert "fastest approved" in scorer.info()["serving_reason"]
    runtime = artifact / RUNTIME_DIR
    manifest = json.loads((runtime / MANIFEST).read_text())
    meta = json.loads((artifact / "duckbert.json").read_text())
    assert manifest["weights_sha256"] == meta["weights_sha256"]
    assert manifest["cpu_isa"] == cpu_isa() in ("avx512_vnni", "avx_vnni", "avx2", "none",
                                                "unknown")
    for precision, name in FILES.items():
        entry = manifest["files"][precision]
        assert entry["name"] == name
        assert entry["sha256"] == onnx_backend._sha256(runtime / name)
    assert [p.name for p in runtime.iterdir() if p.name.startswith(".")] == []
    stamp = (runtime / FILES["int8"]).stat().st_mtime_ns
    Scorer(artifact)  # a second load verifies, it does not export again
    assert (runtime / FILES["int8"]).stat().st_mtime_ns == stamp


def test_an_altered_export_is_replaced_not_loaded(artifact):
    texts = sample_texts(8)
    clean = Scorer(artifact, precision="onnx-int8", cache_size=0).score(texts)
    path = artifact / RUNTIME_DIR / FILES["int8"]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    assert onnx_backend.verified_file(artifact, json.loads(
        (artifact / "duckbert.json").read_text())["weights_sha256"], "int8") is None
    again = Scorer(artifact, precision="onnx-int8", cache_size=0)
    assert again.variant == "onnx-int8"
    assert again.score(texts) == clean


def test_failed_export_leaves_nothing_and_falls_back_to_torch(artifact, monkeypatch, caplog):
    def broken(fp32, int8):
        int8.write_bytes(b"half a model")
        raise RuntimeError("quantizer crashed")

    monkeypatch.setattr(onnx_backend, "_quantize_int8", broken)
    with caplog.at_level(logging.WARNING, logger="duckbert.udf"):
        scorer = Scorer(artifact)
    assert scorer.variant == "torch-int8"  # the next approved variant
    assert "quantizer crashed" in scorer.info()["serving_reason"]
    assert "fell back to torch-int8" in caplog.text
    runtime = artifact / RUNTIME_DIR
    assert sorted(p.name for p in runtime.iterdir()) == []  # no manifest, no half file
    assert scorer.score(sample_texts(3))[0] is not None


def test_missing_onnxruntime_falls_back_with_a_reason(artifact, monkeypatch):
    def missing():
        raise onnx_backend.OnnxUnavailable("onnxruntime/onnx not installed (onnxruntime)")

    monkeypatch.setattr(onnx_backend, "versions", missing)
    scorer = Scorer(artifact)
    assert scorer.backend == "torch"
    assert "not installed" in scorer.info()["serving_reason"]
