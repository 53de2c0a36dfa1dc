"""What one layer-token of a forward pass or a training step costs on this machine.

`--mode auto` (training.auto) counts each mode's work in layer-tokens and prices it with
these costs. Each is measured once per machine and encoder shape on fixed batches of token
ids (the fastest of a few repeats after a warm-up) and kept in `<models_dir>/.speed.json`.

- A forward pass is priced flat: on two cores its cost per layer-token moves little with
  the batch's shape (21 to 29 us for MiniLM from 32 x 64 to 16 x 512 tokens).
- A training step is priced by the padded width of its micro-batch, through two probes of
  one CPU micro-batch each (training.batch_steps.CPU_TOKENS tokens, at the widths
  TRAIN_WIDTHS; flat below the first, a line above it): attention's share of the work, and
  the memory a step keeps for the backward pass, grow with the width. One probe at 16 x 128
  tokens had priced row a's epoch of the quality benchmark at half what it took
  (docs/BENCHMARKS.md).

On CPU a probe is timed in this process's CPU seconds divided by its threads, not in wall
seconds: other jobs on the machine stretch the wall clock, not the work (bench/probe_load.py:
with 8 busy processes on 2 cores the wall-clock cost rose 4.4x and 7.2x in two runs, the
CPU-time cost 1.1x and 1.65x).
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path

PROBE_SHAPE = (16, 128)  # rows x tokens of the forward probe
PROBE_REPEATS = 5  # forward passes timed after the warm-up (the fastest counts)
TRAIN_WIDTHS = (128, 512)  # padded widths of the two training probes
TRAIN_REPEATS = 3  # training steps timed after the warm-up, per width
FORMAT = 2  # cache entries of another format are measured again


@dataclass(frozen=True)
class StepCost:
    """Seconds per layer-token of one kind of step, by the padded width of its batch: flat
    at the narrowest probed width and below it, a line through the probed widths above it
    (one probe: flat everywhere)."""

    points: tuple[tuple[int, float], ...]  # (padded width, seconds per layer-token)

    def at(self, width: float) -> float:
        (w0, c0), *rest = self.points
        if not rest or width <= w0:
            return c0
        w1, c1 = rest[-1]
        return max(c0, c0 + (c1 - c0) * (width - w0) / (w1 - w0))

    def seconds(self, load: dict) -> float:
        """Seconds of `load`: layer-tokens by the padded width of their batch."""
        return float(sum(tokens * self.at(width) for width, tokens in load.items()))

    def to_dict(self) -> dict:
        return {"s_per_layer_token_by_width": {str(w): c for w, c in self.points}}

    @classmethod
    def from_dict(cls, entry) -> StepCost | None:
        """The cost a cache entry holds, None when it holds none."""
        by_width = entry.get("s_per_layer_token_by_width") if isinstance(entry, dict) else None
        try:
            points = tuple(sorted((int(w), float(c)) for w, c in by_width.items()))
        except (AttributeError, TypeError, ValueError):
            return None
        return cls(points) if points and all(c > 0 for _, c in points) else None


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


def probe_batch(config, shape=PROBE_SHAPE):
    """A fixed batch of `shape` (rows, tokens): (input ids, attention mask), spread over the
    vocabulary, the same on every machine."""
    import torch

    rows, width = shape
    vocab = int(config.vocab_size)
    ids = (torch.arange(rows * width).reshape(rows, width) * 7919 % max(vocab - 1000, 1)
           + min(1000, vocab // 2))
    return ids, torch.ones_like(ids)


def _timed_min(step, on_gpu: bool, threads: int, repeats: int) -> float:
    """The fastest of `repeats` runs of `step` after one warm-up: wall seconds on a GPU,
    this process's CPU seconds per thread on a CPU."""
    import torch

    step()
    times = []
    for _ in range(repeats):
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
        return _timed_min(lambda: encoder(input_ids=ids, attention_mask=mask), on_gpu, threads,
                          PROBE_REPEATS)


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

    return _timed_min(step, on_gpu, threads, TRAIN_REPEATS)


def train_shapes(config) -> list[tuple[int, int]]:
    """(rows, width) of the training probes: one CPU micro-batch at each of TRAIN_WIDTHS
    the encoder takes."""
    from training.batch_steps import CPU_BATCH, CPU_TOKENS

    longest = int(getattr(config, "max_position_embeddings", max(TRAIN_WIDTHS)))
    widths = sorted({min(w, longest) for w in TRAIN_WIDTHS})
    return [(max(1, min(CPU_BATCH, CPU_TOKENS // w)), w) for w in widths]


def _measure(model, device, step: str) -> StepCost:
    import torch

    on_gpu = _clock(device) == "wall"
    threads = 1 if on_gpu else max(1, torch.get_num_threads())
    config = model.encoder.config
    layers = int(config.num_hidden_layers)
    encoder = model.encoder.to(device)
    try:
        if step == "forward":
            ids, mask = (t.to(device) for t in probe_batch(config))
            rows, width = PROBE_SHAPE
            return StepCost(((width, _forward_seconds(encoder, ids, mask, on_gpu, threads)
                              / (rows * width * layers)),))
        points = []
        for rows, width in train_shapes(config):
            ids, mask = (t.to(device) for t in probe_batch(config, (rows, width)))
            points.append((width, _train_step_seconds(encoder, ids, mask, on_gpu, threads)
                           / (rows * width * layers)))
    finally:
        model.encoder.to("cpu").eval()
    return StepCost(tuple(points))


def probe_cost(model, device, cache_path: Path | None, step: str = "forward"
               ) -> tuple[StepCost, str]:
    """The cost of a forward pass (`step` "forward") or of a training step ("train") per
    layer-token on `device`, measured once per machine and encoder shape and kept in
    `cache_path`; with where it came from ("measured <when>")."""
    if step not in ("forward", "train"):
        raise ValueError(f"probe step must be 'forward' or 'train', not {step!r}")
    key = f"{_machine_key(model, device)}|step={step}|format={FORMAT}"
    known = {}
    if cache_path is not None and cache_path.exists():
        try:
            known = json.loads(cache_path.read_text())
        except (OSError, ValueError):
            known = {}
    entry = known.get(key)
    cached = StepCost.from_dict(entry)
    if cached is not None:
        return cached, f"measured {entry.get('measured_at', '?')}"
    cost = _measure(model, device, step)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    if cache_path is not None:
        shapes = [PROBE_SHAPE] if step == "forward" else train_shapes(model.encoder.config)
        known[key] = {**cost.to_dict(), "measured_at": stamp,
                      "probe": (f"{step}, " + " and ".join(f"{r}x{w}" for r, w in shapes)
                                + f" tokens, fastest of "
                                f"{PROBE_REPEATS if step == 'forward' else TRAIN_REPEATS}"),
                      "clock": "wall seconds" if _clock(device) == "wall"
                      else "process CPU seconds / threads"}
        try:
            cache_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache_path.with_name(f".{cache_path.name}.{os.getpid()}")
            tmp.write_text(json.dumps(known, indent=1, sort_keys=True))
            os.replace(tmp, cache_path)
        except OSError:
            pass
    return cost, f"measured {stamp}"
