"""`score_dataset`: resolve the model, check input and output, run an engine, commit."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from duckbert.distributed import output as out
from duckbert.distributed.inputs import InputError, check_columns, expand_input, open_dataset

ENGINES = ("local", "ray")
DEFAULT_BATCH_SIZE = 4096
DEFAULT_ROWS_PER_FILE = 250_000


class DistributedScoringError(RuntimeError):
    """Scoring finished but its output failed a check, so nothing was committed."""


def resolve_model_dir(model: str | None = None, db_path: str | None = None) -> str:
    """Artifact directory for `model` the way `udf.resolve` does it for SQL.

    A directory holding duckbert.json is used directly. Otherwise names (name, name@version,
    version) and the default (the warehouse's current model, else DUCKBERT_MODEL) come from
    `db_path`'s duckbert_models table, opened read-only for a moment.
    """
    import duckdb

    from udf.connect import connect_warehouse
    from udf.resolve import resolve_binding

    if model is not None and (Path(model).expanduser() / "duckbert.json").is_file():
        return str(Path(model).expanduser().resolve())
    have_db = db_path is not None and Path(db_path).exists()
    con = connect_warehouse(db_path, read_only=True) if have_db else duckdb.connect(":memory:")
    try:
        return resolve_binding(con, model).default_dir()
    except LookupError as exc:
        if db_path is not None and not have_db:
            raise LookupError(f"{exc} (warehouse {db_path} does not exist, so no model names "
                              "could be looked up; pass a model directory)") from exc
        raise
    finally:
        con.close()


def score_dataset(input_glob, output_dir, model: str | None = None, *, db_path: str | None = None,
                  engine: str = "local", address: str | None = None,
                  num_gpus_per_worker: float | None = None, concurrency: int | None = None,
                  cpus_per_worker: float = 1.0, batch_size: int = DEFAULT_BATCH_SIZE,
                  text_col: str = "session_text", id_col: str = "session_id",
                  overwrite: bool = False, rows_per_file: int = DEFAULT_ROWS_PER_FILE,
                  num_cpus: int | None = None, object_store_mb: int | None = None,
                  block_mb: float | None = None, device: str | None = None,
                  precision: str | None = None, progress: bool = False) -> dict:
    """Score every row of the Parquet input into Parquet files in `output_dir`.

    engine="local" streams through one Scorer in this process; engine="ray" runs a Ray Data
    actor pool (`concurrency` actors, `num_gpus_per_worker` GPUs each; None = one GPU per
    actor where the cluster has GPUs, else CPU actors). `address=None` starts a local Ray
    with `num_cpus` CPUs and a small object store; "auto" or "ray://..." joins a cluster,
    whose workers must see `model`'s directory and `output_dir` at the same paths.
    `block_mb` sets Ray's block size (smaller: more parallel tasks, less object store).
    The output appears only when complete and row-count checked; a failure leaves none.
    Returns a summary: rows, null_scores, rows_per_s, model_version, files, ...
    """
    from udf.artifact import read_meta

    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}: use one of {', '.join(ENGINES)}")
    if engine == "local":
        given = [name for name, value in (("address", address), ("concurrency", concurrency))
                 if value is not None]
        if given or num_gpus_per_worker:
            raise ValueError(f"{', '.join(given) or 'num_gpus_per_worker'} applies to "
                             "engine='ray' only")
    if batch_size < 1 or rows_per_file < 1:
        raise ValueError("batch_size and rows_per_file must be at least 1")
    started = time.perf_counter()
    files = expand_input(input_glob)
    dataset = open_dataset(files)
    check_columns(dataset.schema, id_col, text_col)
    input_rows = dataset.count_rows()
    target = out.check_output_dir(output_dir, overwrite)
    model_dir = resolve_model_dir(model, db_path)
    meta = read_meta(model_dir)
    version = meta["version"]
    scored_at = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)

    staging = out.new_staging(target)
    try:
        scoring_started = time.perf_counter()
        common = dict(id_col=id_col, text_col=text_col, batch_size=batch_size,
                      rows_per_file=rows_per_file, precision=precision)
        if engine == "local":
            from duckbert.distributed.local import run_local

            details = run_local(dataset, staging, model_dir, version, scored_at,
                                device=device, **common)
        else:
            from duckbert.distributed.ray_engine import (
                DEFAULT_BLOCK_MB,
                LOCAL_OBJECT_STORE_MB,
                run_ray,
            )

            details = run_ray(files, staging, model_dir, version, scored_at,
                              address=address, num_gpus_per_worker=num_gpus_per_worker,
                              concurrency=concurrency, cpus_per_worker=cpus_per_worker,
                              num_cpus=num_cpus,
                              object_store_mb=object_store_mb or LOCAL_OBJECT_STORE_MB,
                              block_mb=block_mb or DEFAULT_BLOCK_MB, progress=progress,
                              **common)
        scoring_s = details.pop("pipeline_s", time.perf_counter() - scoring_started)
        if not out.parquet_files(staging):
            out.write_empty(staging, out.output_schema(dataset.schema.field(id_col)))
        rows, nulls = out.count_output(staging)
        if rows != input_rows:
            raise DistributedScoringError(
                f"scored {rows} rows but the input has {input_rows}; nothing was written"
            )
        summary = {
            "engine": engine, "input": str(input_glob), "input_files": len(files),
            "output_dir": str(target),
            "rows": rows, "null_scores": nulls, "model_name": meta["name"],
            "model_version": version, "model_dir": model_dir, "scored_at": scored_at,
            "scoring_s": round(scoring_s, 3),
            "rows_per_s": round(rows / scoring_s, 1) if scoring_s > 0 else None,
            "files": [str(p.relative_to(staging)) for p in out.parquet_files(staging)],
            **details,
        }
        out.write_manifest(staging, summary)
        out.commit(staging, target, overwrite)
    except BaseException:
        out.discard(staging)
        raise
    summary["total_s"] = round(time.perf_counter() - started, 3)
    return summary


__all__ = ["DistributedScoringError", "InputError", "resolve_model_dir", "score_dataset"]
