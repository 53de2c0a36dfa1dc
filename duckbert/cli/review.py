"""`duckbert review`: the analysts' queue of flagged sessions, as a local web page."""

import click

from duckbert.cli.common import db_option, run_clearly


@click.command()
@db_option
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; keep the loopback default unless you mean others "
                   "to reach the page (it has no login).")
@click.option("--port", type=click.IntRange(0, 65535), default=None,
              help="Port to listen on; 0 picks a free one [default: 8765, or a free one "
                   "when that is taken].")
@click.option("--source", default="analyst", show_default=True,
              help="label_source written with each verdict (e.g. your name).")
def review(db_path, host, port, source):
    """Serve the review queue: flagged sessions, reasons, timeline; label with a, n, s."""
    from duckbert.review.server import serve

    run_clearly(lambda: serve(db_path, host=host, port=port, source=source,
                              echo=click.echo), OSError)


COMMANDS = [review]
