"""bench/gpu_check.sh runs end to end: its --dry-run on the CPU (tiny BERT, 300 sessions)
goes through every step the GPU run takes, so the script cannot rot between GPU sessions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow]


def _env(tmp_path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OUT": str(tmp_path / "out")}
    env.pop("DUCKBERT_MODEL", None)
    return env


def test_dry_run_takes_every_step_and_reports_its_figures(tmp_path, tiny_bert):
    docs = tmp_path / "BENCHMARKS.md"
    proc = subprocess.run(
        ["bash", str(REPO / "bench" / "gpu_check.sh"), "--dry-run", "--base-model",
         str(tiny_bert), "--work-dir", str(tmp_path / "work"), "--docs", str(docs)],
        capture_output=True, text=True, env=_env(tmp_path), timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads((tmp_path / "out" / "gpu_check.json").read_text())
    assert result["dry_run"] is True and result["device"] == "cpu"
    assert result["sessions"] > 50
    assert set(result["timings"]) == {"generate_load_build_s", "train_head_s",
                                      "finetune_epoch_s", "sql_runtime_s", "sql_fp32_s",
                                      "plain_forward_s"}
    assert all(rate > 0 for rate in result["rows_per_s"].values())
    assert 0.0 <= result["flag_agreement_vs_fp32"] <= 1.0
    assert result["finetune"]["shipped_mode"] in ("full", "head")  # head: epoch 1 lost on val
    print(result["timings"])
    assert "anomaly_score() in SQL at" in proc.stdout and "goal >= 20,000" in proc.stdout
    assert "NOT met (dry run)" in proc.stdout
    assert not docs.exists()  # a dry run measures nothing, so it writes no table


@pytest.mark.skipif("__import__('torch').cuda.is_available()", reason="a GPU is present")
def test_the_real_check_without_a_gpu_fails_and_says_why(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-c", "from duckbert.cli import main; main()", "bench", "gpu",
         "--no-docs", "--work-dir", str(tmp_path / "work")],
        capture_output=True, text=True, env=_env(tmp_path), timeout=120, check=False)
    assert proc.returncode == 1
    assert "torch sees no CUDA GPU" in proc.stderr and "--dry-run" in proc.stderr
    assert not (tmp_path / "work" / "warehouse.duckdb").exists()
