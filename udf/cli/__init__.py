"""The `duckbert` command line: a thin click layer over the udf and training libraries.

Each submodule holds one family of commands and imports its library inside the command, so
`duckbert --help` never pays for torch or transformers.
"""

import click

from udf import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="duckbert")
def main():
    """BERT anomaly detection for e-commerce sessions, inside a DuckDB warehouse."""


def _add_commands():
    from udf.cli import warehouse

    for module in (warehouse,):
        for command in module.COMMANDS:
            main.add_command(command)


_add_commands()
