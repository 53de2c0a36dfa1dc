"""Fine-tuning batches sized to the device, run as micro-batches whose gradients accumulate.

On the CPU the batch is the classic 32 sessions. On a GPU it grows with the memory the device
has free (up to 256): activation memory per session is estimated from the encoder's shape
(per layer about L*h*(34 + 5*a*L/h) bytes at 16-bit, Korthikanti et al. 2022). Where even 32
do not fit, or a step runs out of memory anyway, the batch runs as micro-batches whose
gradients accumulate, so the optimiser still sees one batch; an out-of-memory error halves
the micro-batch and the step is retried from zero gradients.

On the CPU a micro-batch also holds at most CPU_TOKENS padded tokens: a training step's cost
per token grows with the tokens it holds at once (measured on two cores, MiniLM: about
80 us per layer-token at 32 x 128 and 200 at 32 x 512, 150 at 8 x 512; docs/BENCHMARKS.md),
so a batch of long sessions runs as several short micro-batches and costs what its tokens do.
"""

from __future__ import annotations

import math

import torch

from udf.encode import is_oom

CPU_BATCH = 32
GPU_BATCH = (32, 256)  # smallest and largest batch on a GPU
MEMORY_SHARE = 0.5  # of the free device memory, for activations
CPU_TOKENS = 4096  # most padded tokens in one CPU micro-batch


def activation_bytes_per_row(config, length: int) -> float:
    """Training activations of one session of `length` tokens through the encoder (16-bit)."""
    h, a = int(config.hidden_size), int(config.num_attention_heads)
    return float(config.num_hidden_layers) * length * h * (34 + 5 * a * length / h)


def plan_batch(model, device: str, max_width: int) -> tuple[int, int]:
    """(batch rows, micro-batch rows) for fine-tuning `model` on `device`."""
    if not str(device).startswith("cuda"):
        return CPU_BATCH, CPU_BATCH
    free, _ = torch.cuda.mem_get_info(torch.device(device))
    fits = int(free * MEMORY_SHARE // activation_bytes_per_row(model.encoder.config, max_width))
    batch = max(GPU_BATCH[0], min(GPU_BATCH[1], fits))
    return batch, max(1, min(batch, fits))


def micro_slices(widths: list[int], micro_rows: int, token_budget: int | None) -> list[slice]:
    """How one batch (its rows' padded widths, in batch order) runs as micro-batches: at most
    `micro_rows` rows each and, with a `token_budget`, at most that many padded tokens (rows
    x the widest row), never fewer than one row."""
    out, start = [], 0
    while start < len(widths):
        stop, widest = start, 0
        while stop < len(widths) and stop - start < micro_rows:
            wider = max(widest, widths[stop])
            if token_budget and stop > start and (stop - start + 1) * wider > token_budget:
                break
            widest, stop = wider, stop + 1
        out.append(slice(start, stop))
        start = stop
    return out


def token_budget(device: str) -> int | None:
    """Padded tokens a micro-batch may hold on `device`: CPU_TOKENS on a CPU, no cap on a GPU
    (its micro-batch follows its memory)."""
    return None if str(device).startswith("cuda") else CPU_TOKENS


def lexical_tensor(lexical_logit: dict | None, rows, device=None):
    """Precomputed lexical logits of `rows` (row -> logit) as a tensor; None without them."""
    if lexical_logit is None:
        return None
    return torch.tensor([lexical_logit[int(r)] for r in rows], dtype=torch.float32,
                        device=device)


class AccumulatingStep:
    """Gradients of one batch, summed over micro-batches (the caller then steps the
    optimiser). `micro_rows` halves on out-of-memory; `halvings` counts how often."""

    def __init__(self, model, texts, ids, y, loss_fn, device: str, micro_rows: int,
                 lexical_logit: dict | None = None):
        self.model, self.texts, self.ids, self.y = model, texts, ids, y
        self.lexical_logit = lexical_logit  # row -> precomputed logit, else from the bags
        self.loss_fn, self.device = loss_fn, device
        self.micro_rows = int(micro_rows)
        self.token_budget = token_budget(device)
        self.halvings = 0
        self.autocast = str(device).startswith("cuda")

    def __call__(self, optimizer, batch) -> float:
        while True:
            optimizer.zero_grad(set_to_none=True)
            try:
                return self._accumulate(batch)
            except RuntimeError as exc:
                if not is_oom(exc) or self.micro_rows == 1:
                    raise
                optimizer.zero_grad(set_to_none=True)
                if self.autocast:
                    torch.cuda.empty_cache()
                self.micro_rows = max(1, math.ceil(min(self.micro_rows, len(batch)) / 2))
                self.halvings += 1

    def _lexical(self, rows) -> dict:
        """The head's lexical argument for `rows`: precomputed logits, or bags."""
        if self.lexical_logit is not None:
            return {"lexical_logit": lexical_tensor(self.lexical_logit, rows, self.device)}
        return {"lexical": self.model.lexical_inputs([self.texts[r] for r in rows],
                                                     device=self.device)}

    def _accumulate(self, batch) -> float:
        total = 0.0
        widths = [self.model.tokenizer.padded_length(len(self.ids[r])) for r in batch]
        for part in micro_slices(widths, self.micro_rows, self.token_budget):
            rows = batch[part]
            input_ids, mask = self.model.tokenizer.batch([self.ids[r] for r in rows])
            input_ids = input_ids.to(self.device, non_blocking=True)
            mask = mask.to(self.device, non_blocking=True)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.autocast):
                pooled = self.model.embed(input_ids, mask)
            logits = self.model.head.logits(pooled.float(), **self._lexical(rows))
            # mean over the micro-batch, weighted by its share: the batch's mean loss
            loss = self.loss_fn(logits, self.y[rows].to(self.device)) * (len(rows) / len(batch))
            loss.backward()
            total += float(loss.detach())
        return total
