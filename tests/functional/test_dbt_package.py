"""duckbert as a dbt package inside a user's own dbt project (README "Inside your dbt project").

Real `dbt deps` installs of this checkout's dbt_project/ (a local path, and a git repository
with `subdirectory:`), real dbt builds in a fresh project with its own tables under its own
column names, training on that warehouse, and the scored marts read from the user's schema.
"""

from __future__ import annotations

import re

import pytest

from tests.helpers.user_project import PACKAGE_DIR, REPO, UserProject, package_repo

pytestmark = [pytest.mark.slow]


def _macro_names(folder) -> set[str]:
    names = set()
    for path in folder.glob("*.sql"):
        names.update(re.findall(r"{%-?\s*macro\s+(\w+)", path.read_text()))
    return names


@pytest.mark.parametrize("install", ["local", "git"])
def test_both_kinds_of_install_carry_the_macros(tmp_path, install):
    """packages.yml `local:` and `git:` + `subdirectory: dbt_project` both bring every macro
    of the top-level macros/ (the one copy, inside the package folder) under `duckbert`."""
    package = ({"local": str(PACKAGE_DIR)} if install == "local" else
               {"git": package_repo(tmp_path / "repo"), "subdirectory": "dbt_project"})
    project = UserProject(tmp_path / "shop").write(package=package)
    project.dbt("deps")
    installed = project.root / "dbt_packages" / "duckbert"
    for path in (REPO / "macros").glob("*.sql"):
        assert (installed / "macros" / path.name).read_text() == path.read_text()

    project.dbt("compile", "--select", "int_session_items")
    macros = {key.split(".", 2)[2] for key in project.manifest()["macros"]
              if key.startswith("macro.duckbert.")}
    expected = _macro_names(REPO / "macros")
    assert expected and expected <= macros
    compiled = (project.root / "target" / "compiled" / "duckbert" / "models" / "intermediate"
                / "int_session_items.sql").read_text()
    assert "{{" not in compiled and "concat_ws" in compiled  # event_segment() expanded
