"""Run the repository's dbt project (dbt_project/ with profiles/) against a warehouse file.

dbt runs as a subprocess of this same Python (its `dbt.cli.main.cli` entry point), so it sees
the same installed dbt-duckdb and udf plugin, and a crash in it cannot take the caller down.
Its output is streamed line by line; the exit status is dbt's. Used by `duckbert build` and the
demo; `project` / `profiles` run another dbt project instead (one that installs duckbert as a
package, as the functional tests of that path do).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from udf.connect import SINGLE_WRITER, is_lock_error

PROJECT_ENV = "DUCKBERT_PROJECT_DIR"
# `python -m dbt.cli.main` warns about runpy; calling the entry point like the dbt script does not.
_DBT_ENTRY = "import sys; from dbt.cli.main import cli; sys.argv[0] = 'dbt'; sys.exit(cli())"
PROFILES_ENV = "DUCKBERT_PROFILES_DIR"


def project_dir() -> Path:
    """The dbt project: $DUCKBERT_PROJECT_DIR, else dbt_project/ next to the udf package."""
    override = os.environ.get(PROJECT_ENV, "").strip()
    path = Path(override) if override else Path(__file__).resolve().parent.parent / "dbt_project"
    if not (path / "dbt_project.yml").exists():
        raise FileNotFoundError(
            f"no dbt project at {path} (no dbt_project.yml); set {PROJECT_ENV} to the folder "
            "that holds duckbert's dbt_project.yml"
        )
    return path


def profiles_dir() -> Path:
    """profiles/ for dbt: $DUCKBERT_PROFILES_DIR, else the profiles/ folder beside the project."""
    override = os.environ.get(PROFILES_ENV, "").strip()
    path = Path(override) if override else project_dir().parent / "profiles"
    if not (path / "profiles.yml").exists():
        raise FileNotFoundError(
            f"no profiles.yml in {path}; set {PROFILES_ENV} to the folder that holds it"
        )
    return path


@dataclass
class DbtResult:
    """The outcome of one dbt invocation: exit status and the last lines it printed."""

    returncode: int
    tail: list[str]
    locked: bool = False  # the warehouse was held by another process

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def dbt_command(
    command: str,
    select: Iterable[str] = (),
    exclude: Iterable[str] = (),
    threads: int | None = None,
    vars: str | None = None,
    full_refresh: bool = False,
    target_path: str | os.PathLike | None = None,
    log_path: str | os.PathLike | None = None,
    extra_args: Iterable[str] = (),
    colors: bool = True,
    project: str | os.PathLike | None = None,
    profiles: str | os.PathLike | None = None,
) -> list[str]:
    """The argv of a dbt command (e.g. "build", "docs generate") on duckbert's project and
    profiles (or `project`, `profiles`)."""
    argv = [sys.executable, "-c", _DBT_ENTRY, *command.split(),
            "--project-dir", str(project or project_dir()),
            "--profiles-dir", str(profiles or profiles_dir())]
    if not colors:
        argv.append("--no-use-colors")
    for name, values in (("--select", select), ("--exclude", exclude)):
        values = list(values)
        if values:
            argv += [name, *values]
    if threads is not None:
        argv += ["--threads", str(int(threads))]
    if vars:
        argv += ["--vars", vars]
    if full_refresh:
        argv.append("--full-refresh")
    if target_path is not None:
        argv += ["--target-path", str(target_path)]
    if log_path is not None:
        argv += ["--log-path", str(log_path)]
    return [*argv, *extra_args]


def run_dbt(
    command: str,
    db_path: str | os.PathLike,
    out: TextIO | None = sys.stdout,
    env: dict[str, str] | None = None,
    tail_lines: int = 200,
    progress=None,
    **options,
) -> DbtResult:
    """Run `dbt <command>` on the warehouse `db_path`, streaming its output to `out`.

    `options` are those of dbt_command (select, exclude, threads, vars, full_refresh,
    target_path, log_path, extra_args, project, profiles, colors: by default only when `out`
    is a terminal);
    `env` adds environment variables (e.g. DUCKBERT_MODEL). A held lock on the warehouse is
    explained after dbt's own message. `progress`, if given, also receives the scoring
    progress lines (udf/progress.py), e.g. for a terminal while `out` is a log file.
    """
    db_path = Path(db_path).expanduser().resolve()
    db_path.parent.mkdir(parents=True, exist_ok=True)
    options.setdefault("colors", out is not None and out.isatty())
    argv = dbt_command(command, **options)
    run_env = {**os.environ, **(env or {}), "DUCKBERT_DB": str(db_path)}
    run_env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    tail: deque[str] = deque(maxlen=tail_lines)
    locked = False
    with subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=run_env,
        cwd=str(options.get("project") or project_dir()), bufsize=1,
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            tail.append(line.rstrip("\n"))
            locked = locked or is_lock_error(line)
            if progress is not None and "duckbert: scor" in line:
                progress(line.split("duckbert: ", 1)[-1].strip())
            if out is not None:
                out.write(line)
                out.flush()
        returncode = proc.wait()
    if returncode != 0 and locked and out is not None:
        out.write(f"\nduckbert: the warehouse {db_path} is locked. {SINGLE_WRITER}\n")
    if returncode < 0:  # killed by a signal: dbt could not say so itself
        import signal

        name = signal.Signals(-returncode).name
        why = " (the out-of-memory killer sends this)" if name == "SIGKILL" else ""
        message = (f"duckbert: dbt was killed by {name}{why}; what it committed before is "
                   "kept, the rest is redone by the next build")
        tail.append(message)
        if out is not None:
            out.write(f"\n{message}\n")
    return DbtResult(returncode=returncode, tail=list(tail), locked=locked)


def dbt_build(db_path: str | os.PathLike, **options) -> DbtResult:
    """`dbt build` of the whole project (or `select`) on the warehouse `db_path`."""
    return run_dbt("build", db_path, **options)
