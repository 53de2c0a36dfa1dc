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
              models: dict | None = None, sources: list | None = None,
              schema: str = "main") -> UserProject:
        """The project's files; `package` is the packages.yml entry (default: local path);
        `schema` is the profile's target schema, where the models are built."""
        self.root.mkdir(parents=True, exist_ok=True)
        project = {"name": "shop", "version": "1.0.0", "config-version": 2, "profile": "shop",
                   "vars": vars or {}, "models": models or {}}
        profile = {"shop": {"target": "dev", "outputs": {"dev": {
            "type": "duckdb", "path": str(self.db), "schema": schema, "threads": 2,
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


# The shop's own tables, from the synthetic generator's files under the shop's column names:
# what an analytics engineer's warehouse holds before duckbert arrives. Rows `duckbert load`
# would reject (no user, unreadable time, unknown type, rating out of range) were never in it.
SHOP_TABLES = {
    "events": """
        select event_time as ts, event_type as kind, cast(user_id as bigint) as uid,
               user_session as session, product_id as sku, category_id as category,
               category_code as category_path, brand as maker,
               try_cast(price as double) as amount, 'web' as channel
        from read_csv({events}, all_varchar = true)
        where try_cast(user_id as bigint) is not null
          and try_cast(replace(event_time, ' UTC', '') as timestamp) is not null
          and regexp_replace(lower(event_type), '[\\s_-]', '', 'g')
              in ('view', 'click', 'cart', 'addtocart', 'removefromcart', 'purchase',
                  'transaction')""",
    "reviews": """
        select cast(review_id as integer) as id, user_id as uid, product_id as sku,
               cast(rating as integer) as stars, review_text as body,
               cast(replace(created_at, ' UTC', '') as timestamp) as written_at
        from read_csv({reviews}, all_varchar = true)
        where rating in ('1', '2', '3', '4', '5')""",
    "abuse_labels": """
        select user_session as session, case is_anomaly when 'true' then 1 else 0 end as flag,
               anomaly_family
        from read_csv({labels}, all_varchar = true)""",
}
# The vars that point duckbert at those tables (README "Inside your dbt project").
SHOP_VARS = {
    "duckbert_events": "{{ source('shop', 'events') }}",
    "duckbert_event_columns": {
        "event_time": "ts", "event_type": "kind", "user_id": "uid", "user_session": "session",
        "product_id": "sku", "category_id": "category", "category_code": "category_path",
        "brand": "maker", "price": "amount"},
    "duckbert_reviews": "{{ source('shop', 'reviews') }}",
    "duckbert_review_columns": {
        "review_id": "id", "user_id": "uid", "product_id": "sku", "rating": "stars",
        "review_text": "body", "created_at": "written_at"},
    "duckbert_labels": "{{ source('shop', 'abuse_labels') }}",
    "duckbert_label_columns": {"user_session": "session", "is_anomaly": "flag"},
}
SHOP_SOURCES = [{"name": "shop", "description": "The shop's own tables.", "schema": "main",
                 "tables": [{"name": name} for name in SHOP_TABLES]}]


def write_shop_tables(db: Path, data: Path) -> None:
    """The shop's tables in `db` from the generator's events/reviews/labels CSVs in `data`."""
    import duckdb

    from udf.sqlident import quote_identifier, quote_literal

    files = {name: quote_literal(str(data / f"{name}.csv"))
             for name in ("events", "reviews", "labels")}
    con = duckdb.connect(str(db))
    try:
        for table, select in SHOP_TABLES.items():
            con.execute(f"create table {quote_identifier(table)} as {select.format(**files)}")
    finally:
        con.close()
