"""A tiny smoke run of `duckbert bench speed` (structure, not timings) on the tiny model."""

from __future__ import annotations

import json

import duckdb
import pytest
from click.testing import CliRunner

from duckbert.benchmarks import speed_data, speed_report, speed_throughput
from duckbert.benchmarks.docs_block import markers
from duckbert.benchmarks.speed import SpeedConfig, run_speed, write_json
from tests.helpers.samples import session_texts


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread(one_torch_thread):
    """Every test here runs with one torch thread (tests/conftest.py)."""


@pytest.fixture
def warehouse(tmp_path):
    """A DuckDB file with the two columns the benchmark reads from the sessions mart."""
    path = tmp_path / "wh.duckdb"
    con = duckdb.connect(str(path))
    texts = session_texts(40, seed=2, max_events=10)
    con.execute("create table sessions (session_id varchar, session_text varchar)")
    con.executemany("insert into sessions values (?, ?)",
                    [[f"s{i:03d}", t] for i, t in enumerate(texts)] + [["s999", None]])
    con.close()
    return path


def test_speed_run_has_every_figure(warehouse, tiny_model, tmp_path):
    cfg = SpeedConfig(db=str(warehouse), model=str(tiny_model), device="cpu", sample=12,
                      rounds=2, naive_rows=3, rebuild=False, million=True,
                      memory_sizes=[300, 1200], work_dir=str(tmp_path / "work"),
                      command="duckbert bench speed --test")
    result = run_speed(cfg, log=lambda _: None)

    t = result["throughput"]
    assert t["rows"] == 12 and t["matmul_peak_gflops"] > 0
    for name in ("plain", "sql_fp32", "sql_runtime"):
        assert t[name]["rows_per_s"] > 0 and t[name]["tokens_per_s"] > 0
        assert t[name]["model_flop_utilisation"] > 0
    assert len(t["sql_fp32"]["vs_plain_per_round"]) == 2
    assert t["sql_fp32"]["precision"] == "fp32"
    assert t["sql_fp32"]["forward_rows"] == 12  # cache off, every distinct text encoded
    assert t["sql_runtime"]["precision"] == result["model"]["runtime_precision"]
    w = result["workloads"]
    assert w["duplicates"]["rows"] == 15 and w["duplicates"]["forward_rows"] <= 12
    assert w["rescoring"]["rows_per_s"] > 0
    assert "skipped" in w["store"]  # the fixture model records no embedding store
    assert result["naive"]["rows"] == 3 and result["naive"]["runtime_over_naive"] > 0
    assert result["rebuild"] == {"skipped": "--skip-rebuild"}
    mem = result["memory"]
    assert [r["rows"] for r in mem["runs"]] == [300, 1200]
    assert all(r["scored"] == r["rows"] and r["maxrss_mb"] > 0 for r in mem["runs"])
    assert set(result["goals"]) >= {"sql_fp32_vs_plain", "runtime_vs_plain", "memory_bounded"}

    table = speed_report.format_table(result)
    assert "anomaly_score in SQL, fp32" in table and "naive row-at-a-time" in table
    docs = speed_report.write_docs(result, tmp_path / "BENCHMARKS.md")
    text = docs.read_text()
    assert "## Speed" in text
    assert "duckbert bench speed --test" in text
    speed_report.write_docs(result, docs)  # rewriting keeps one generated block
    assert docs.read_text().count(markers("speed")[0]) == 1
    saved = json.loads(write_json(result, tmp_path / "speed.json").read_text())
    assert saved["throughput"]["rows"] == 12


def test_cli_speed_command(warehouse, tiny_model, tmp_path):
    from duckbert.cli import main

    out = tmp_path / "speed.json"
    result = CliRunner().invoke(main, [
        "bench", "speed", "--db", str(warehouse), "--model", str(tiny_model), "--device",
        "cpu", "--sample", "6", "--rounds", "1", "--naive-rows", "2", "--skip-rebuild",
        "--text-tokens", "48", "--sessions", "20", "--out", str(out), "--no-docs",
        "--work-dir", str(tmp_path / "work")])
    assert result.exit_code == 0, result.output
    assert "vs plain" in result.output
    saved = json.loads(out.read_text())
    assert saved["texts"]["fixed_tokens"] == 48 and saved["texts"]["sessions"] == 20
    assert saved["texts"]["max_tokens"] <= 48


def test_fixed_length_texts_are_distinct_and_fit(tiny_model):
    from udf.tokens import SessionTokenizer

    tok = SessionTokenizer(tiny_model, max_length=128)
    texts = speed_data.fixed_length_texts(session_texts(30, seed=4), tok, 200, 64, seed=1)
    assert len(texts) == len(set(texts)) == 200
    lengths = [len(x) + 2 for x in tok.ids(texts)]
    assert max(lengths) <= 64 and min(lengths) >= 32


def test_encoder_flops_counts_attention():
    shape = {"hidden": 384, "layers": 6, "intermediate": 1536, "heads": 12}
    per_token = speed_throughput.encoder_flops(shape, 128) / 128
    # 6 x (8 d^2 + 4 d d_ff + 4 L d): 21.2M of projections and feed-forward, 1.2M attention
    assert per_token == pytest.approx(6 * (8 * 384**2 + 4 * 384 * 1536 + 4 * 128 * 384))
    assert speed_throughput.encoder_flops(shape, 256) > 2 * speed_throughput.encoder_flops(
        shape, 128)


def test_spread_picks_evenly():
    assert speed_data.spread(10, 0) == list(range(10))
    assert speed_data.spread(10, 20) == list(range(10))
    assert speed_data.spread(10, 5) == [0, 2, 4, 6, 8]
