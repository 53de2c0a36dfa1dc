"""Benchmark commands: `duckbert bench speed`, `duckbert bench quality` and `duckbert bench gpu`."""

import shlex
import sys

import click

from duckbert.benchmarks.quality import DEFAULT_MODES as DEFAULT_QUALITY_MODES
from duckbert.benchmarks.quality import ROWS as QUALITY_ROWS
from training.config import MODES


def _command() -> str:
    """The command line as typed, for the docs (`duckbert bench ...`)."""
    return "duckbert " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def output_options(name: str):
    """--out, --docs, --no-docs and --work-dir, shared by every benchmark."""
    options = [
        click.option("--out", "out_path", default=None, type=click.Path(dir_okay=False),
                     help=f"JSON results file [default: {name}.json in the work dir]."),
        click.option("--docs", "docs_path", default="docs/BENCHMARKS.md", show_default=True,
                     type=click.Path(dir_okay=False),
                     help=f"Markdown file whose {name} block is rewritten."),
        click.option("--no-docs", is_flag=True, help="Do not touch the docs file."),
        click.option("--work-dir", default=None, type=click.Path(file_okay=False),
                     help="Where the warehouse, models and logs go [default: a new temp "
                          "dir]."),
    ]

    def decorate(command):
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


@click.group("bench")
def bench():
    """Measure duckbert on this machine: tables printed, JSON written, docs/BENCHMARKS.md."""


@bench.command("speed")
@click.option("--sessions", type=click.IntRange(min=1), default=2000, show_default=True,
              help="Sessions in the generated warehouse (with --db: use the first N; with "
                   "--text-tokens: how many fixed-length texts to build).")
@click.option("--db", "db_path", default=None, type=click.Path(dir_okay=False, exists=True),
              help="Use this warehouse's sessions (read only; the rebuild runs on a copy) "
                   "instead of generating one.")
@click.option("--model", default=None, type=click.Path(file_okay=False, exists=True),
              help="Model artifact directory [default: the packaged all-MiniLM-L6-v2 with an "
                   "untrained classifier head, precision check measured].")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto",
              show_default=True, help="Where to score (auto: CUDA when present).")
@click.option("--precision", type=click.Choice(["auto", "fp32", "bf16", "fp16", "int8"]),
              default="auto", show_default=True,
              help="The runtime precision measured next to fp32 (auto: the runtime's choice).")
@click.option("--sample", type=click.IntRange(min=0), default=256, show_default=True,
              help="Texts in the throughput comparison, spread over the sessions (0: all).")
@click.option("--rounds", type=click.IntRange(min=1), default=3, show_default=True,
              help="Interleaved rounds of the throughput comparison (medians reported).")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True,
              help="Batch size of the plain transformers forward pass.")
@click.option("--naive-rows", type=click.IntRange(min=1), default=32, show_default=True,
              help="Rows for the naive row-at-a-time pipeline UDF.")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="torch intra-op threads for every measurement [default: torch's].")
@click.option("--text-tokens", type=click.IntRange(min=8), default=None,
              help="Score synthetic texts of about this many tokens, recombined from real "
                   "session events (e.g. 128 for the GPU check).")
@click.option("--skip-rebuild", is_flag=True, help="Leave out the dbt rebuild comparison.")
@click.option("--million", is_flag=True,
              help="Also measure peak RSS while scoring 1,000,000 rows (tiny model, "
                   "subprocesses).")
@click.option("--million-rows", type=click.IntRange(min=1000), default=1_000_000,
              show_default=True, help="Rows of the --million run.")
@output_options("speed")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the generated warehouse and the samples.")
def speed(sessions, db_path, model, device, precision, sample, rounds, batch_size, naive_rows,
          threads, text_tokens, skip_rebuild, million, million_rows, out_path, docs_path,
          no_docs, work_dir, seed):
    """Throughput of anomaly_score in SQL against the model's own limit, and more.

    rows/s and tokens/s of `select anomaly_score(session_text) from sessions` against a plain
    batched transformers forward pass (fp32) on the same texts and model; the runtime
    precision, dedup, cache and embedding store; a naive pipeline UDF; model FLOP
    utilisation against the measured matmul peak; an incremental dbt rebuild after 1% new
    sessions against a full one; with --million, peak memory over 1,000,000 rows.
    """
    from duckbert.benchmarks.speed import SpeedConfig, run_speed, write_json
    from duckbert.benchmarks.speed_report import format_table, write_docs

    cfg = SpeedConfig(
        sessions=sessions, db=db_path, model=model,
        device=None if device == "auto" else device, precision=precision, sample=sample,
        rounds=rounds, batch_size=batch_size, naive_rows=naive_rows, threads=threads,
        text_tokens=text_tokens, rebuild=not skip_rebuild, million=million,
        million_rows=million_rows, out=out_path, docs=None if no_docs else docs_path,
        work_dir=work_dir, seed=seed, command=_command(),
    )
    result = run_speed(cfg, log=click.echo)
    click.echo("")
    click.echo(format_table(result))
    out_path = out_path or f"{result['work_dir']}/speed.json"
    click.echo(f"\nJSON: {write_json(result, out_path)}")
    if not no_docs:
        click.echo(f"docs: {write_docs(result, docs_path)} (Speed section)")


def _fractions(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v.strip().rstrip("%")) / (100 if v.strip().endswith("%") else 1)
                       for v in text.split(",") if v.strip())
    except ValueError as exc:
        raise click.BadParameter(f"{text!r}: give shares such as 0.02,0.1,1 or 2%,10%,100%",
                                 param_hint="--fractions") from exc
    if not values or any(not 0 < v <= 1 for v in values):
        raise click.BadParameter(f"{text!r}: every share must be in (0, 1]",
                                 param_hint="--fractions")
    return values


@bench.command("runtime")
@click.option("--db", "db_path", default="warehouse/duckbert.duckdb", show_default=True,
              type=click.Path(dir_okay=False, exists=True),
              help="A trained warehouse (after `duckbert demo` or train + build).")
@click.option("--rows", type=click.IntRange(min=8), default=512, show_default=True,
              help="Distinct session texts measured.")
@click.option("--naive-rows", type=click.IntRange(min=1), default=32, show_default=True,
              help="Rows the naive row-at-a-time pipeline UDF scores (it is slow).")
@click.option("--explain-rows", type=click.IntRange(min=0), default=32, show_default=True,
              help="Flagged sessions whose explanation (occlusion) cost is measured.")
@output_options("runtime")
def runtime(db_path, rows, naive_rows, explain_rows, out_path, docs_path, no_docs, work_dir):
    """The serving runtime at its defaults against the strongest plain baseline.

    Plain fp32 torch (length-sorted batches of 64), anomaly_score at the runtime's defaults
    and pinned to torch fp32 (flag agreement), the naive row UDF, score-store and cache
    lookups (rows/s), and the cost of explanations; one run, the same texts.
    """
    import json
    from pathlib import Path

    from duckbert.benchmarks.speed_runtime import run_runtime, write_docs

    result = run_runtime(db_path, rows=rows, naive_rows=naive_rows, explain_rows=explain_rows,
                         log=click.echo)
    target = Path(out_path or Path(work_dir or ".") / "runtime.json")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(result, indent=2, default=str))
    click.echo(f"results: {target}")
    if not no_docs:
        click.echo(f"docs: {write_docs(result, docs_path, _command())}")


@bench.command("quality")
@click.option("--rows", default=",".join(QUALITY_ROWS), show_default=True,
              help="Comma-separated rows: " + "; ".join(f"{k} {v}" for k, v in
                                                       QUALITY_ROWS.items()) + ".")
@click.option("--users", type=click.IntRange(min=50), default=1500, show_default=True,
              help="Standard-catalogue users of the main warehouse (about 4 sessions each).")
@click.option("--shift-users", type=click.IntRange(min=20), default=500, show_default=True,
              help="Shifted-catalogue users (row c's test users).")
@click.option("--review-users", type=click.IntRange(min=50), default=1000, show_default=True,
              help="Users of row e's review warehouse (realistic long reviews, review fraud "
                   "only).")
@click.option("--fractions", default="2%,5%,10%,30%,100%", show_default=True,
              help="Row b: shares of the training pool's users that are labelled.")
@click.option("--holdout-family", default="fake_review", show_default=True,
              help="Row d: the abuse family left out of training.")
@click.option("--test-share", type=click.FloatRange(0.05, 0.6), default=0.25,
              show_default=True, help="Share of standard users held out for testing.")
@click.option("--bootstrap", type=click.IntRange(min=10), default=1000, show_default=True,
              help="Bootstrap replicates (resampling test users) for the intervals.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the data, the split and every model.")
@click.option("--difficulty", type=click.FloatRange(0, 1), default=None,
              help="Generator difficulty [default: the generator's default].")
@click.option("--modes", default=",".join(DEFAULT_QUALITY_MODES), show_default=True,
              help="duckbert training modes besides the seed recipe (auto = what `duckbert "
                   "train` ships; add e.g. full,lora).")
@click.option("--time-budget", type=click.FloatRange(min=1), default=None,
              help="Seconds each duckbert run plans for (TrainConfig.time_budget_s) "
                   "[default: the product's].")
@click.option("--base-model", default=None,
              help="Base BERT directory [default: the packaged all-MiniLM-L6-v2].")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto",
              show_default=True, help="Where to train and score (auto: CUDA when present).")
@click.option("--no-reuse", is_flag=True,
              help="Rebuild warehouses in --work-dir even when built from the same settings.")
@output_options("quality")
def quality(rows, users, shift_users, review_users, fractions, holdout_family, test_share,
            bootstrap, seed, difficulty, modes, time_budget, base_model, device, no_reuse,
            out_path, docs_path, no_docs, work_dir):
    """duckbert against TF-IDF + LR and gradient boosting where BERT should help.

    Rows: (a) the default generator, (b) a learning curve over the share of labelled users,
    (c) catalogue shift, (d) one abuse family held out of training, (e) long realistic
    reviews (a warehouse of its own, sessions with reviews). In every row duckbert as
    `duckbert train` ships it, the seed document's recipe (frozen encoder, one fully
    connected head, no lexical term), TF-IDF + logistic regression on the same text and
    gradient boosting on the session aggregates train on the same table and are scored on
    the same test users: PR-AUC with a 95% bootstrap interval over test users, and the
    paired interval of duckbert minus the best peer.
    """
    from duckbert.benchmarks.quality import QualityRun, run_quality, save

    chosen = tuple(m.strip() for m in modes.split(",") if m.strip())
    unknown = sorted(set(chosen) - set(MODES))
    if not chosen or unknown:
        raise click.BadParameter(f"unknown mode(s) {unknown}; choose from "
                                 f"{', '.join(MODES)}", param_hint="--modes")
    try:
        run = QualityRun(users=users, shift_users=shift_users, review_users=review_users,
                         seed=seed,
                         difficulty=difficulty,
                         rows=tuple(r.strip() for r in rows.split(",") if r.strip()),
                         fractions=_fractions(fractions), holdout_family=holdout_family,
                         test_share=test_share, bootstrap=bootstrap, modes=chosen,
                         time_budget_s=time_budget, base_model=base_model,
                         device=None if device == "auto" else device, work_dir=work_dir,
                         reuse=not no_reuse)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    results = run_quality(run, log=click.echo)
    out_path = out_path or f"{results['config']['work_dir']}/quality.json"
    text = save(results, out_path, None if no_docs else docs_path, _command())
    click.echo("\n" + text)
    click.echo(f"\nJSON: {out_path}")
    if not no_docs:
        click.echo(f"docs: {docs_path} (Quality section)")


COMMANDS = [bench]


@bench.command("gpu")
@click.option("--sessions", type=click.IntRange(min=20), default=200_000, show_default=True,
              help="Sessions to generate (about; the generator makes ~3.8 per user).")
@click.option("--finetune-rows", type=click.IntRange(min=10), default=20_000, show_default=True,
              help="Labelled sessions the one fine-tuning epoch trains on.")
@click.option("--base-model", default=None,
              help="Pre-trained encoder [default: the packaged all-MiniLM-L6-v2].")
@click.option("--dry-run", is_flag=True,
              help="Every step on the CPU at tiny sizes (300 sessions): tests the check, "
                   "measures nothing, never writes the docs.")
@output_options("gpu")
@click.option("--seed", type=int, default=0, show_default=True, help="Generator seed.")
def gpu(sessions, finetune_rows, base_model, dry_run, out_path, docs_path, no_docs, work_dir,
        seed):
    """The GPU check (bench/gpu_check.sh): generate, load, build, train, score in SQL.

    Sessions/s of anomaly_score() at the approved precision against fp32 and a plain torch
    forward on the same GPU, utilisation, peak memory and flag agreement with fp32. Fails
    with the step's name when something is missing (no CUDA GPU without --dry-run).
    """
    import datetime
    import json
    import tempfile
    from pathlib import Path

    from duckbert.benchmarks.docs_block import write_block
    from duckbert.benchmarks.gpu_check import (
        GpuCheckConfig,
        GpuCheckError,
        docs_table,
        run_gpu_check,
        summary_lines,
    )

    if dry_run:
        sessions, finetune_rows = min(sessions, 300), min(finetune_rows, 64)
    work = Path(work_dir or tempfile.mkdtemp(prefix="duckbert-gpu-check-"))
    cfg = GpuCheckConfig(work_dir=work, sessions=sessions, finetune_rows=finetune_rows,
                         base_model=base_model, dry_run=dry_run, seed=seed)
    try:
        result = run_gpu_check(cfg, log=click.echo)
    except GpuCheckError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("")
    for line in summary_lines(result):
        click.echo(line)
    out = Path(out_path or work / "gpu_check.json")
    out.write_text(json.dumps(result, indent=2))
    click.echo(f"\nJSON: {out}")
    if not (dry_run or no_docs):
        date = datetime.date.today().isoformat()
        path = write_block(docs_path, "GPU", "gpu", docs_table(result, _command(), date))
        click.echo(f"docs: {path} (GPU section)")
