"""Shared fixtures: a tiny random BERT (no network) and a duckbert artifact built on it."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

REPO = Path(__file__).resolve().parent.parent


def build_tiny_bert(out_dir: Path, seed: int = 0) -> Path:
    """A 2-layer, 32-wide BERT with the packaged MiniLM's real WordPiece vocabulary."""
    import torch
    from transformers import BertConfig, BertModel

    from udf.base_models import packaged_model_dir

    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=512,
    )
    BertModel(config).save_pretrained(str(out_dir), safe_serialization=True)
    source = packaged_model_dir()
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt",
                 "special_tokens_map.json"):
        shutil.copy2(source / name, out_dir / name)
    return out_dir


def build_tiny_artifact(base_dir: Path, out_dir: Path, name: str = "tiny", seed: int = 0,
                        threshold: float = 0.5, ngram_buckets: int = 4096) -> Path:
    """A duckbert artifact with random head weights scaled so scores spread over (0, 1)."""
    import torch

    from udf.artifact import new_version, save_model
    from udf.heads import ClassifierHead
    from udf.model import AnomalyModel

    torch.manual_seed(seed)
    head = ClassifierHead(32, hidden_units=0, dropout=0.0,
                          lexical_size=ngram_buckets)
    with torch.no_grad():
        head.mlp[-1].weight.normal_(0, 1.0)
        head.lexical.weight.normal_(0, 3.0)
    model = AnomalyModel.from_base(base_dir, head, max_length=128,
                                   ngram_buckets=ngram_buckets)
    meta = {
        "name": name, "version": new_version(), "base_model": "tiny-random-bert",
        "training_mode": "head", "text_format": "st1", "threshold": threshold,
        "threshold_policy": "fixed (test fixture)", "precision_check": {"int8": 0.0},
    }
    return save_model(model, out_dir, meta, base_dir=base_dir)


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-bert") / "model")


@pytest.fixture(scope="session")
def tiny_model(tiny_bert, tmp_path_factory) -> Path:
    return build_tiny_artifact(tiny_bert, tmp_path_factory.mktemp("artifacts") / "tiny")


@pytest.fixture
def con():
    """An in-memory DuckDB connection, closed after the test."""
    connection = duckdb.connect(":memory:")
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def one_torch_thread():
    """One intra-op thread: the machine's 2 cores are shared by two test workers."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def text_table(con, name: str, texts: list) -> None:
    """Table `name` (i integer, t varchar) holding `texts` in order."""
    import pyarrow as pa

    con.register("_texts", pa.table({"i": pa.array(range(len(texts)), pa.int32()),
                                     "t": pa.array(texts, pa.string())}))
    try:
        con.execute(f"create or replace table {name} as select * from _texts")
    finally:
        con.unregister("_texts")

