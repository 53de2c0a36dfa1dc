"""The package layers are checked: duckbert -> training -> udf, never the other way.

`make lint` runs import-linter with the layers contract of pyproject.toml. These tests make
sure the contract is the one the architecture states, that it holds on the tree, and that it
fails when a lower package imports a higher one (a copy of the tree with one bad import).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("duckbert", "training", "udf")
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _contract() -> dict:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    (contract,) = config["contracts"]
    return contract


def test_the_contract_is_the_architecture():
    contract = _contract()
    assert contract["type"] == "layers"
    assert contract["layers"] == list(PACKAGES)


def _lint(root: Path) -> subprocess.CompletedProcess:
    if not LINT_IMPORTS.exists():
        pytest.fail(f"{LINT_IMPORTS} is missing: import-linter is a dev dependency")
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(LINT_IMPORTS), "--config", str(root / "pyproject.toml")],
                          cwd=root, env=env, capture_output=True, text=True, timeout=120)


def _copy_tree(dest: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(REPO / package, dest / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(REPO / "pyproject.toml", dest / "pyproject.toml")
    return dest


@pytest.mark.parametrize(("lower", "higher"), [("udf", "training"), ("udf", "duckbert"),
                                               ("training", "duckbert")])
def test_an_upward_import_breaks_the_contract(tmp_path, lower, higher):
    root = _copy_tree(tmp_path)
    assert _lint(root).returncode == 0, "the copied tree should keep the contract"
    (root / lower / "upward.py").write_text(f"import {higher}  # not allowed\n")
    result = _lint(root)
    assert result.returncode != 0
    assert f"{lower}.upward -> {higher}" in result.stdout
