"""The quality benchmark's code path end to end on a tiny BERT (structure, not figures)."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow


def test_quality_benchmark_compares_every_mode_with_the_peers(tiny_bert, tmp_path):
    from duckbert.benchmarks.quality import run_quality, save

    results = run_quality(users=200, seed=1, modes=("head", "lora", "unsupervised"),
                          work_dir=str(tmp_path / "work"), finetune_max_rows=60,
                          base_model=str(tiny_bert), log=lambda *_: None)
    assert set(results["modes"]) == {"head", "lora", "unsupervised"}
    assert {"tfidf_logreg", "gbm_aggregates", "isolation_forest_aggregates"} <= set(
        results["peers"])
    for row in [*results["modes"].values(), *results["peers"].values()]:
        assert 0.0 <= row["pr_auc"] <= 1.0
        assert row["recall_per_family"]
    lora = results["modes"]["lora"]
    assert lora["finetune_seconds_per_1000"] > 0
    assert len(lora["finetune_val_pr_auc_by_epoch"]) >= 2  # epoch 0 is the head alone
    assert lora["trained_as"] in ("lora", "head")
    docs = tmp_path / "BENCHMARKS.md"
    docs.write_text("# Benchmarks\n\n## Speed\n\nkept\n\n## Quality\n")
    text = save(results, tmp_path / "q.json", docs, "duckbert bench quality --users 200")
    assert "peer: tfidf_logreg" in text and "duckbert head" in text
    written = docs.read_text()
    assert "kept" in written and "duckbert bench quality --users 200" in written
    save(results, tmp_path / "q.json", docs, "again")
    assert docs.read_text().count("quality:begin") == 1
    assert json.loads((tmp_path / "q.json").read_text())["config"]["users"] == 200
