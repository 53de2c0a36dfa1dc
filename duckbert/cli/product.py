"""Product commands: the end-to-end demo, the HTML report and Parquet export for BI tools."""

import click

from duckbert.cli.common import DEFAULT_DB, db_option, run_clearly


@click.command()
@click.option("--db", "db_path", default=DEFAULT_DB, show_default=True,
              type=click.Path(dir_okay=False), help="DuckDB warehouse file to create or reuse.")
@click.option("--users", type=click.IntRange(min=50), default=1000, show_default=True,
              help="Synthetic users to generate.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option("--retrain", is_flag=True,
              help="Train again even if the current model saw these labels.")
def demo(db_path, users, seed, retrain):
    """Run the whole job: generate, load, build, train, score, show flagged users."""
    from duckbert.demo import run_demo

    run_clearly(lambda: run_demo(db_path, users=users, seed=seed, retrain=retrain,
                                 echo=click.echo))


@click.command()
@db_option
@click.option("--out", "out_path", default="report.html", show_default=True,
              type=click.Path(dir_okay=False), help="HTML file to write.")
def report(db_path, out_path):
    """Write a self-contained HTML report of scores, flags and the current model."""
    from duckbert.report import build_report

    result = run_clearly(lambda: build_report(db_path, out_path))
    for warning in result["warnings"]:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"wrote {result['path']}: {result['scored']:,} sessions scored, "
               f"{result['flagged']:,} flagged")


@click.command()
@db_option
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Directory for the Parquet files.")
@click.option("--table", "tables", multiple=True,
              help="Table to export (repeatable) [default: the BI marts and duckbert_models].")
def export(db_path, out_dir, tables):
    """Export the BI marts as Parquet, readable by any tool and any DuckDB version."""
    from duckbert.export import DEFAULT_TABLES, export_tables

    counts = run_clearly(lambda: export_tables(db_path, out_dir, tuple(tables) or DEFAULT_TABLES))
    for table, rows in counts.items():
        click.echo(f"{table}: {rows:,} rows -> {out_dir}/{table}.parquet")


COMMANDS = [demo, report, export]
