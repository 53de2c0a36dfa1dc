"""engine="ray": Ray Data read_parquet -> map_batches (actor pool) -> write_parquet.

Each actor loads the model once (`ScoreWorker.__init__`) and scores the pyarrow batches Ray
hands it with the same `Scorer` and `score_table` as the local engine, so the two engines
and the SQL function agree. Actors take a GPU each (or a fraction) where the cluster has
GPUs, else `cpus_per_worker` CPUs. One CPU is always left to the Parquet read/write tasks:
on a small cluster an actor pool holding every CPU would starve them and never finish.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
import warnings
from pathlib import Path

from duckbert.distributed.output import score_table

LOCAL_OBJECT_STORE_MB = 200
IO_CPUS = 1  # left free for read/write tasks
# Ray's default 128 MiB blocks would put a whole 1 GB export in ~8 tasks (8 busy actors at
# most) and fill a small object store with one block; a few MiB of text is thousands of
# sessions per task, plenty to amortize the per-task overhead.
DEFAULT_BLOCK_MB = 8.0
WORKER_SETUP_HOOK = "duckbert.distributed.ray_engine.prepare_process"


def prepare_process() -> None:
    """Settle, once, whether fsspec's HTTP filesystem imports, before Ray Data's threads ask.

    Ray Data 2.60 resolves input paths on several threads (on the driver and in its
    ListFiles task), each running `from fsspec.implementations.http import HTTPFileSystem`
    and treating ModuleNotFoundError as "no HTTP". Without aiohttp that import fails, and
    threads racing through the failing import get a plain ImportError ("cannot import name
    'HTTPFileSystem'") that aborts the read (seen here on most runs with an 8-file input).
    A None entry in sys.modules makes every later attempt a clean ModuleNotFoundError.
    Runs on the driver and, as a worker setup hook, in every Ray worker.
    """
    import sys

    try:
        import fsspec.implementations.http  # noqa: F401
    except ImportError:
        sys.modules.setdefault("fsspec.implementations.http", None)


class ScoreWorker:
    """A Ray Data actor: one model load, then `__call__` per pyarrow batch."""

    def __init__(self, model_dir: str, version: str, scored_at, id_col: str, text_col: str,
                 device: str, precision: str | None, threads: int):
        import socket

        if not Path(model_dir, "duckbert.json").is_file():
            raise FileNotFoundError(
                f"model directory {model_dir} is not visible on Ray node "
                f"{socket.gethostname()}: keep the model where every worker mounts it at the "
                "same path (NFS/EFS/Filestore, a mounted bucket) or bake it into the image"
            )
        if device == "cpu":
            import torch

            torch.set_num_threads(threads)
        from udf.scorer import get_scorer

        self.scorer = get_scorer(model_dir, device=device, precision=precision)
        if self.scorer.version != version:
            raise RuntimeError(
                f"worker on {socket.gethostname()} loaded version {self.scorer.version} from "
                f"{model_dir}, the driver resolved {version}: the directory differs between "
                "nodes or changed during the run"
            )
        self.args = (id_col, text_col, version, scored_at)

    def __call__(self, batch):
        return score_table(self.scorer, batch, *self.args)


def import_ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as exc:
        raise ImportError("engine='ray' needs Ray Data: pip install 'duckbert[ray]'") from exc
    return ray


@contextlib.contextmanager
def ray_session(address: str | None, num_cpus: int | None, object_store_mb: int):
    """Join `address` ("auto", "ray://host:10001", "host:6379"), or start a small local Ray.

    An already-initialized Ray (a notebook's) is used as is and left running; a session
    started here is always shut down.
    """
    ray = import_ray()
    if ray.is_initialized():
        yield ray, False
        return
    runtime_env = {"worker_process_setup_hook": WORKER_SETUP_HOOK}
    if address is None:
        ray.init(address="local", num_cpus=num_cpus or os.cpu_count() or 1,
                 include_dashboard=False, object_store_memory=object_store_mb * 2**20,
                 logging_level=logging.WARNING, runtime_env=runtime_env)
    else:
        ray.init(address=address, logging_level=logging.WARNING, runtime_env=runtime_env)
    try:
        yield ray, address is None
    finally:
        ray.shutdown()


def plan_workers(resources: dict, *, concurrency: int | None, num_gpus_per_worker: float | None,
                 cpus_per_worker: float, own_cluster: bool) -> dict:
    """Actor count, per-actor resources and device from the cluster's resources."""
    cpus = float(resources.get("CPU", 0))
    gpus = float(resources.get("GPU", 0))
    if num_gpus_per_worker is None:
        num_gpus_per_worker = 1.0 if gpus >= 1 else 0.0
    if num_gpus_per_worker < 0 or cpus_per_worker <= 0:
        raise ValueError("GPUs per worker must be >= 0 and CPUs per worker > 0")
    if num_gpus_per_worker > 0:
        if gpus == 0 and own_cluster:
            raise ValueError(f"{num_gpus_per_worker:g} GPU(s) per worker requested, but the "
                             "local Ray cluster has no GPU; use --num-gpus-per-worker 0")
        actor_cpus, device = 1.0, "cuda"
        default = int(gpus // num_gpus_per_worker) if gpus else 1
    else:
        actor_cpus, device = float(cpus_per_worker), "cpu"
        default = int((cpus - IO_CPUS) // actor_cpus)
    workers = int(concurrency) if concurrency is not None else max(1, default)
    if workers < 1:
        raise ValueError("concurrency must be at least 1")
    need = workers * actor_cpus + IO_CPUS
    if need > cpus:
        message = (f"{workers} worker(s) x {actor_cpus:g} CPU plus {IO_CPUS} CPU for Parquet "
                   f"reads/writes need {need:g} CPUs; the cluster has {cpus:g}, so the "
                   "pipeline would wait forever: lower --concurrency or --cpus-per-worker")
        if own_cluster:
            raise ValueError(message)
        warnings.warn(message + " (continuing: an autoscaler may add nodes)", stacklevel=3)
    return {"workers": workers, "num_cpus": actor_cpus, "num_gpus": float(num_gpus_per_worker),
            "device": device, "threads": max(1, round(actor_cpus))}


def _write_kwargs(ray, rows_per_file: int) -> dict:
    params = inspect.signature(ray.data.Dataset.write_parquet).parameters
    key = "min_rows_per_file" if "min_rows_per_file" in params else "num_rows_per_file"
    return {key: rows_per_file} if key in params else {}


def run_ray(files: list[str], staging: Path, model_dir: str, version: str, scored_at, *,
            id_col: str, text_col: str, batch_size: int, rows_per_file: int,
            address: str | None, num_gpus_per_worker: float | None, concurrency: int | None,
            cpus_per_worker: float, num_cpus: int | None, object_store_mb: int,
            precision: str | None, progress: bool,
            block_mb: float = DEFAULT_BLOCK_MB) -> dict:
    """Score `files` into Parquet under `staging` with a Ray Data actor pool."""
    import time

    started = time.perf_counter()
    with ray_session(address, num_cpus, object_store_mb) as (ray, own_cluster):
        setup_s = time.perf_counter() - started
        plan = plan_workers(ray.cluster_resources(), concurrency=concurrency,
                            num_gpus_per_worker=num_gpus_per_worker,
                            cpus_per_worker=cpus_per_worker, own_cluster=own_cluster)
        context = ray.data.DataContext.get_current()
        saved = context.enable_progress_bars, context.target_max_block_size
        context.enable_progress_bars = progress
        context.target_max_block_size = int(block_mb * 2**20)
        try:
            prepare_process()
            source = files[0] if len(files) == 1 and "://" in files[0] else files
            dataset = ray.data.read_parquet(source).select_columns([id_col, text_col])
            scored = dataset.map_batches(
                ScoreWorker,
                fn_constructor_kwargs={
                    "model_dir": model_dir, "version": version, "scored_at": scored_at,
                    "id_col": id_col, "text_col": text_col, "device": plan["device"],
                    "precision": precision, "threads": plan["threads"],
                },
                batch_size=batch_size,
                batch_format="pyarrow",
                compute=ray.data.ActorPoolStrategy(size=plan["workers"]),
                num_cpus=plan["num_cpus"],
                num_gpus=plan["num_gpus"] or None,
            )
            scored.write_parquet(str(staging), **_write_kwargs(ray, rows_per_file))
        finally:
            context.enable_progress_bars, context.target_max_block_size = saved
        pipeline_s = time.perf_counter() - started - setup_s
    return {"workers": plan["workers"], "device": plan["device"], "precision": precision,
            "ray_setup_s": round(setup_s, 3), "pipeline_s": pipeline_s,
            "num_gpus_per_worker": plan["num_gpus"], "cpus_per_worker": plan["num_cpus"]}
