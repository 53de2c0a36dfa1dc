"""Every message names flags that exist: each `--flag` in a string of duckbert/, training/
or udf/ is an option of some `duckbert` command, or of the outside tool it is passed to."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import click

from duckbert.cli import main

REPO = Path(__file__).resolve().parents[3]
FLAG = re.compile(r"(?<![\w-])--([a-z][a-z0-9]*(?:-[a-z0-9]+)*)")
# flags of the tools duckbert runs, not its own
OUTSIDE = {
    "vars", "select", "exclude", "full-refresh", "project-dir", "profiles-dir", "target-path",
    "log-path", "no-use-colors", "threads",           # dbt
    "address", "num-cpus", "num-gpus",                # ray start
    "query-gpu", "format", "id",                      # nvidia-smi
    "texts",                 # the argparse child of duckbert.benchmarks.speed_memory
    "help",
}


def duckbert_options(command: click.Command, out: set[str]) -> set[str]:
    for param in command.params:
        for opt in (*param.opts, *param.secondary_opts):
            if opt.startswith("--"):
                out.add(opt[2:])
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            duckbert_options(sub, out)
    return out


def strings(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value


def test_every_flag_named_in_a_message_exists():
    known = duckbert_options(main, set()) | OUTSIDE
    missing = []
    for package in ("duckbert", "training", "udf"):
        for path in sorted((REPO / package).rglob("*.py")):
            for line, text in strings(path):
                for flag in FLAG.findall(text):
                    if flag not in known:
                        missing.append(f"{path.relative_to(REPO)}:{line}: --{flag}")
    assert not missing, "messages name flags no command has:\n" + "\n".join(missing)
