"""`--mode auto`: the best mode whose estimate fits the time budget, from a stable estimate.

Quality order, when time allows: full fine-tuning > top-layers fine-tuning (`top`,
training.top_layers) > frozen encoder with a trained head. Every fine-tuned candidate starts
from the head and is kept only if validation improves (training.epoch_choice).

The plan must not flip with machine load (one warehouse once chose `full` under one load and
`head` under another), so it never times the run's own steps. It counts work: layer-tokens
(tokens x encoder layers a pass runs) of each step from the token lengths of this table, and
prices them with two per-layer-token costs measured on a fixed probe (a fixed batch of token
ids, the fastest of several repeats): a forward pass (encoding, validation, test) and a
training step (forward, backward and the optimizer's update, on a copy of the encoder). Both
are measured once per machine and encoder shape and kept in `<models_dir>/.speed.json`. The
training step is measured rather than assumed: counted as three forwards, a full epoch on row
a of the quality benchmark took about twice its estimate (docs/BENCHMARKS.md). The same table
and machine give the same plan; the estimate and the decision are recorded in duckbert.json
(`plan`).

On CPU the probe is timed in this process's CPU seconds divided by its threads, not in wall
seconds: other jobs on the machine stretch the wall clock, not the work. Measured with
bench/probe_load.py (docs/BENCHMARKS.md): with 8 busy processes on 2 cores the wall-clock
cost rose 4.4x and 7.2x in two runs, the CPU-time cost 1.1x and 1.65x. The run is bounded
by the wall-clock budget (training.encoder_tuning stops at it and keeps the best so far).
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from training import top_layers

FINETUNE_EPOCHS = 3
HEAD_SEARCH_S = 60.0  # head-mode trials on cached embeddings, measured on 10k sessions
PROBE_SHAPE = (16, 128)  # rows x tokens of the fixed probe
PROBE_REPEATS = 5


@dataclass
class Plan:
    mode: str
    epochs: int
    reason: str
    estimates_s: dict
    detail: dict = field(default_factory=dict)


def _clock(device) -> str:
    """What the probe times: wall seconds on a GPU, this process's CPU seconds on a CPU."""
    return "wall" if str(device).startswith("cuda") else "cpu"


def _machine_key(model, device) -> str:
    import torch

    config = model.encoder.config
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((line.split(":", 1)[1].strip() for line in fh
                        if line.startswith("model name")), cpu)
    except OSError:
        pass
    return (f"{device}|{cpu}|threads={torch.get_num_threads()}|torch={torch.__version__}|"
            f"h={config.hidden_size}|i={config.intermediate_size}|"
            f"heads={config.num_attention_heads}|"
            f"clock={_clock(device)}")


def probe_batch(config):
    """The probe's fixed batch: (input ids, attention mask) of PROBE_SHAPE, spread over the
    vocabulary, the same on every machine."""
    import torch

    rows, width = PROBE_SHAPE
    vocab = int(config.vocab_size)
    ids = (torch.arange(rows * width).reshape(rows, width) * 7919 % max(vocab - 1000, 1)
           + min(1000, vocab // 2))
    return ids, torch.ones_like(ids)


def _timed_min(step, on_gpu: bool, threads: int) -> float:
    """The fastest of PROBE_REPEATS runs of `step` after one warm-up: wall seconds on a GPU,
    this process's CPU seconds per thread on a CPU."""
    import torch

    step()
    times = []
    for _ in range(PROBE_REPEATS):
        started = time.perf_counter() if on_gpu else time.process_time()
        step()
        if on_gpu:
            torch.cuda.synchronize()
        ended = time.perf_counter() if on_gpu else time.process_time()
        times.append((ended - started) / threads)
    return min(times)


def _forward_seconds(encoder, ids, mask, on_gpu, threads) -> float:
    import torch

    encoder.eval()
    with torch.inference_mode():
        return _timed_min(lambda: encoder(input_ids=ids, attention_mask=mask), on_gpu, threads)


def _train_step_seconds(encoder, ids, mask, on_gpu, threads) -> float:
    """One training step on a copy of the encoder: forward, backward, AdamW's update."""
    import copy

    import torch

    clone = copy.deepcopy(encoder).train()
    optimizer = torch.optim.AdamW(clone.parameters(), lr=1e-5)

    def step():
        optimizer.zero_grad(set_to_none=True)
        clone(input_ids=ids, attention_mask=mask).last_hidden_state.float().mean().backward()
        optimizer.step()

    return _timed_min(step, on_gpu, threads)


def probe_cost(model, device, cache_path: Path | None, step: str = "forward"
               ) -> tuple[float, str]:
    """Seconds per layer-token of a forward pass (`step` "forward") or of a training step
    ("train"): the fastest of PROBE_REPEATS runs on one fixed batch, measured once per
    machine and kept in `cache_path`."""
    import torch

    if step not in ("forward", "train"):
        raise ValueError(f"probe step must be 'forward' or 'train', not {step!r}")
    key = _machine_key(model, device) + ("|step=train" if step == "train" else "")
    known = {}
    if cache_path is not None and cache_path.exists():
        try:
            known = json.loads(cache_path.read_text())
        except (OSError, ValueError):
            known = {}
    entry = known.get(key)
    if isinstance(entry, dict) and isinstance(entry.get("s_per_layer_token"), float):
        return entry["s_per_layer_token"], f"measured {entry.get('measured_at', '?')}"
    rows, width = PROBE_SHAPE
    ids, mask = (t.to(device) for t in probe_batch(model.encoder.config))
    on_gpu = _clock(device) == "wall"
    threads = 1 if on_gpu else max(1, torch.get_num_threads())
    encoder = model.encoder.to(device)
    measure = _forward_seconds if step == "forward" else _train_step_seconds
    try:
        seconds = measure(encoder, ids, mask, on_gpu, threads)
    finally:
        model.encoder.to("cpu").eval()
    cost = seconds / (rows * width * model.encoder.config.num_hidden_layers)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    if cache_path is not None:
        known[key] = {"s_per_layer_token": cost, "measured_at": stamp,
                      "probe": f"{step}, {rows}x{width} tokens, fastest of {PROBE_REPEATS}",
                      "clock": "wall seconds" if on_gpu
                      else f"process CPU seconds / {threads} threads"}
        try:
            cache_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache_path.with_name(f".{cache_path.name}.{os.getpid()}")
            tmp.write_text(json.dumps(known, indent=1, sort_keys=True))
            os.replace(tmp, cache_path)
        except OSError:
            pass
    return cost, f"measured {stamp}"


def work(model, ids: list[list[int]], labels: np.ndarray, local: dict, n_top: int,
         train_length: int) -> dict:
    """Layer-tokens of each step, from the token lengths of the labelled rows; `*_train`
    counts go through training steps, the rest through forward passes."""
    tok = model.tokenizer
    layers = int(model.encoder.config.num_hidden_layers)
    n_top = min(n_top, layers)
    serve = np.array([tok.padded_length(len(x)) for x in ids], dtype=float)
    short = np.minimum(serve, min(train_length, tok.max_length))
    train, val, test = local["train"], local["val"], local["test"]
    n_sample = top_layers.sample_size(int(labels[train].sum()), train.size)
    sample_tokens = float(short[train].mean()) * n_sample if train.size else 0.0
    return {
        "layers": layers, "top_layers": n_top, "sample_rows": n_sample,
        "encode": layers * serve.sum(),  # the frozen pass (val/test states captured in it)
        "top_cache": (layers - n_top) * sample_tokens,
        "top_epoch_train": n_top * sample_tokens,
        "top_epoch_val": n_top * serve[val].sum(),
        "top_test": n_top * serve[test].sum(),
        "full_epoch_train": layers * serve[train].sum(),
        "full_epoch_val": layers * serve[val].sum(),
        "full_test": layers * serve[test].sum(),
    }


def plan_mode(counts: dict, cost: float, train_cost: float, budget_s: float, device: str,
              cost_source: str, n_train: int, head_search_s: float = HEAD_SEARCH_S) -> Plan:
    """The best mode whose estimate fits `budget_s`, and the estimates of each; `cost` and
    `train_cost` are the seconds per layer-token of a forward pass and of a training step."""
    head = counts["encode"] * cost + head_search_s
    estimates = {"head": round(head, 1)}
    fits = {}
    for mode in ("full", "top"):
        epoch = counts[f"{mode}_epoch_train"] * train_cost + counts[f"{mode}_epoch_val"] * cost
        once = (counts["top_cache"] if mode == "top" else 0.0) + counts[f"{mode}_test"]
        for epochs in range(FINETUNE_EPOCHS, 0, -1):
            seconds = head + once * cost + epochs * epoch
            if epochs == FINETUNE_EPOCHS:
                estimates[mode] = round(seconds, 1)
            if seconds <= budget_s:
                fits[mode] = (epochs, round(seconds, 1))
                break
    detail = {"s_per_layer_token": cost, "s_per_train_layer_token": train_cost,
              "cost_source": cost_source,
              "layer_tokens": {k: round(float(v)) for k, v in counts.items()
                               if k not in ("layers", "top_layers", "sample_rows")},
              "top_layers": counts["top_layers"], "sample_rows": counts["sample_rows"],
              "budget_s": budget_s, "fits": {k: {"epochs": e, "estimate_s": s}
                                             for k, (e, s) in fits.items()}}
    for mode in ("full", "top"):
        if mode in fits:
            epochs, seconds = fits[mode]
            what = ("full fine-tuning" if mode == "full" else
                    f"fine-tuning the top {counts['top_layers']} of {counts['layers']} layers "
                    f"on {counts['sample_rows']} informative training sessions")
            return Plan(mode, epochs, (
                f"{what} fits the {budget_s:.0f}s budget on {device}: estimated "
                f"{seconds:.0f}s for up to {epochs} epoch(s) (a count of layer-tokens at "
                f"{cost * 1e6:.2f} us each forward, {train_cost * 1e6:.2f} us in training, "
                f"probe {cost_source}; {n_train} training sessions)"), estimates, detail)
    return Plan("head", 0, (
        f"fine-tuning would take ~{min(estimates['full'], estimates['top']):.0f}s on "
        f"{device}, over the {budget_s:.0f}s budget; a frozen encoder with a trained head "
        f"takes ~{estimates['head']:.0f}s (layer-token count at {cost * 1e6:.2f} us each "
        f"forward, {train_cost * 1e6:.2f} us in training, probe {cost_source})"), estimates,
        detail)
