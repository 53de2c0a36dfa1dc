"""What a training step (or a forward pass) of the packaged encoder costs per layer-token, by
the shape of its batch: the figures behind training.batch_steps.CPU_TOKENS and the two
training probes of training.probe.

Each shape is timed as the probes time it (process CPU seconds / threads, the fastest of
`--repeats` after one warm-up) on one fixed batch of token ids.
Run: `.venv/bin/python bench/step_shapes.py train 32x128 32x512 8x512`.
"""

import argparse
from types import SimpleNamespace

import torch
from transformers import BertModel

from training import probe
from udf.base_models import DEFAULT_BASE_MODEL, resolve_base_model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=["train", "forward"])
    parser.add_argument("shapes", nargs="+", help="rows x tokens, e.g. 32x128")
    parser.add_argument("--repeats", type=int, default=4)
    args = parser.parse_args()
    encoder = BertModel.from_pretrained(resolve_base_model(DEFAULT_BASE_MODEL)).eval()
    layers = encoder.config.num_hidden_layers
    threads = max(1, torch.get_num_threads())
    probe.PROBE_REPEATS = probe.TRAIN_REPEATS = args.repeats
    timer = probe._train_step_seconds if args.step == "train" else probe._forward_seconds
    model = SimpleNamespace(encoder=encoder)
    print(f"{args.step} | rows x tokens | s per step | us per layer-token")
    for shape in args.shapes:
        rows, width = (int(x) for x in shape.lower().split("x"))
        ids, mask = probe.probe_batch(model.encoder.config, (rows, width))
        seconds = timer(encoder, ids, mask, False, threads)
        print(f"{args.step} | {rows} x {width} | {seconds:.2f} | "
              f"{seconds / (rows * width * layers) * 1e6:.1f}", flush=True)


if __name__ == "__main__":
    main()
