"""Batch scoring command: score a Parquet export locally or on a Ray cluster."""

import click
from click.core import ParameterSource

from duckbert.cli.common import clear_errors, db_option

RAY_ONLY = ("address", "num_gpus_per_worker", "concurrency", "cpus_per_worker", "num_cpus",
            "block_mb")


@click.command("score-dataset")
@click.option("--input", "input_glob", required=True, metavar="PARQUET_GLOB",
              help="Parquet file, directory or glob (quote globs) with the id and text "
                   "columns, e.g. an export of the sessions mart; s3:// etc. URIs pass "
                   "through to pyarrow/Ray.")
@click.option("--output", "output_dir", required=True, type=click.Path(file_okay=False),
              help="Directory for the scored Parquet files; appears only when complete.")
@click.option("--model", default=None,
              help="Model directory, or a name / name@version / version known to the "
                   "warehouse [default: the warehouse's current model, else DUCKBERT_MODEL].")
@db_option
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local",
              show_default=True,
              help="local: stream through one scorer in this process; ray: a Ray Data actor "
                   "pool, one model load per actor.")
@click.option("--address", default=None, envvar="RAY_ADDRESS",
              help="Ray cluster to join: auto, host:6379 or ray://host:10001 (env "
                   "RAY_ADDRESS) [default: start a local Ray on this machine].")
@click.option("--num-gpus-per-worker", type=click.FloatRange(min=0), default=None,
              help="GPUs per Ray actor (a fraction shares a GPU); 0 = CPU actors "
                   "[default: 1 where the cluster has GPUs, else 0].")
@click.option("--concurrency", type=click.IntRange(min=1), default=None,
              help="Ray actors, i.e. model copies [default: one per GPU, or as many CPU "
                   "actors as fit while leaving one CPU for Parquet reads/writes].")
@click.option("--cpus-per-worker", type=click.FloatRange(min=0, min_open=True), default=1.0,
              show_default=True, help="CPUs (and torch threads) per CPU actor.")
@click.option("--num-cpus", type=click.IntRange(min=1), default=None,
              help="CPUs of the local Ray started without --address [default: all].")
@click.option("--block-mb", type=click.FloatRange(min=0, min_open=True), default=8.0,
              show_default=True,
              help="Ray block size in MiB: smaller gives more parallel tasks and less "
                   "object store per block.")
@click.option("--batch-size", type=click.IntRange(min=1), default=4096, show_default=True,
              help="Rows handed to the scorer per call (it sub-batches by token length).")
@click.option("--rows-per-file", type=click.IntRange(min=1), default=250_000,
              show_default=True, help="Target rows per output Parquet file.")
@click.option("--id-col", default="session_id", show_default=True,
              help="Input column identifying a row; copied to the output.")
@click.option("--text-col", default="session_text", show_default=True,
              help="Input column with the session text to score.")
@click.option("--overwrite", is_flag=True,
              help="Replace a non-empty output directory (only once the new output is "
                   "complete).")
@click.option("--progress", is_flag=True, help="Show Ray Data progress bars.")
def score_dataset(input_glob, output_dir, model, db_path, engine, address, num_gpus_per_worker,
                  concurrency, cpus_per_worker, num_cpus, block_mb, batch_size, rows_per_file,
                  id_col, text_col, overwrite, progress):
    """Score a Parquet export of sessions into Parquet, on this machine or a Ray cluster.

    Output columns: the id column, anomaly_score (DOUBLE, NULL for NULL text),
    model_version, scored_at and text_hash (md5 of the text); dbt reads them back and
    merges them into session_scores (docs/DISTRIBUTED.md).
    """
    from duckbert.distributed import score_dataset as run

    if engine == "local":
        ctx = click.get_current_context()
        given = [f"--{name.replace('_', '-')}" for name in RAY_ONLY
                 if ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE]
        if given:
            raise click.UsageError(f"{', '.join(given)} only apply to --engine ray")
        address = num_gpus_per_worker = concurrency = num_cpus = None  # RAY_ADDRESS ignored
        block_mb = None
    with clear_errors(ImportError):  # Ray missing: the message says how to install it
        summary = run(input_glob, output_dir, model, db_path=db_path, engine=engine,
                      address=address, num_gpus_per_worker=num_gpus_per_worker,
                      concurrency=concurrency, cpus_per_worker=cpus_per_worker,
                      num_cpus=num_cpus, block_mb=block_mb, batch_size=batch_size,
                      rows_per_file=rows_per_file,
                      id_col=id_col, text_col=text_col, overwrite=overwrite, progress=progress)
    rate = summary["rows_per_s"]
    where = (f"{summary['workers']} {summary['device']} worker(s)" if engine == "ray"
             else f"{summary['device']}, {summary['precision']}")
    click.echo(f"scored {summary['rows']:,} rows ({summary['null_scores']:,} NULL texts) "
               f"with {summary['model_name']}@{summary['model_version']} on {engine} ({where})")
    click.echo(f"{rate:,.0f} rows/s over {summary['scoring_s']:.1f} s scoring "
               f"({summary['total_s']:.1f} s in all)" if rate else
               f"{summary['total_s']:.1f} s in all")
    click.echo(f"output: {summary['output_dir']} ({len(summary['files'])} Parquet file(s))")


COMMANDS = [score_dataset]
