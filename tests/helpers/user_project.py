"""A user's own dbt project in a temporary folder that installs duckbert as a dbt package.

`UserProject.write` lays out dbt_project.yml (with the user's vars), profiles.yml (dbt-duckdb
with the udf plugin, as README "Inside your dbt project" shows), packages.yml and their
sources; `dbt` runs the real dbt on it. `package_repo` turns this checkout's dbt package into
a git repository reachable by a file:// URL, for the `git:` + `subdirectory:` install.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

from duckbert.dbt_runner import DbtResult, run_dbt
from tests.helpers.bi_warehouse import Warehouse

REPO = Path(__file__).resolve().parents[2]
PACKAGE_DIR = REPO / "dbt_project"
# fp32 lets the scorer reuse the embeddings the training run stored (no second forward pass)
ENV = {"DUCKBERT_MODEL": "", "DUCKBERT_PRECISION": "fp32"}


@dataclass
class UserProject(Warehouse):
    """A dbt project named `shop` at `root` whose warehouse is root/warehouse.duckdb (queried
    as a Warehouse is; dbt's target/ is root/target)."""

    def write(self, vars: dict | None = None, package: dict | None = None,
              models: dict | None = None, sources: list | None = None) -> UserProject:
        """The project's files; `package` is the packages.yml entry (default: local path)."""
        self.root.mkdir(parents=True, exist_ok=True)
        project = {"name": "shop", "version": "1.0.0", "config-version": 2, "profile": "shop",
                   "vars": vars or {}, "models": models or {}}
        profile = {"shop": {"target": "dev", "outputs": {"dev": {
            "type": "duckdb", "path": str(self.db), "threads": 2,
            "plugins": [{"module": "udf.dbt_plugin"}]}}}}
        packages = {"packages": [package or {"local": str(PACKAGE_DIR)}]}
        self._yaml("dbt_project.yml", project)
        self._yaml("profiles.yml", profile)
        self._yaml("packages.yml", packages)
        if sources:
            self._yaml("models/sources.yml", {"version": 2, "sources": sources})
        return self

    def _yaml(self, name: str, data) -> None:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(data, sort_keys=False))

    def dbt(self, command: str, *args: str, check: bool = True) -> DbtResult:
        result = run_dbt(command, self.db, out=None, env=ENV, project=self.root,
                         profiles=self.root, extra_args=args, colors=False)
        if check:
            assert result.ok, "\n".join(result.tail)
        return result

    def manifest(self) -> dict:
        return json.loads((self.target / "manifest.json").read_text())


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout


def package_repo(root: Path) -> str:
    """A bare git repository holding this checkout's dbt package files (committed or not, as
    they are now) at the paths they have here; returns its file:// URL."""
    work = root / "work"
    listed = _git(REPO, "ls-files", "-co", "--exclude-standard", "--", "dbt_project", "macros")
    for name in listed.splitlines():
        source, dest = REPO / name, work / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            dest.symlink_to(source.readlink())
        elif source.is_file():
            shutil.copy2(source, dest)
    _git(work, "init", "-q")
    _git(work, "add", "-A")
    _git(work, "-c", "user.name=test", "-c", "user.email=test@example.com", "commit", "-qm",
         "duckbert dbt package")
    _git(root, "clone", "-q", "--bare", str(work), "duckbert.git")
    return (root / "duckbert.git").as_uri()
