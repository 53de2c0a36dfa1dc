"""Options and helpers shared by several CLI command modules."""

import click

db_option = click.option(
    "--db",
    "db_path",
    default="warehouse/duckbert.duckdb",
    show_default=True,
    envvar="DUCKBERT_DB",
    type=click.Path(dir_okay=False),
    help="DuckDB warehouse file (env DUCKBERT_DB).",
)
