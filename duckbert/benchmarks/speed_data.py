"""What the speed benchmark measures on: a warehouse, its session texts, and model artifacts.

- `prepare_warehouse`: synthetic behaviour (duckbert.synthetic.generate) -> `duckbert.loader.load`
  -> `duckbert.dbt_runner.dbt_build`, i.e. the sessions mart a user would have (no model yet).
- `read_sessions`: session ids, texts and whether they carry a label (training embeds those).
- `fixed_length_texts`: many distinct texts of about N tokens recombined from real session
  headers and events (the GPU check's 128-token workload; fast, no dbt run per text).
- `build_artifact`: the packaged all-MiniLM-L6-v2 under an untrained classifier head with the
  lexical n-gram term, its threshold at the 95th score percentile of real sessions (so about
  5% are flagged and explained, as after training) and a measured `precision_check`.
- `build_tiny_artifact`: a 2-layer, 32-wide random BERT, for the 1,000,000-row memory run.
"""

from __future__ import annotations

import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

SESSIONS_PER_USER = 4.0  # what duckbert.synthetic.generate yields at its default difficulty
FLAGGED_SHARE = 0.05
SEPARATOR = " | "


@dataclass
class Sessions:
    ids: list[str]
    texts: list[str]
    labelled: list[bool]

    def __len__(self) -> int:
        return len(self.texts)


def build_warehouse(work_dir: Path, users: int, seed: int, difficulty: float | None = None,
                    log=print) -> Path:
    """generate -> load -> dbt build with no model, in `work_dir`; the warehouse path."""
    from duckbert.benchmarks.warehouse import build_warehouse_parts

    part = {"name": "standard", "users": users, "seed": seed, "difficulty": difficulty}
    return build_warehouse_parts(work_dir, [part], log)


def prepare_warehouse(work_dir: Path, sessions: int, seed: int, log=print) -> Path:
    """A fresh warehouse with about `sessions` sessions in its sessions mart."""
    users = max(1, math.ceil(sessions / SESSIONS_PER_USER))
    return build_warehouse(work_dir, users, seed, log=log)


def read_sessions(db: Path, limit: int | None = None) -> Sessions:
    """Non-NULL session texts of the sessions mart in session_id order (first `limit`)."""
    from udf.connect import connect_warehouse
    from udf.registry import table_exists

    con = connect_warehouse(db, read_only=True)
    try:
        labelled = "false"
        if table_exists(con, "training_sessions"):
            columns = {r[0] for r in con.execute("describe training_sessions").fetchall()}
            if "is_anomaly" in columns:
                labelled = ("s.session_id in (select session_id from training_sessions "
                            "where is_anomaly is not null)")
        rows = con.execute(
            f"select s.session_id, s.session_text, {labelled} from sessions s "
            f"where s.session_text is not null order by s.session_id "
            + (f"limit {int(limit)}" if limit else "")
        ).fetchall()
    finally:
        con.close()
    if not rows:
        raise RuntimeError(f"{db} has no session texts in its sessions table")
    return Sessions([str(r[0]) for r in rows], [r[1] for r in rows], [bool(r[2]) for r in rows])


def spread(n_total: int, n: int) -> list[int]:
    """`n` row positions spread evenly over `n_total` (all of them when n is 0 or larger)."""
    if n <= 0 or n >= n_total:
        return list(range(n_total))
    return [int(i * n_total / n) for i in range(n)]


def fixed_length_texts(texts: list[str], tokenizer, n: int, tokens: int,
                       seed: int = 0) -> list[str]:
    """`n` distinct session-like texts of at most `tokens` tokens ([CLS] and [SEP] included),
    each a real header followed by real events drawn at random until the next would not fit.

    WordPiece splits on whitespace and punctuation first, so the tokens of "a | b" are those
    of a, "|" and b: lengths are known without tokenizing the results.
    """
    import numpy as np

    headers, events = [], []
    for text in texts:
        parts = text.split(SEPARATOR)
        headers.append(parts[0])
        events.extend(parts[1:])
    if not events:
        raise ValueError("fixed_length_texts needs session texts with events")
    header_len = [len(x) for x in tokenizer.ids(headers)]
    event_len = [len(x) for x in tokenizer.ids(events)]
    room = tokens - 2
    rng = np.random.default_rng(seed)
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        heads = rng.integers(len(headers), size=n - len(out))
        picks = rng.integers(len(events), size=(n - len(out), 4 * tokens)).tolist()
        for head, row in zip(heads.tolist(), picks, strict=True):
            used = min(header_len[head], room)
            parts = [headers[head]]
            misses = 0
            for e in row:
                cost = event_len[e] + 1  # "|" is one token
                if used + cost > room:
                    misses += 1
                    if misses > 8:
                        break
                    continue
                parts.append(events[e])
                used += cost
            text = SEPARATOR.join(parts)
            if text not in seen:
                seen.add(text)
                out.append(text)
    return out


def _untrained_head(hidden: int, ngram_buckets: int, seed: int):
    import torch

    from udf.heads import ClassifierHead

    torch.manual_seed(seed)
    head = ClassifierHead(hidden, hidden_units=0, dropout=0.0, lexical_size=ngram_buckets)
    with torch.no_grad():
        head.mlp[-1].weight.normal_(0, 1.0)
        head.lexical.weight.normal_(0, 1.0)
    return head.eval()


def _threshold(model, texts: list[str]) -> float:
    """The FLAGGED_SHARE top quantile of fp32 scores of `texts`."""
    import numpy as np
    import torch

    from udf.encode import embed_ids

    pooled = torch.from_numpy(embed_ids(model, model.tokenizer.ids(texts)))
    with torch.inference_mode():
        scores = model.probability(pooled, model.lexical_inputs(texts)).numpy()
    return round(float(np.quantile(scores, 1.0 - FLAGGED_SHARE)), 6)


def build_artifact(models_dir: Path, texts: list[str], seed: int = 0, max_length: int = 256,
                   ngram_buckets: int = 1 << 18, calibration: int = 64, check: int = 256,
                   log=print) -> Path:
    """The packaged MiniLM with an untrained head, saved as the artifact training would write
    (threshold, the decision check of udf/serving.py and the embedding-store pointer)."""
    from training.precision import decision_check
    from udf.artifact import new_version, save_model
    from udf.base_models import DEFAULT_BASE_MODEL, packaged_model_dir
    from udf.embedding_store import encoder_key
    from udf.model import AnomalyModel

    base = packaged_model_dir()
    head = _untrained_head(384, ngram_buckets, seed)
    model = AnomalyModel.from_base(base, head, max_length=max_length,
                                   ngram_buckets=ngram_buckets).eval()
    sample = [texts[i] for i in spread(len(texts), calibration)]
    threshold = _threshold(model, sample)
    version = new_version()
    path = models_dir / "bench" / version
    meta = {
        "name": "bench", "version": version, "base_model": DEFAULT_BASE_MODEL,
        "training_mode": "head", "text_format": "st1", "threshold": threshold,
        "threshold_policy": f"top {FLAGGED_SHARE:.0%} of scores (untrained speed-benchmark "
                            "head)",
        "encoder_key": encoder_key(model),
        "embedding_store": os.path.relpath(models_dir / ".embeddings", path),
    }
    checked = [texts[i] for i in spread(len(texts), check)]

    def finalize(tmp_dir):  # no labels here: approval by flag agreement alone
        return {"precision_check": decision_check(
            tmp_dir, checked, None, threshold, seed, log=lambda line: log("  " + line.strip()))}

    return save_model(model, path, meta, base_dir=base, finalize=finalize)


def build_tiny_artifact(models_dir: Path, seed: int = 0, ngram_buckets: int = 4096) -> Path:
    """A 2-layer, 32-wide random BERT with MiniLM's vocabulary (cheap to run a million rows)."""
    import torch
    from transformers import BertConfig, BertModel

    from udf.artifact import new_version, save_model
    from udf.base_models import packaged_model_dir
    from udf.model import AnomalyModel

    source = packaged_model_dir()
    base = models_dir / "tiny-bert"
    if not (base / "config.json").exists():
        torch.manual_seed(seed)
        config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2,
                            num_attention_heads=2, intermediate_size=64,
                            max_position_embeddings=512)
        BertModel(config).save_pretrained(str(base), safe_serialization=True)
        for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt",
                     "special_tokens_map.json"):
            shutil.copy2(source / name, base / name)
    model = AnomalyModel.from_base(base, _untrained_head(32, ngram_buckets, seed),
                                   max_length=128, ngram_buckets=ngram_buckets)
    version = new_version()
    meta = {"name": "tiny", "version": version, "base_model": "tiny-random-bert",
            "training_mode": "head", "text_format": "st1", "threshold": 0.5,
            "threshold_policy": "fixed (memory benchmark)", "precision_check": {}}
    return save_model(model, models_dir / "tiny" / version, meta, base_dir=base)
