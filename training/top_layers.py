"""Mode `top`: fine-tune the top N encoder layers on cached outputs of the frozen lower ones.

Full fine-tuning on two CPU cores costs hours for 10,000 sessions (docs/BENCHMARKS.md). Most
of that is spent running and back-propagating through layers whose weights barely move, so
this mode keeps layers 1..L-N frozen and computes their output once:

- validation and test sessions are encoded once, at the scoring length, through the frozen
  lower layers; their layer-(L-N) states are kept (fp32, so their scores are the served
  model's) and the same pass finishes the frozen encoder for the head (the embedding store),
  so the head costs no second encoding of them;
- the training rows are the informative ones: every anomaly, the normals the frozen model
  scores highest (the hardest; with the lexical term's logit out of fold, which the caller
  passes in, so that its memory of the training rows does not decide), and a seeded random
  share of the other normals; their states are cached at a shorter training length
  (`train_length`, head and tail of the text) in fp16;
- batches are length-bucketed and padded to their own longest row (dynamic padding);
- validation after each epoch at the serving length; the best epoch is kept, training
  stops after an epoch without improvement, and the result is kept only if it beats the
  frozen head (epoch 0) on validation (training.epoch_choice: PR-AUC when validation tells
  them apart, otherwise log loss).

The lexical term, when the head has it, stays as fitted (its logit is precomputed per row).
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field

import numpy as np

TRAIN_LENGTH = 128
TOP_LAYERS = 2
EPOCHS = 3
BATCH_SIZE = 32
ENCODER_LR = 5e-5
HEAD_LR = 3e-4
HARD_PER_ANOMALY = 2  # hardest normals per training anomaly
RANDOM_PER_ANOMALY = 1  # random other normals per training anomaly
MAX_SAMPLE = 4000


def sample_size(n_pos: int, n_train: int) -> int:
    """Training rows the top layers see: anomalies + hard and random normals, capped."""
    return int(min(n_train, MAX_SAMPLE, n_pos * (1 + HARD_PER_ANOMALY + RANDOM_PER_ANOMALY)))


def _mask(hidden, mask):
    """An additive (batch, 1, 1, tokens) attention mask: 0 where a token is real, the dtype's
    minimum where it is padding. Built here rather than by the encoder's private helper, whose
    signature changes between transformers releases; eager and SDPA attention both take it."""
    import torch

    keep = mask[:, None, None, :].to(hidden.dtype)
    return (1.0 - keep) * torch.finfo(hidden.dtype).min


def _run_layers(layers, hidden, extended):
    """`hidden` through `layers` in turn (a layer returns a tensor, or a tuple in older
    transformers)."""
    for layer in layers:
        out = layer(hidden, extended)
        hidden = out[0] if isinstance(out, tuple) else out
    return hidden


def lower_states(encoder, input_ids, mask, n_lower: int):
    """Hidden states after the embeddings and the first `n_lower` layers."""
    hidden = encoder.embeddings(input_ids=input_ids)
    return _run_layers(encoder.encoder.layer[:n_lower], hidden, _mask(hidden, mask))


def top_pooled(encoder, hidden, mask, n_lower: int):
    """Layers n_lower.. over cached states, then the model's mean pooling."""
    from udf.model import mean_pool

    hidden = _run_layers(encoder.encoder.layer[n_lower:], hidden, _mask(hidden, mask))
    return mean_pool(hidden, mask)


@dataclass
class StateCache:
    """Per-row hidden states (unpadded) of the frozen lower layers, and each row's width."""

    states: dict[int, object] = field(default_factory=dict)
    widths: dict[int, int] = field(default_factory=dict)

    def batch(self, rows, width: int | None = None):
        """(hidden [B, W, H] float32, mask [B, W]) padded to `width` or the longest row."""
        import torch

        width = width or max(self.widths[r] for r in rows)
        hidden_size = self.states[rows[0]].shape[-1]
        hidden = torch.zeros(len(rows), width, hidden_size)
        mask = torch.zeros(len(rows), width, dtype=torch.int64)
        for i, r in enumerate(rows):
            state = self.states[r]
            hidden[i, : state.shape[0]] = state.float()
            mask[i, : state.shape[0]] = 1
        return hidden, mask

    def nbytes(self) -> int:
        return int(sum(s.element_size() * s.nelement() for s in self.states.values()))


def encode_eval(model, ids: list[list[int]], rows: np.ndarray, n_lower: int, device):
    """Frozen pass over `rows` at the scoring length: their lower-layer states (fp32) and
    their pooled embeddings (the frozen encoder's, for the head and the embedding store)."""
    import torch

    from udf.encode import MAX_ROWS, TOKEN_BUDGET, device_kind, length_sorted_batches

    kind = device_kind(device)
    cache = StateCache()
    pooled = np.zeros((len(rows), model.hidden_size), dtype=np.float32)
    lengths = [model.tokenizer.padded_length(len(ids[r])) for r in rows]
    encoder = model.encoder.to(device).eval()
    for batch in length_sorted_batches(lengths, TOKEN_BUDGET[kind], MAX_ROWS[kind]):
        input_ids, mask = model.tokenizer.batch([ids[rows[b]] for b in batch])
        input_ids, mask = input_ids.to(device), mask.to(device)
        with torch.no_grad():  # not inference_mode: the cached states are used in training
            hidden = lower_states(encoder, input_ids, mask, n_lower)
            out = top_pooled(encoder, hidden, mask, n_lower)
        pooled[batch] = out.float().cpu().numpy()
        true = mask.sum(dim=1).tolist()
        for j, b in enumerate(batch):
            cache.states[int(rows[b])] = hidden[j, : true[j]].float().cpu().clone()
            cache.widths[int(rows[b])] = int(input_ids.shape[1])
    return cache, pooled


def encode_train(model, ids, rows: np.ndarray, n_lower: int, train_length: int, device):
    """Lower-layer states of the training sample at `train_length` tokens, in fp16."""
    import torch

    from udf.encode import MAX_ROWS, TOKEN_BUDGET, device_kind, length_sorted_batches

    tokenizer = copy.copy(model.tokenizer)
    tokenizer.max_length = min(train_length, model.tokenizer.max_length)
    kind = device_kind(device)
    cache = StateCache()
    lengths = [tokenizer.padded_length(len(ids[r])) for r in rows]
    encoder = model.encoder.to(device).eval()
    for batch in length_sorted_batches(lengths, TOKEN_BUDGET[kind], MAX_ROWS[kind]):
        input_ids, mask = tokenizer.batch([ids[rows[b]] for b in batch])
        with torch.no_grad():
            hidden = lower_states(encoder, input_ids.to(device), mask.to(device), n_lower)
        true = mask.sum(dim=1).tolist()
        for j, b in enumerate(batch):
            cache.states[int(rows[b])] = hidden[j, : true[j]].to(torch.float16).cpu().clone()
            cache.widths[int(rows[b])] = int(true[j])
    return cache


def informative_rows(train_rows: np.ndarray, labels: np.ndarray, frozen_scores: np.ndarray,
                     seed: int) -> np.ndarray:
    """Every anomaly, the hardest normals by the frozen model's score (or logit: only the
    order counts), some random normals."""
    rng = np.random.default_rng(seed)
    pos = train_rows[labels == 1]
    neg_order = np.argsort(-frozen_scores[labels == 0], kind="stable")
    negatives = train_rows[labels == 0][neg_order]
    budget = sample_size(pos.size, train_rows.size) - pos.size
    hard = negatives[: min(budget, HARD_PER_ANOMALY * pos.size)]
    rest = negatives[hard.size:]
    n_random = min(rest.size, max(0, budget - hard.size))
    random = rng.choice(rest, size=n_random, replace=False) if n_random else rest[:0]
    return np.sort(np.concatenate([pos, hard, random]))


@dataclass
class TopResult:
    improved: bool
    val_pr_auc: float
    val_scores: np.ndarray
    test_scores: np.ndarray | None
    history: list
    sample_rows: int
    seconds: dict


def _scores(model, cache: StateCache, rows, lexical_logit: dict, n_lower: int, device):
    """Probabilities of `rows` through the (training) top layers, served-length batches."""
    import torch

    from training.batch_steps import lexical_tensor
    from udf.heads import stable_sigmoid

    model.eval()
    out = np.zeros(len(rows))
    by_width: dict[int, list[int]] = {}
    for i, r in enumerate(rows):
        by_width.setdefault(cache.widths[int(r)], []).append(i)
    for width, positions in sorted(by_width.items()):
        for start in range(0, len(positions), 64):
            part = positions[start : start + 64]
            hidden, mask = cache.batch([int(rows[i]) for i in part], width)
            with torch.inference_mode():
                pooled = top_pooled(model.encoder, hidden.to(device), mask.to(device), n_lower)
                logits = model.head.logits(pooled.float().cpu(), lexical_logit=lexical_tensor(
                    lexical_logit, [int(rows[i]) for i in part]))
            out[part] = stable_sigmoid(logits).numpy()
    return out


def finetune_top(model, ids, labels: np.ndarray, train_rows, val_rows, test_rows,
                 eval_cache: StateCache, frozen_train_scores: np.ndarray,
                 lexical_logit: dict | None, n_top: int, epochs: int, imbalance: str,
                 seed: int, device, train_length: int = TRAIN_LENGTH, log=print,
                 time_budget_s: float | None = None, val_groups=None) -> TopResult:
    """Train the top `n_top` layers and the head's MLP; `model` comes back in its best
    state (the frozen head's when no epoch beats it). Rows index `ids` and `labels`;
    `val_groups` are the users of `val_rows`, for the epoch rule's bootstrap."""
    import torch

    from training.batch_steps import lexical_tensor
    from training.epoch_choice import EpochChoice, validation_key
    from training.finetune import over_budget

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    n_layers = len(model.encoder.encoder.layer)
    n_lower = n_layers - n_top
    seconds = {}
    started = time.monotonic()
    sample = informative_rows(train_rows, labels[train_rows], frozen_train_scores, seed)
    train_cache = encode_train(model, ids, sample, n_lower, train_length, device)
    seconds["cache"] = round(time.monotonic() - started, 2)
    log(f"  top: cached layer-{n_lower} states of {sample.size} training sessions "
        f"({int(labels[sample].sum())} anomalies, hardest and random normals) at "
        f"{train_length} tokens ({train_cache.nbytes() / 2**20:.0f} MiB fp16) and of "
        f"{len(val_rows) + len(test_rows)} validation/test sessions "
        f"({eval_cache.nbytes() / 2**20:.0f} MiB fp32)")
    top = model.encoder.encoder.layer[n_lower:]
    for p in model.encoder.parameters():
        p.requires_grad_(False)
    for p in top.parameters():
        p.requires_grad_(True)
    if getattr(model.head, "lexical", None) is not None:
        for p in (model.head.lexical.weight, model.head.lexical_bias, model.head.lexical_scale):
            p.requires_grad_(False)
    head_params = [p for p in model.head.mlp.parameters()]
    optimizer = torch.optim.AdamW([{"params": list(top.parameters()), "lr": ENCODER_LR},
                                   {"params": head_params, "lr": HEAD_LR}], weight_decay=0.01)
    steps = max(1, epochs * -(-sample.size // BATCH_SIZE))
    warmup = max(1, steps // 10)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup))))
    y = labels[sample].astype(np.float32)
    pos_weight = torch.tensor(float((y == 0).sum()) / max(float(y.sum()), 1.0))
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    model.encoder.to(device)

    def state():
        return {"top": copy.deepcopy(top.state_dict()),
                "head": copy.deepcopy(model.head.state_dict())}

    y_val = labels[val_rows]
    val_scores = _scores(model, eval_cache, val_rows, lexical_logit, n_lower, device)
    choice = EpochChoice("top", validation_key(y_val, val_scores, val_groups), log,
                         head_name="frozen encoder, the head")
    best, best_scores = state(), val_scores
    widths = np.array([train_cache.widths[int(r)] for r in sample])
    label_of = dict(zip(sample.tolist(), y.tolist(), strict=True))
    train_started = time.monotonic()
    for epoch in range(1, epochs + 1):
        model.train()
        model.encoder.encoder.layer[:n_lower].eval()
        order = rng.permutation(sample.size)
        batches = []
        for start in range(0, order.size, BATCH_SIZE * 20):  # length buckets, shuffled
            block = order[start : start + BATCH_SIZE * 20]
            block = block[np.argsort(widths[block], kind="stable")]
            batches += [block[i : i + BATCH_SIZE] for i in range(0, block.size, BATCH_SIZE)]
        for b in rng.permutation(len(batches)):
            rows = [int(sample[i]) for i in batches[b]]
            hidden, mask = train_cache.batch(rows)
            pooled = top_pooled(model.encoder, hidden.to(device), mask.to(device), n_lower)
            logits = model.head.logits(pooled.float().cpu(),
                                       lexical_logit=lexical_tensor(lexical_logit, rows))
            loss = loss_fn(logits, torch.tensor([label_of[r] for r in rows]))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(list(top.parameters()) + head_params, 1.0)
            optimizer.step()
            scheduler.step()
        val_scores = _scores(model, eval_cache, val_rows, lexical_logit, n_lower, device)
        if choice.offer(epoch, validation_key(y_val, val_scores, val_groups)):
            best, best_scores = state(), val_scores
        else:
            log(f"  top: no improvement in epoch {epoch}; stopping early")
            break
        if epoch < epochs and over_budget(train_started, epoch, time_budget_s):
            log(f"  top: stopping after epoch {epoch}: another would overrun the "
                f"{time_budget_s:.0f}s left of the time budget")
            break
    seconds["epochs"] = round(time.monotonic() - train_started, 2)
    top.load_state_dict(best["top"])
    model.head.load_state_dict(best["head"])
    for p in model.parameters():
        p.requires_grad_(False)
    improved = choice.best_epoch > 0
    test_scores = _scores(model, eval_cache, test_rows, lexical_logit, n_lower, device) \
        if improved else None
    model.to("cpu").eval()
    return TopResult(improved, choice.best.pr_auc, best_scores, test_scores, choice.history,
                     int(sample.size), seconds)
