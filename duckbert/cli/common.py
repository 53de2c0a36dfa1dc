"""Options and helpers shared by several CLI command modules.

The one place that knows the default warehouse path, which library errors are a user's
problem (printed as one line, exit status 1) and how a command opens the warehouse.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import click

DEFAULT_DB = "warehouse/duckbert.duckdb"

db_option = click.option(
    "--db",
    "db_path",
    default=DEFAULT_DB,
    show_default=True,
    envvar="DUCKBERT_DB",
    type=click.Path(dir_okay=False),
    help="DuckDB warehouse file (env DUCKBERT_DB).",
)
model_option = click.option(
    "--model", "model", default=None, metavar="MODEL",
    help="Default model for anomaly_score(): a model directory, name, name@version or "
         "version [default: the warehouse's current model, else env DUCKBERT_MODEL].",
)


def user_errors() -> tuple[type[BaseException], ...]:
    """Library exceptions that describe bad input or state, not a bug in duckbert.

    Each library raises these with a message that names the problem and its fix; the CLI
    prints that message and exits 1 instead of showing a traceback.
    """
    import duckdb

    from duckbert.demo import DemoError
    from duckbert.distributed.api import DistributedScoringError
    from duckbert.loader import LoadError
    from udf.connect import WarehouseLockedError

    return (ValueError, LookupError, FileNotFoundError, WarehouseLockedError, LoadError,
            DemoError, DistributedScoringError, duckdb.Error)


@contextlib.contextmanager
def clear_errors(*extra: type[BaseException]):
    """Turn the expected failures of a library call into one clear line and exit status 1."""
    try:
        yield
    except click.ClickException:
        raise
    except (*user_errors(), *extra) as exc:
        raise click.ClickException(str(exc)) from exc


def run_clearly(fn, *extra: type[BaseException]):
    """`fn()` under `clear_errors`: its value, or one line and exit status 1."""
    with clear_errors(*extra):
        return fn()


def open_warehouse(db_path: str, read_only: bool = False):
    """The warehouse connection for a query command (a new file is created and announced)."""
    if db_path != ":memory:" and read_only and not Path(db_path).exists():
        raise click.ClickException(f"warehouse {db_path} does not exist (--read-only cannot "
                                   "create it)")
    import duckdb

    from udf.connect import WarehouseLockedError, connect_warehouse

    created = db_path != ":memory:" and not Path(db_path).exists()
    try:
        con = connect_warehouse(db_path, read_only=read_only)
    except WarehouseLockedError as exc:
        raise click.ClickException(str(exc)) from exc
    except duckdb.Error as exc:
        raise click.ClickException(f"cannot open {db_path}: {exc}") from exc
    if created:
        click.echo(f"note: created a new, empty database {db_path}", err=True)
    return con


def register_functions(con, model: str | None):
    """Put the duckbert SQL functions on `con`; an unknown --model is one clear line."""
    import udf

    with clear_errors():
        return udf.register(con, model=model)
