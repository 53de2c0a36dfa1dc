"""`duckbert bench runtime` on a small trained warehouse: every figure present, one run."""

from __future__ import annotations

import pytest

from tests.helpers.bi_warehouse import base_warehouse, copy_warehouse


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory, worker_id, tiny_bert):
    base = base_warehouse(tmp_path_factory, worker_id, tiny_bert)
    return copy_warehouse(base, tmp_path_factory.mktemp("bench-runtime"))


def test_bench_runtime_measures_defaults_baseline_repeats_and_explanations(warehouse,
                                                                           tmp_path):
    from duckbert.benchmarks.speed_runtime import markdown, run_runtime, write_docs

    result = run_runtime(warehouse.db, rows=24, naive_rows=2, explain_rows=2,
                         log=lambda line: None)
    assert result["rows"] == 24
    assert result["serving"] in ("onnx-int8", "onnx-fp32", "torch-int8", "torch-bf16",
                                 "torch-fp32")
    assert result["runtime"]["forward_rows"] == 24  # cache and stores off: all encoded
    assert result["store"]["forward_rows"] == 0  # the second query: lookups only
    assert 0.0 <= result["flag_agreement_vs_fp32"] <= 1.0
    for key in ("plain", "runtime", "fp32", "naive", "store", "cache"):
        assert result[key]["rows_per_s"] > 0
    text = markdown(result, "duckbert bench runtime --rows 24")
    assert "length-sorted batches of 64" in text and "score store" in text
    docs = write_docs(result, tmp_path / "BENCHMARKS.md", "duckbert bench runtime")
    assert "runtime:begin" in docs.read_text()
