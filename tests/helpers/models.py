"""A tiny random BERT (no network) and a duckbert artifact built on it, for fast tests."""

from __future__ import annotations

import shutil
from pathlib import Path

# A decision check as training writes it (udf/serving.py), approving both int8 variants:
# the runtime's default on the fixture is then onnx-int8, the path users get.
APPROVED_CHECK = {
    "policy": {"min_flag_agreement": 0.995, "max_pr_auc_delta": 0.005},
    "reference": "torch-fp32", "sessions": 512, "threshold": 0.5, "labelled": True,
    "variants": {
        "torch-fp32": {"flag_agreement": 1.0, "pr_auc_delta": 0.0, "rows_per_s": 100.0,
                       "approved": True, "why": "the reference"},
        "onnx-int8": {"flag_agreement": 1.0, "pr_auc_delta": 0.0, "rows_per_s": 400.0,
                      "approved": True, "why": "flag agreement 1.0000, PR-AUC delta +0.0000"},
        "torch-int8": {"flag_agreement": 1.0, "pr_auc_delta": 0.0, "rows_per_s": 150.0,
                       "approved": True, "why": "flag agreement 1.0000, PR-AUC delta +0.0000"},
    },
}


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
                        threshold: float = 0.5, ngram_buckets: int = 4096,
                        text_format: str = "st2") -> Path:
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
        "training_mode": "head", "text_format": text_format, "threshold": threshold,
        "threshold_policy": "fixed (test fixture)", "precision_check": APPROVED_CHECK,
    }
    return save_model(model, out_dir, meta, base_dir=base_dir)
