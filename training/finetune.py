"""Fine-tune the encoder with its head: every layer (`full`) or LoRA adapters (`lora`).

Starts from the head that head-mode training found (linear probe, then fine-tune), trains
with BCE and AdamW under a linear warm-up/decay schedule, bf16 autocast on a GPU, and keeps
the epoch with the best validation PR-AUC. LoRA adapters are merged into the encoder before
saving, so the runtime loads a plain encoder either way.
"""

from __future__ import annotations

import copy
import math
import time

import numpy as np
import torch

from training.batch_steps import CPU_BATCH, AccumulatingStep, plan_batch
from training.epoch_choice import EpochChoice, validation_key

LORA_TARGETS = ("query", "key", "value", "dense")
ENCODER_LR = {"full": 3e-5, "lora": 5e-4}
HEAD_LR = 1e-3
BATCH_SIZE = CPU_BATCH  # the GPU's batch follows its memory (training.batch_steps)


def _batches(lengths: np.ndarray, rows: np.ndarray, batch_size: int, rng) -> list[np.ndarray]:
    """Length-bucketed random batches: similar lengths together, order shuffled."""
    shuffled = rows[rng.permutation(len(rows))]
    chunks = []
    for start in range(0, len(shuffled), batch_size * 20):
        block = shuffled[start : start + batch_size * 20]
        block = block[np.argsort(lengths[block], kind="stable")]
        chunks.extend(block[i : i + batch_size] for i in range(0, len(block), batch_size))
    return [chunks[i] for i in rng.permutation(len(chunks))]


def _wrap_lora(encoder, seed: int):
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(seed)
    names = {name.split(".")[-1] for name, module in encoder.named_modules()
             if isinstance(module, torch.nn.Linear)}
    targets = [t for t in LORA_TARGETS if t in names] or sorted(names)
    config = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.1, target_modules=targets,
                        bias="none")
    return get_peft_model(encoder, config)


def choosing_precision(device: str) -> str:
    """The precision epochs are chosen at: bf16 autocast on a GPU (quick), fp32 on a CPU."""
    return "bf16" if str(device).startswith("cuda") else "fp32"


def predict(model, texts: list[str], ids: list[list[int]], device: str,
            precision: str | None = None) -> np.ndarray:
    """Probabilities of the current (possibly training) model on `device`, in input order.

    `precision` None: bf16 autocast on a GPU (quick, for choosing epochs), fp32 on the CPU.
    Threshold and test metrics are computed with one explicit precision for both."""
    from udf.encode import iter_pooled

    model.to(device).eval()
    precision = precision or choosing_precision(device)
    out = np.zeros(len(ids), dtype=np.float64)
    for rows, pooled, _ in iter_pooled(model, ids, device, precision):
        lexical = model.lexical_inputs([texts[r] for r in rows], device=device)
        with torch.inference_mode():
            out[rows] = model.probability(pooled.float(), lexical).float().cpu().numpy()
    return out


def over_budget(started: float, epochs_done: int, time_budget_s: float | None) -> bool:
    """Whether one more epoch, as long as the mean of those done, would end past
    `time_budget_s` seconds after `started` (time.monotonic())."""
    if time_budget_s is None:
        return False
    elapsed = time.monotonic() - started
    return elapsed + elapsed / max(epochs_done, 1) > time_budget_s


def finetune(model, texts: list[str], ids: list[list[int]], labels: np.ndarray,
             train_rows: np.ndarray, val_rows: np.ndarray, mode: str, device: str,
             epochs: int, imbalance: str, seed: int, time_budget_s: float | None = None,
             log=print, progress=True, train_lexical: dict | None = None,
             val_groups: np.ndarray | None = None):
    """Fine-tune `model` in place; returns (model, best val PR-AUC, val scores, history,
    best epoch).

    `val_groups` (the user of each validation row) makes the epoch rule's bootstrap resample
    users (training.epoch_choice). `train_lexical` (row -> logit) replaces the lexical
    term's logit on training rows: the out-of-fold one (training.encoder_tuning.
    lexical_logits), so the encoder learns from the rows the n-gram model gets wrong, as the
    head did.

    The model comes back in its best epoch's state; epoch 0 is the head alone, so when no
    fine-tuning epoch beats it the weights are the head mode's and the best epoch is 0."""
    from tqdm.auto import tqdm

    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    if mode == "lora":
        model.encoder = _wrap_lora(model.encoder, seed)
    model.to(device)
    encoder_params = [p for p in model.encoder.parameters() if p.requires_grad]
    if getattr(model.head, "lexical", None) is not None:
        # The lexical logistic regression stays as fitted; Adam would overfit rare n-grams.
        model.head.lexical.weight.requires_grad_(False)
        model.head.lexical_bias.requires_grad_(False)
    head_params = [p for p in model.head.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        [{"params": encoder_params, "lr": ENCODER_LR[mode]},
         {"params": head_params, "lr": HEAD_LR}],
        weight_decay=0.01,
    )
    lengths = np.array([min(len(x), model.tokenizer.max_length) for x in ids])
    batch_size, micro_rows = plan_batch(model, device, int(lengths[train_rows].max()) + 2)
    steps_per_epoch = math.ceil(len(train_rows) / batch_size)
    total = max(1, steps_per_epoch * epochs)
    warmup = max(1, total // 10)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / (total - warmup))))
    y = torch.from_numpy(labels.astype(np.float32))
    n_pos = float(labels[train_rows].sum())
    n_neg = float(len(train_rows) - n_pos)
    pos_weight = torch.tensor(n_neg / max(n_pos, 1.0)) if imbalance == "pos_weight" else None
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight.to(device)
                                         if pos_weight is not None else None)
    val_ids = [ids[r] for r in val_rows]
    val_texts = [texts[r] for r in val_rows]
    y_val = labels[val_rows]
    best_val = predict(model, val_texts, val_ids, device)
    choice = EpochChoice(mode, validation_key(y_val, best_val, val_groups), log)
    best_state = copy.deepcopy(model.state_dict())
    step = AccumulatingStep(model, texts, ids, y, loss_fn, device, micro_rows, train_lexical)
    if batch_size != BATCH_SIZE or micro_rows != batch_size:
        log(f"  {mode}: batches of {batch_size} sessions, micro-batches of {micro_rows}")
    started = time.monotonic()
    for epoch in range(1, epochs + 1):
        model.train()
        rows_order = train_rows
        if imbalance == "balanced":
            p = np.where(labels[train_rows] == 1, 0.5 / max(n_pos, 1), 0.5 / max(n_neg, 1))
            rows_order = rng.choice(train_rows, size=len(train_rows), p=p / p.sum())
        batches = _batches(lengths, rows_order, batch_size, rng)
        for batch in tqdm(batches, desc=f"{mode} epoch {epoch}/{epochs}", disable=not progress,
                          leave=False):
            step(optimizer, batch)
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
        scores = predict(model, val_texts, val_ids, device)
        if choice.offer(epoch, validation_key(y_val, scores, val_groups)):
            best_state, best_val = copy.deepcopy(model.state_dict()), scores
        if epoch < epochs and over_budget(started, epoch, time_budget_s):
            log(f"  {mode}: stopping after epoch {epoch}: another would overrun the "
                f"{time_budget_s:.0f}s left of the time budget")
            break
    model.load_state_dict(best_state)
    if mode == "lora":
        model.encoder = model.encoder.merge_and_unload()
    # the threshold's scores are fp32: on a CPU they are the ones the epoch was chosen by
    val_scores = best_val if choosing_precision(device) == "fp32" else predict(
        model, val_texts, val_ids, device, "fp32")
    model.to("cpu").eval()
    return model, choice.best.pr_auc, val_scores, choice.history, choice.best_epoch
