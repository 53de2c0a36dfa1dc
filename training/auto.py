"""`--mode auto`: the best mode whose estimate fits the time budget, from a stable estimate.

Quality order, when time allows: full fine-tuning > top-layers fine-tuning (`top`,
training.top_layers) > frozen encoder with a trained head. Every fine-tuned candidate starts
from the head and is kept only if validation improves (training.epoch_choice).

The plan must not flip with machine load (one warehouse once chose `full` under one load and
`head` under another), so it never times the run's own steps. It counts work: layer-tokens
(tokens x encoder layers a pass runs) of each step, by the padded width of the batches they
run in, from the token lengths of this table and the batches the steps will form; and it
prices them with the per-layer-token costs of a forward pass and of a training step that
training.probe measures once per machine. Each mode's estimate covers the whole run: the
frozen pass and head search, every validation pass (the head's epoch 0 included), the test
scores and the tail after training (the decision check scores its validation sample about
TAIL_PASSES times). The probe itself is not counted: it runs once per machine (about
30 s on two cores) and counting it would make the first run plan otherwise than the
next. The same table and machine give the same plan; the estimate and the
decision are recorded in duckbert.json (`plan_estimate`). The run itself is bounded by the
wall-clock budget: fine-tuning does not start an epoch that its last one says would overrun.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from training import top_layers
from training.probe import StepCost

FINETUNE_EPOCHS = 3
HEAD_SEARCH_S = 60.0  # head-mode trials on cached embeddings, measured on 10k sessions
TAIL_PASSES = 3  # forward passes over the decision check's validation sample, after training


@dataclass
class Plan:
    mode: str
    epochs: int
    reason: str
    estimates_s: dict
    detail: dict = field(default_factory=dict)


def _own_widths(widths: np.ndarray, layers: int) -> dict:
    """Layer-tokens by width of rows that each run at their own padded width (forward
    batches on a CPU never mix widths)."""
    values, counts = np.unique(widths.astype(int), return_counts=True)
    return {int(w): float(layers * w * n) for w, n in zip(values, counts, strict=True)}


def _batched(batches, widths: np.ndarray, layers: int, micro_rows: int,
             token_budget: int | None) -> dict:
    """Layer-tokens by width of training `batches` (row indices into `widths`), each run as
    the micro-batches training.batch_steps cuts it into, padded to their widest row."""
    from training.batch_steps import micro_slices

    out: dict = {}
    for batch in batches:
        w = widths[batch].astype(int).tolist()
        for part in micro_slices(w, micro_rows, token_budget):
            width = max(w[part])
            out[width] = out.get(width, 0.0) + float(layers * width * len(w[part]))
    return out


def _scaled(load: dict, factor: float) -> dict:
    return {w: t * factor for w, t in load.items()}


def work(model, ids: list[list[int]], labels: np.ndarray, local: dict, n_top: int,
         train_length: int, device: str = "cpu", seed: int = 0) -> dict:
    """Layer-tokens by padded width of each step, from the token lengths of the labelled
    rows and the batches each step forms; `*_train` loads run as training steps, the rest as
    forward passes."""
    from training.batch_steps import plan_batch, token_budget
    from training.finetune import _batches
    from training.precision import MAX_SESSIONS

    tok = model.tokenizer
    layers = int(model.encoder.config.num_hidden_layers)
    n_top = min(n_top, layers)
    serve = np.array([tok.padded_length(len(x)) for x in ids], dtype=int)
    short = np.array([tok.padded_length(min(len(x), train_length - 2)) for x in ids],
                     dtype=int)
    train, val, test = local["train"], local["val"], local["test"]
    rng = np.random.default_rng(seed)
    full_batches, top_batches = [], []
    n_sample = top_layers.sample_size(int(labels[train].sum()), train.size)
    if train.size:
        batch_rows, micro_rows = plan_batch(model, device, int(serve[train].max()))
        lengths = np.array([min(len(x), tok.max_length) for x in ids])
        full_batches = _batches(lengths, train, batch_rows, rng)
        # the informative sample is chosen from the head's scores; its lengths are a draw
        sample = rng.choice(train, size=n_sample, replace=False)
        top_batches = _batches(short, sample, top_layers.BATCH_SIZE, rng)
    check = _own_widths(serve[val], layers)
    per_check = min(MAX_SESSIONS, val.size) / max(val.size, 1)
    top_sample = _own_widths(short[sample], 1) if train.size else {}
    return {
        "layers": layers, "top_layers": n_top, "sample_rows": n_sample,
        "encode": _own_widths(serve, layers),  # the frozen pass (val/test states kept)
        "top_cache": _scaled(top_sample, layers - n_top),
        "top_epoch_train": _batched(top_batches, short, n_top, top_layers.BATCH_SIZE, None),
        "top_epoch_val": _own_widths(serve[val], n_top),
        "top_test": _own_widths(serve[test], n_top),
        "full_epoch_train": _batched(full_batches, serve, layers, micro_rows,
                                     token_budget(device)) if train.size else {},
        "full_epoch_val": _own_widths(serve[val], layers),
        "full_test": _own_widths(serve[test], layers),
        "tail": _scaled(check, TAIL_PASSES * per_check),
    }


def _total(load: dict) -> float:
    return float(sum(load.values()))


def plan_mode(counts: dict, cost: StepCost, train_cost: StepCost, budget_s: float,
              device: str, cost_source: str, n_train: int,
              head_search_s: float = HEAD_SEARCH_S) -> Plan:
    """The best mode whose estimate fits `budget_s`, and the estimates of each; `cost` and
    `train_cost` price a layer-token of a forward pass and of a training step."""
    fwd = cost.seconds
    gpu = str(device).startswith("cuda")
    head = fwd(counts["encode"]) + head_search_s + fwd(counts["tail"])
    estimates = {"head": round(head, 1)}
    fits = {}
    seconds_of = {}
    for mode in ("full", "top"):
        val = fwd(counts[f"{mode}_epoch_val"])
        epoch = train_cost.seconds(counts[f"{mode}_epoch_train"]) + val
        # epoch 0 scores the head on validation; on a GPU full scores it again in fp32
        once = fwd(counts[f"{mode}_test"]) + val * (2 if gpu and mode == "full" else 1)
        if mode == "top":
            once += fwd(counts["top_cache"])
        # what follows the last epoch: the test scores and the tail
        after = fwd(counts[f"{mode}_test"]) + fwd(counts["tail"])
        seconds_of[mode] = {"epoch": round(epoch, 1), "once": round(once, 1),
                            "after": round(after, 1)}
        for epochs in range(FINETUNE_EPOCHS, 0, -1):
            seconds = head + once + epochs * epoch
            if epochs == FINETUNE_EPOCHS:
                estimates[mode] = round(seconds, 1)
            if seconds <= budget_s:
                fits[mode] = (epochs, round(seconds, 1))
                break
    detail = {"s_per_layer_token": cost.at(0), "train_cost": train_cost.to_dict(),
              "cost_source": cost_source,
              "layer_tokens": {k: round(_total(v)) for k, v in counts.items()
                               if isinstance(v, dict)},
              "mode_seconds": seconds_of, "tail_s": round(fwd(counts["tail"]), 1),
              "top_layers": counts["top_layers"], "sample_rows": counts["sample_rows"],
              "budget_s": budget_s, "fits": {k: {"epochs": e, "estimate_s": s}
                                             for k, (e, s) in fits.items()}}
    prices = (f"{cost.at(0) * 1e6:.2f} us each forward, "
              f"{train_cost.at(128) * 1e6:.0f}-{train_cost.at(512) * 1e6:.0f} us in training "
              f"at 128-512 tokens, probe {cost_source}")
    for mode in ("full", "top"):
        if mode in fits:
            epochs, seconds = fits[mode]
            what = ("full fine-tuning" if mode == "full" else
                    f"fine-tuning the top {counts['top_layers']} of {counts['layers']} layers "
                    f"on {counts['sample_rows']} informative training sessions")
            return Plan(mode, epochs, (
                f"{what} fits the {budget_s:.0f}s budget on {device}: estimated "
                f"{seconds:.0f}s for up to {epochs} epoch(s) (a count of layer-tokens at "
                f"{prices}; {n_train} training sessions)"), estimates, detail)
    return Plan("head", 0, (
        f"fine-tuning would take ~{min(estimates['full'], estimates['top']):.0f}s on "
        f"{device}, over the {budget_s:.0f}s budget; a frozen encoder with a trained head "
        f"takes ~{estimates['head']:.0f}s (layer-token count at {prices})"), estimates,
        detail)
