"""Run the duckbert command line with a fault planted at one point (fault injection).

    python tests/reliability/killpoint.py POINT duckbert-args...

POINT is where the process kills itself, as `kill -9` or the OOM killer would at that moment,
one for every stage of a training run:
  encode     inside udf.encode.embed_ids, after the first batch of new sessions went through
             the frozen encoder (nothing stored yet)
  head       inside the head search, when the first MLP candidate starts training (the
             lexical logistic regression is already fitted)
  finetune   inside full/LoRA fine-tuning, after the first optimizer step (needs --mode full
             or lora)
  save       inside udf.artifact.save_model, after the weights are written to the hidden
             temporary directory and before duckbert.json and the rename
  baselines  inside the drift baselines, after the artifact was renamed into place and
             before the catalogue row is written
  record     inside udf.registry.record_run's transaction, after the previous model was marked
             superseded and before the new row is inserted and committed
  none       nothing planted (the plain command)

or, for the optional steps, where it raises MemoryError instead (the step must then be
skipped with a warning, never end the run): raise-peers, raise-precision, raise-baselines.

Nothing else about the run changes: the hooks wrap one function each and then kill or raise.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path


def _die(point: str) -> None:
    print(f"KILLPOINT {point}", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


def _wrap(module, name: str, before=None):
    """Replace module.name by a function that calls `before(*args)` first."""
    real = getattr(module, name)

    def wrapped(*args, **kwargs):
        before(*args, **kwargs)
        return real(*args, **kwargs)

    setattr(module, name, wrapped)


def _raise(point: str):
    def fail(*_args, **_kwargs):
        print(f"KILLPOINT {point}", flush=True)
        raise MemoryError(f"planted by killpoint {point}")

    return fail


def _plant_encode(point: str) -> None:
    import udf.encode as encode

    real = encode.embed_ids

    def embed_ids(model, ids, *args, progress=None, **kwargs):
        if sys._getframe(1).f_globals.get("__name__") != "training.embeddings":
            return real(model, ids, *args, progress=progress, **kwargs)  # not training's

        def after_batch(n):
            _die(point)

        return real(model, ids, *args, progress=after_batch, **kwargs)

    encode.embed_ids = embed_ids


def _plant_finetune(point: str) -> None:
    import training.finetune as finetune

    real = finetune._batches

    def batches(*args, **kwargs):
        chosen = real(*args, **kwargs)

        def one_step_then_die():
            yield chosen[0]
            _die(point)  # asked for the second batch: the first step is done

        return one_step_then_die()

    finetune._batches = batches


def _plant_save(point: str) -> None:
    import udf.artifact as artifact

    real = artifact.file_sha256

    def file_sha256(path, *args, **kwargs):
        if ".tmp-" in Path(path).parent.name:
            _die(point)
        return real(path, *args, **kwargs)

    artifact.file_sha256 = file_sha256


def _plant_record(point: str) -> None:
    import training.record as record

    real_connect = record.open_warehouse

    class Connection:
        def __init__(self, con):
            self._con = con

        def execute(self, sql, *args, **kwargs):
            if sql.lstrip().lower().startswith("insert into duckbert_models"):
                _die(point)
            return self._con.execute(sql, *args, **kwargs)

        def __getattr__(self, name):
            return getattr(self._con, name)

    def connect(db_path, read_only):
        con = real_connect(db_path, read_only)
        return con if read_only else Connection(con)

    record.open_warehouse = connect


def plant(point: str) -> None:
    if point == "encode":
        _plant_encode(point)
    elif point == "head":
        import training.head_trainer as head_trainer

        _wrap(head_trainer, "_train_mlp", lambda *a, **k: _die(point))
    elif point == "finetune":
        _plant_finetune(point)
    elif point == "save":
        _plant_save(point)
    elif point == "baselines":
        import training.baselines as baselines

        _wrap(baselines, "score_baselines", lambda *a, **k: _die(point))
    elif point == "record":
        _plant_record(point)
    elif point == "raise-peers":
        import training.peers as peers

        peers.compare_peers = _raise(point)
    elif point == "raise-precision":
        import training.precision as precision

        precision.decision_check = _raise(point)
    elif point == "raise-baselines":
        import training.baselines as baselines

        baselines.score_baselines = _raise(point)
    elif point != "none":
        raise SystemExit(f"unknown kill point {point!r}")


if __name__ == "__main__":
    plant(sys.argv[1])
    from duckbert.cli import main

    main(sys.argv[2:], prog_name="duckbert")
