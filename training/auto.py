"""`--mode auto`: the best mode this machine can train within the time budget.

Quality order, when time allows: full fine-tuning > LoRA > frozen encoder with a trained head
(each fine-tuned candidate starts from the head and is kept only if validation improves).
The plan times a few real forward and backward passes on this device, extrapolates to the
data size, and takes the best mode whose estimate fits the budget.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import numpy as np
import torch

FINETUNE_EPOCHS = 3
HEAD_SEARCH_S = 60.0  # head-mode trials on cached embeddings, measured on 10k sessions


@dataclass
class Plan:
    mode: str
    epochs: int
    reason: str
    estimates_s: dict


def _time(fn, repeats: int = 2) -> float:
    fn()  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def measure_rates(model, sample_ids: list[list[int]], device: str) -> dict:
    """Rows/s of inference and of a training step (full and LoRA) on `sample_ids`."""
    from training.finetune import _wrap_lora

    model = model.to(device)
    input_ids, mask = model.tokenizer.batch(sample_ids)
    input_ids, mask = input_ids.to(device), mask.to(device)
    n = len(sample_ids)
    autocast = str(device).startswith("cuda")

    def forward():
        with torch.inference_mode(), torch.autocast("cuda", torch.bfloat16, enabled=autocast):
            model.embed(input_ids, mask)

    def step(encoder):
        def run():
            with torch.autocast("cuda", torch.bfloat16, enabled=autocast):
                out = encoder(input_ids=input_ids, attention_mask=mask).last_hidden_state
            out.float().mean().backward()
        return run

    rates = {"inference": n / _time(forward)}
    full = copy.deepcopy(model.encoder).train()
    rates["full"] = n / _time(step(full))
    lora = _wrap_lora(copy.deepcopy(model.encoder), seed=0).train()
    rates["lora"] = n / _time(step(lora))
    del full, lora
    model.to("cpu")
    return rates


def plan_mode(n_rows: int, n_train: int, n_val: int, rates: dict, budget_s: float,
              device: str) -> Plan:
    encode = n_rows / rates["inference"]
    head = encode + HEAD_SEARCH_S
    estimates = {"head": round(head, 1)}
    for mode in ("full", "lora"):
        per_epoch = n_train / rates[mode] + n_val / rates["inference"]
        estimates[mode] = round(head + FINETUNE_EPOCHS * per_epoch, 1)
    for mode in ("full", "lora"):
        if estimates[mode] <= budget_s:
            return Plan(mode, FINETUNE_EPOCHS, (
                f"{mode} fine-tuning fits the {budget_s:.0f}s budget on {device} "
                f"(estimated {estimates[mode]:.0f}s for {FINETUNE_EPOCHS} epochs on "
                f"{n_train} sessions)"), estimates)
    return Plan("head", 0, (
        f"fine-tuning would take ~{min(estimates['full'], estimates['lora']):.0f}s on "
        f"{device}, over the {budget_s:.0f}s budget; a frozen encoder with a trained head "
        f"takes ~{estimates['head']:.0f}s"), estimates)


def sample_for_timing(ids: list[list[int]], size: int = 16, seed: int = 0):
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(ids), size=min(size, len(ids)), replace=False)
    return [ids[r] for r in rows]
