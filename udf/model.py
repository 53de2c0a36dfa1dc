"""The duckbert model: pre-trained BERT -> mean pooling -> scoring head, with save and load.

This is the one class training writes and the UDF runtime loads, so both sides agree on the
artifact by construction (see udf.artifact for the directory layout).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from udf.heads import build_head
from udf.lexical import NgramHasher
from udf.tokens import SessionTokenizer


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Average the token states that the attention mask keeps, then L2-normalize."""
    mask = mask.unsqueeze(-1).to(hidden.dtype)
    summed = (hidden * mask).sum(dim=1)
    pooled = summed / mask.sum(dim=1).clamp(min=1.0)
    return F.normalize(pooled.float(), dim=-1)


def load_encoder(model_dir: str | Path):
    """A transformers encoder from a local directory: safetensors only, no remote code."""
    from transformers import AutoModel

    from udf.base_models import check_safetensors_dir

    model_dir = Path(model_dir)
    check_safetensors_dir(model_dir)
    return AutoModel.from_pretrained(
        str(model_dir), use_safetensors=True, trust_remote_code=False
    )


def encoder_from_config(config_path: str | Path):
    """An encoder with the architecture of config.json and uninitialized-by-us weights."""
    from transformers import AutoConfig, AutoModel

    config = AutoConfig.from_pretrained(str(Path(config_path).parent), trust_remote_code=False)
    return AutoModel.from_config(config, trust_remote_code=False)


class AnomalyModel(nn.Module):
    """Encoder + pooling + head, and the tokenizer and n-gram hasher that feed them."""

    def __init__(self, encoder, head: nn.Module, tokenizer: SessionTokenizer,
                 ngram_buckets: int = 0):
        super().__init__()
        self.encoder = encoder
        self.head = head
        self.tokenizer = tokenizer
        self.hasher = (
            NgramHasher(ngram_buckets) if ngram_buckets else None
        )

    @property
    def hidden_size(self) -> int:
        return int(self.encoder.config.hidden_size)

    @property
    def uses_lexical(self) -> bool:
        return self.hasher is not None and getattr(self.head, "lexical", None) is not None

    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        out = self.encoder(input_ids=input_ids, attention_mask=attention_mask)
        return mean_pool(out.last_hidden_state, attention_mask)

    def lexical_inputs(self, texts: list[str], device=None):
        """EmbeddingBag inputs for the lexical term, or None when the head has none."""
        if not self.uses_lexical:
            return None
        indices, offsets, weights = self.hasher.weighted(texts, self._idf_on_host())
        return tuple(torch.from_numpy(part).to(device, non_blocking=True)
                     for part in (indices, offsets, weights))

    def _idf_on_host(self):
        """The head's idf as numpy, copied from the device once per change, not per batch."""
        idf = self.head.idf
        stamp = (idf.data_ptr(), idf._version)
        cached = getattr(self, "_idf_host", None)
        if cached is None or cached[0] != stamp:
            cached = (stamp, idf.detach().cpu().numpy())
            self._idf_host = cached
        return cached[1]

    def probability(self, pooled: torch.Tensor, lexical=None) -> torch.Tensor:
        return self.head.probability(pooled, lexical)

    def config(self) -> dict:
        return {
            "head": self.head.config(),
            "max_length": self.tokenizer.max_length,
            "ngram_buckets": self.hasher.buckets if self.hasher else 0,
            "pooling": "mean",
        }

    def state_for_save(self) -> dict[str, torch.Tensor]:
        """All weights as contiguous CPU tensors, prefixed `encoder.` and `head.`."""
        return {
            key: value.detach().to("cpu").contiguous()
            for key, value in self.state_dict().items()
        }

    @classmethod
    def from_base(cls, base_dir: str | Path, head: nn.Module, max_length: int = 256,
                  ngram_buckets: int = 0) -> AnomalyModel:
        """A new model on a pre-trained encoder directory."""
        encoder = load_encoder(base_dir)
        tokenizer = SessionTokenizer(base_dir, max_length=max_length)
        return cls(encoder, head, tokenizer, ngram_buckets=ngram_buckets)

    @classmethod
    def from_artifact_dir(cls, model_dir: str | Path, config: dict) -> AnomalyModel:
        """Rebuild from an artifact directory whose weights file udf.artifact has verified."""
        from safetensors.torch import load_file

        model_dir = Path(model_dir)
        encoder = encoder_from_config(model_dir / "config.json")
        tokenizer = SessionTokenizer(model_dir, max_length=config.get("max_length", 256))
        head = build_head(int(encoder.config.hidden_size), config["head"])
        model = cls(encoder, head, tokenizer, ngram_buckets=config.get("ngram_buckets", 0))
        state = load_file(str(model_dir / "model.safetensors"))
        missing, unexpected = model.load_state_dict(state, strict=False)
        # Buffers that transformers recomputes (position ids) may be absent; weights may not.
        missing = [k for k in missing if not k.endswith("position_ids")]
        if missing or unexpected:
            raise ValueError(
                f"{model_dir}/model.safetensors does not match its config: "
                f"missing {missing[:5]}, unexpected {unexpected[:5]}"
            )
        return model.eval()
