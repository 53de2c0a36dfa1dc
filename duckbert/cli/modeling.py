"""Model commands: train, evaluate and label (the feedback loop's write side)."""

import click

from duckbert.cli.common import db_option, run_clearly
from training.config import MODES, RECIPES

SKIPPED_STEPS_EXIT = 3  # the model is saved and recorded; an optional step was skipped


@click.command()
@db_option
@click.option("--table", default="training_sessions", show_default=True,
              help="Labelled table to train on: [database.][schema.]table; a bare name "
                   "outside the default schema is found in the schema that holds it (a dbt "
                   "project's target schema).")
@click.option("--text-col", default="session_text", show_default=True,
              help="Column with the session text.")
@click.option("--label-col", default="is_anomaly", show_default=True,
              help="Boolean or 0/1 label column (NULL = unlabelled).")
@click.option("--base-model", default=None,
              help="Pre-trained encoder: a local directory or hub name "
                   "[default: packaged all-MiniLM-L6-v2].")
@click.option("--mode", type=click.Choice(MODES),
              default="auto", show_default=True,
              help="head: frozen encoder + trained head; top: fine-tune the top layers on "
                   "cached lower-layer states; full/lora: fine-tune every layer; "
                   "unsupervised: kNN distance, no labels needed; auto: the best whose "
                   "estimate fits --time-budget (fine-tuned only if it beats the head on "
                   "validation).")
@click.option("--top-layers", type=click.IntRange(min=1), default=2, show_default=True,
              help="Layers that --mode top (or auto choosing it) fine-tunes.")
@click.option("--time-budget", type=click.FloatRange(min=1), default=10.0, show_default=True,
              help="Minutes that --mode auto may plan for (explicit modes ignore it).")
@click.option("--epochs", type=click.IntRange(min=1), default=None,
              help="Most epochs of fine-tuning (top stops early on validation); explicit "
                   "--mode runs all of them [default: 3, or what fits the budget under auto].")
@click.option("--finetune-max-rows", type=click.IntRange(min=1), default=None,
              help="Fine-tune full/LoRA on a seeded sample of this many training sessions "
                   "(the head, validation and test still use every row).")
@click.option("--lexical/--no-lexical", default=None,
              help="Put the word n-gram term in the head, or leave it out "
                   "[default: validation decides].")
@click.option("--recipe", type=click.Choice(sorted(RECIPES)), default=None,
              help="A named recipe; seed: the seed document's (frozen encoder, one fully "
                   "connected layer, BCE, no lexical term). Explicit options still apply.")
@click.option("--name", default="duckbert", show_default=True,
              help="Model name (groups versions); the new version becomes the warehouse's "
                   "one current model, whatever the previous one's name.")
@click.option("--split", type=click.Choice(["user", "time"]), default="user",
              show_default=True, help="Group splits by user, or train on past, test on future.")
@click.option("--min-anomalies-for-split", type=click.IntRange(min=0), default=None,
              help="Hold out validation and test splits only from this many anomalous "
                   "labels on; fewer: choose and calibrate by cross-validation grouped by "
                   "user [default: TrainConfig's, 60].")
@click.option("--target-precision", type=click.FloatRange(0, 1, min_open=True), default=None,
              help="Threshold policy: lowest threshold reaching this validation precision.")
@click.option("--contamination", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              default=None, help="Threshold policy: flag this share of sessions.")
@click.option("--resume", is_flag=True,
              help="Warm-start from the current model with the labels that arrived since; "
                   "kept only if no worse on validation.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option("--device", default=None, help="cpu or cuda [default: best available].")
@click.option("--models-dir", default=None, type=click.Path(file_okay=False),
              help="Where artifacts go [default: models/ next to the warehouse].")
@click.option("--no-peers", is_flag=True, help="Skip the TF-IDF and gradient-boosting peers.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def train(db_path, table, text_col, label_col, base_model, mode, top_layers, time_budget,
          epochs, finetune_max_rows, lexical, recipe, name, split, min_anomalies_for_split,
          target_precision,
          contamination, resume, seed, device, models_dir, no_peers, quiet):
    """Train a model on labelled sessions from the warehouse and make it current.

    Validation decides what the model is (frozen or fine-tuned encoder, head, lexical term)
    unless options fix it; the summary says what was chosen.

    Exit status: 0 when every step ran; 3 when the model was saved and recorded but an
    optional step (peers, precision check, drift baselines) failed and was skipped (the
    summary names it and the cause); 1 on bad input or state.
    """
    from training.config import TrainConfig
    from training.summary import train_summary
    from training.trainer import train as run_training

    table = run_clearly(lambda: _locate(db_path, table))
    chosen = dict(RECIPES[recipe]) if recipe else {}
    source = click.get_current_context().get_parameter_source
    if source("mode") == click.core.ParameterSource.COMMANDLINE or "mode" not in chosen:
        chosen["mode"] = mode
    if lexical is not None:
        chosen["lexical"] = lexical
    cfg = _config(TrainConfig, db_path=db_path, table=table, text_col=text_col,
                  label_col=label_col, base_model=base_model, **chosen,
                  top_layers=top_layers, time_budget_s=time_budget * 60, epochs=epochs,
                  finetune_max_rows=finetune_max_rows, name=name, split=split,
                  **({} if min_anomalies_for_split is None else
                     {"min_anomalies_for_split": min_anomalies_for_split}),
                  target_precision=target_precision, contamination=contamination,
                  resume=resume, seed=seed, device=device, models_dir=models_dir,
                  compare_peers=not no_peers, progress=not quiet)
    from duckbert.label_queue import refresh_training_labels
    from duckbert.writer_lock import writer_turn

    with writer_turn(db_path):  # the review queue waits for the run (docs/BI.md)
        if table == "training_sessions":  # duckbert's own build: labels made since count too
            run_clearly(lambda: refresh_training_labels(db_path, click.echo))
        result = run_clearly(lambda: run_training(cfg, log=click.echo))
    click.echo(train_summary(result))
    if result.skipped:
        raise SystemExit(SKIPPED_STEPS_EXIT)


@click.command()
@db_option
@click.option("--model", default=None,
              help="Model name, name@version or directory [default: the current model].")
@click.option("--table", default="training_sessions", show_default=True,
              help="Labelled table to evaluate on.")
@click.option("--text-col", default="session_text", show_default=True,
              help="Column with the session text.")
@click.option("--label-col", default="is_anomaly", show_default=True,
              help="Boolean or 0/1 label column.")
@click.option("--split", "split_name", type=click.Choice(["all", "val", "test"]),
              default="all", show_default=True,
              help="Every labelled row, or the model's own validation/test split.")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
def evaluate(db_path, model, table, text_col, label_col, split_name, as_json):
    """Re-evaluate a saved model on a labelled table."""
    import json

    from training.config import TrainConfig
    from training.evaluate import evaluate_model
    from training.summary import metrics_block

    table = run_clearly(lambda: _locate(db_path, table))
    cfg = _config(TrainConfig, db_path=db_path, table=table, text_col=text_col,
                  label_col=label_col, progress=False)
    metrics = run_clearly(lambda: evaluate_model(cfg, model,
                                          None if split_name == "all" else split_name))
    if as_json:
        click.echo(json.dumps(metrics, indent=2))
    else:
        click.echo("\n".join(metrics_block(metrics, f"{metrics['model']} on {table} "
                                                    f"({metrics['rows']})")))


@click.command()
@db_option
@click.argument("session_ids", nargs=-1, required=True)
@click.option("--anomaly/--normal", "is_anomaly", required=True,
              help="The analyst's verdict for these sessions.")
@click.option("--note", default=None, help="Free text kept with the label.")
@click.option("--family", default=None, help="Anomaly family, e.g. card_testing.")
@click.option("--source", default="analyst", show_default=True,
              help="Who labelled (label_source).")
def label(db_path, session_ids, is_anomaly, note, family, source):
    """Record a verdict on flagged sessions; `train --resume` learns from it."""
    from duckbert.labels import add_labels
    from duckbert.writer_lock import writer_turn
    from udf.connect import connect_warehouse

    def write():
        with writer_turn(db_path):
            con = connect_warehouse(db_path, must_exist=True)
            try:
                return add_labels(con, list(session_ids), is_anomaly, note=note,
                                  family=family, source=source)
            finally:
                con.close()

    n = run_clearly(write)
    verdict = "anomalous" if is_anomaly else "normal"
    click.echo(f"labelled {n} session(s) {verdict}. Next: duckbert build --db {db_path} && "
               f"duckbert train --db {db_path} --resume && duckbert build --db {db_path}")


def _locate(db_path: str, table: str) -> str:
    """The labelled table wherever it lives (training/labelled.py locate_table)."""
    from pathlib import Path

    from training.labelled import locate_table, open_warehouse

    if not Path(db_path).exists():
        return table  # training names the missing warehouse
    con = open_warehouse(db_path, read_only=True)
    try:
        return locate_table(con, table)
    finally:
        con.close()


def _config(cls, **kwargs):
    try:
        return cls(**kwargs)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc


COMMANDS = [train, evaluate, label]
