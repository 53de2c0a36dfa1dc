"""Does the `--mode auto` probe (training.probe.probe_cost) hold still under machine load?

Prices the packaged encoder's fixed probe batch two ways while 0, 2, 4 and 8 busy processes
compete for the cores: wall-clock seconds (what the probe used before) and the probe itself
(process CPU seconds / threads), in microseconds per layer-token, and prints each as a ratio
to its own unloaded figure. Run: `.venv/bin/python bench/probe_load.py`.
"""

import multiprocessing as mp
import time
from types import SimpleNamespace

import torch
from transformers import BertModel

from training.probe import PROBE_REPEATS, PROBE_SHAPE, probe_batch, probe_cost
from udf.base_models import DEFAULT_BASE_MODEL, resolve_base_model


def _busy(stop):
    while not stop.is_set():
        pass


def _wall_cost(encoder):
    """The probe's batch and repeats, timed in wall seconds (what the probe did before)."""
    rows, width = PROBE_SHAPE
    ids, mask = probe_batch(encoder.config)
    times = []
    with torch.inference_mode():
        encoder(input_ids=ids, attention_mask=mask)
        for _ in range(PROBE_REPEATS):
            started = time.perf_counter()
            encoder(input_ids=ids, attention_mask=mask)
            times.append(time.perf_counter() - started)
    return min(times) / (rows * width * encoder.config.num_hidden_layers)


def main():
    encoder = BertModel.from_pretrained(resolve_base_model(DEFAULT_BASE_MODEL)).eval()
    model = SimpleNamespace(encoder=encoder)
    base = None
    print("busy processes | wall us/layer-token (x unloaded) | probe us/layer-token (x unloaded)")
    for load in (0, 2, 4, 8):
        stop = mp.Event()
        procs = [mp.Process(target=_busy, args=(stop,)) for _ in range(load)]
        for p in procs:
            p.start()
        time.sleep(1.0)
        wall, probe = _wall_cost(encoder), probe_cost(model, "cpu", None)[0].at(0)
        stop.set()
        for p in procs:
            p.join()
        base = base or (wall, probe)
        print(f"{load} | {wall * 1e6:.1f} (x{wall / base[0]:.2f}) | "
              f"{probe * 1e6:.1f} (x{probe / base[1]:.2f})", flush=True)


if __name__ == "__main__":
    main()
