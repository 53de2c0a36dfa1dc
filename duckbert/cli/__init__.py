"""The `duckbert` command line: a thin click layer over the udf and training libraries.

Each submodule holds one family of commands and imports its library inside the command, so
`duckbert --help` never pays for torch or transformers.
"""

import importlib

import click

from duckbert import __version__

# One module per family of commands; each exposes COMMANDS, a list of click commands.
COMMAND_MODULES = (
    "generate", "warehouse", "query", "shell", "modeling", "product", "distributed", "bench",
    "review",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="duckbert")
def main():
    """BERT anomaly detection for e-commerce sessions, inside a DuckDB warehouse."""


for _name in COMMAND_MODULES:
    for _command in importlib.import_module(f"duckbert.cli.{_name}").COMMANDS:
        main.add_command(_command)
