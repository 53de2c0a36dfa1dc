"""duckbert as a dbt package inside a user's own dbt project (README "Inside your dbt project").

Real `dbt deps` installs of this checkout's dbt_project/ (a local path, and a git repository
with `subdirectory:`), real dbt builds in a fresh project with its own tables under its own
column names, training on that warehouse, and the scored marts read from the user's schema.
"""

from __future__ import annotations

import json
import re
import shutil

import pytest

from tests.helpers.user_project import (
    PACKAGE_DIR,
    REPO,
    SHOP_SOURCES,
    SHOP_VARS,
    UserProject,
    package_repo,
    write_shop_tables,
)

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


# -- the user's path: their tables, their names, their schema ----------------------------------

USERS = 200  # enough labelled anomalies for every split of a head-mode training run
SCHEMA = "analytics"  # the shop's target schema: duckbert's models are built there


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> UserProject:
    """A fresh dbt project over the shop's own tables (columns ts, kind, uid, session, ...),
    with duckbert installed as a local package, built once before any model exists."""
    from duckbert.synthetic import generate

    root = tmp_path_factory.mktemp("shop")
    generate(root / "data", users=USERS, seed=3)
    project = UserProject(root / "shop").write(vars=SHOP_VARS, sources=SHOP_SOURCES,
                                               schema=SCHEMA)
    write_shop_tables(project.db, root / "data")
    project.dbt("deps")
    project.dbt("build")
    project.first_build = {
        name: project.q(f"select count(*) from {SCHEMA}.{name}")[0][0]
        for name in ("sessions", "session_scores", "flagged_sessions", "flagged_users")
    }
    return project


@pytest.fixture(scope="module")
def scored_shop(shop, tiny_bert, one_torch_thread) -> UserProject:
    """`duckbert train --db` on the shop's warehouse (the tiny random BERT), then a build."""
    from click.testing import CliRunner

    from duckbert.cli import main

    result = CliRunner().invoke(main, [
        "train", "--db", str(shop.db), "--base-model", str(tiny_bert), "--mode", "head",
        "--no-peers", "--quiet"])
    assert result.exit_code == 0, result.output
    shop.dbt("build")
    return shop


def test_their_columns_map_onto_the_raw_contract(shop):
    q = shop.q
    assert {r[0] for r in q(f"select distinct event_type from {SCHEMA}.stg_events")} <= {
        "view", "click", "cart", "remove_from_cart", "purchase"}  # 'Click', 'addtocart', ...
    assert q(f"select count(distinct user_id) from {SCHEMA}.stg_events") == q(
        "select count(distinct uid) from main.events")
    # a timestamp given as text such as '2026-10-01 08:43:34 UTC' is read as UTC
    assert q(f"select min(event_time) from {SCHEMA}.stg_events") == q(
        "select min(cast(replace(ts, ' UTC', '') as timestamp)) from main.events")
    # their session column names the sessions; a column the contract lacks goes to extra
    assert q(f"select count(*) from {SCHEMA}.sessions where session_source = 'user_session'"
             ) == q("select count(distinct session) from main.events")
    assert q(f"select distinct json_extract_string(extra, '$.channel') "
             f"from {SCHEMA}.stg_events") == [("web",)]
    # optional columns they do not have are NULL: reviews join their sessions by time
    reviews = q(f"select count(*), count(user_session) from {SCHEMA}.stg_reviews")
    assert reviews == [(q("select count(*) from main.reviews")[0][0], 0)]
    assert q(f"select count(*) from {SCHEMA}.int_sessions_reviews where review_join = 'time'"
             )[0][0] > 0
    labels = q(f"select count(*), count(*) filter (where is_anomaly), count(labelled_at), "
               f"count(anomaly_family) from {SCHEMA}.training_sessions where is_anomaly "
               f"is not null")
    assert labels == [(q("select count(*) from main.abuse_labels")[0][0],
                       q("select sum(flag) from main.abuse_labels")[0][0], 0,
                       q("select count(anomaly_family) from main.abuse_labels "
                         "where anomaly_family <> ''")[0][0])]
    # duckbert's own raw_* sources are disabled: the build needed none of them
    sources = shop.manifest()["sources"]
    assert not [key for key in sources if key.startswith("source.duckbert.raw.")]


def test_scoring_marts_wait_for_a_model(shop):
    assert shop.first_build["sessions"] > 700
    assert [shop.first_build[name] for name in
            ("session_scores", "flagged_sessions", "flagged_users")] == [0, 0, 0]


def test_train_finds_training_sessions_in_their_schema(scored_shop):
    table, n_train = scored_shop.q(
        "select training_table, n_train from duckbert_models where is_current")[0]
    assert table == f"warehouse.{SCHEMA}.training_sessions" and n_train > 0


def test_flagged_users_are_read_from_their_schema(scored_shop):
    q = scored_shop.q
    version = scored_shop.current_version()
    assert q(f"select count(*), count(distinct model_version), any_value(model_version) "
             f"from {SCHEMA}.session_scores") == [(scored_shop.first_build["sessions"], 1,
                                                   version)]
    users = q(f"select user_id, sessions_flagged, top_reasons from {SCHEMA}.flagged_users")
    assert users and all(n > 0 and reasons for _, n, reasons in users)
    assert sorted((u, n) for u, n, _ in users) == sorted(q(
        f"select user_id, count(*) from {SCHEMA}.flagged_sessions group by 1"))


def test_a_second_build_scores_only_what_is_new(scored_shop):
    """New events in the shop's table: the next build scores their session and leaves every
    other score as it was (session_scores is incremental)."""
    scores = (f"select session_id, anomaly_score, model_version, scored_at "
              f"from {SCHEMA}.session_scores")
    before = {r[0]: r for r in scored_shop.q(scores)}
    scored_shop.execute(
        "insert into main.events select ts, kind, uid, 'shop-new-session', sku, category, "
        "category_path, maker, amount, channel from main.events "
        "where session = (select min(session) from main.events)")
    scored_shop.dbt("build", "--exclude", "test_type:data")
    after = {r[0]: r for r in scored_shop.q(scores)}
    assert set(after) == set(before) | {"shop-new-session"}
    assert {sid: after[sid] for sid in before} == before  # nothing rescored
    assert after["shop-new-session"][2] == scored_shop.current_version()
    result = scored_shop.run_results()["model.duckbert.session_scores"]
    assert result["status"] == "success"


def test_docs_describe_every_duckbert_model_and_column_and_show_the_lineage(scored_shop):
    scored_shop.dbt("docs generate")
    manifest = scored_shop.manifest()
    catalog = json.loads((scored_shop.target / "catalog.json").read_text())
    assert (scored_shop.target / "index.html").exists()
    nodes = {**manifest["nodes"], **manifest["sources"]}
    ours = {key: node for key, node in nodes.items() if node["package_name"] == "duckbert"
            and node["resource_type"] in ("model", "source", "seed", "snapshot")}
    assert {f"model.duckbert.{name}" for name in (
        "sessions", "training_sessions", "session_scores", "flagged_sessions", "flagged_users",
    )} <= set(ours)
    undocumented = []
    for key, node in ours.items():
        if not node["description"].strip():
            undocumented.append(key)
        described = {name.lower() for name, column in node["columns"].items()
                     if column["description"].strip()}
        built = catalog["nodes"].get(key) or catalog["sources"].get(key) or {"columns": {}}
        assert built["columns"] or node["resource_type"] == "source", f"{key} not in catalog"
        undocumented += [f"{key}.{name}" for name in built["columns"]
                         if name.lower() not in described]
        undocumented += [f"{key}.{name}" for name, column in node["columns"].items()
                         if not column["description"].strip()]
    assert not undocumented, undocumented
    # their source feeds duckbert's staging, and on through to flagged_users
    parents = manifest["parent_map"]
    assert "source.shop.shop.events" in parents["model.duckbert.stg_events"]

    def ancestors(key, seen=None):
        seen = set() if seen is None else seen
        for parent in parents.get(key, []):
            if parent not in seen:
                seen.add(parent)
                ancestors(parent, seen)
        return seen

    assert {"source.shop.shop.events", "source.shop.shop.reviews",
            "model.duckbert.session_scores"} <= ancestors("model.duckbert.flagged_users")


def test_a_wrong_mapping_fails_naming_the_var_and_the_column(shop):
    wrong = {
        "duckbert_event_columns": {"event_time": "ts"},  # the rest not mapped: kind, uid, ...
        "duckbert_review_columns": {**SHOP_VARS["duckbert_review_columns"], "stars": "rating"},
        "duckbert_label_columns": {"user_session": "session", "is_anomaly": "flagged"},
    }
    result = shop.dbt("run", "--select", "staging", "--vars", json.dumps(wrong), check=False)
    assert not result.ok
    out = "\n".join(result.tail)
    assert ("(var duckbert_events) has no column 'event_type', which the raw data contract "
            "requires; name the column that holds it in var duckbert_event_columns") in out
    assert ("var duckbert_review_columns maps 'stars', which is not a column of the reviews "
            "contract") in out
    assert "var duckbert_label_columns maps is_anomaly to 'flagged', but" in out
    assert "has no column 'flagged'; its columns: session, flag, anomaly_family" in out


def test_models_are_enabled_or_disabled_as_dbt_users_expect(shop, tmp_path):
    """`+enabled: false` on duckbert's models in the user's dbt_project.yml: flagged_users
    alone, or all the scoring marts (their tests, drift included, go with them); the
    second project also has no reviews (duckbert_reviews: false)."""
    marts = {"flagged_users": {"+enabled": False}}
    project = UserProject(tmp_path / "no_flagged_users").write(
        vars=SHOP_VARS, sources=SHOP_SOURCES, schema=SCHEMA,
        models={"duckbert": {"marts": marts}})
    project.dbt("deps")
    listed = project.dbt("ls", "--resource-type", "model", "--output", "name", "--quiet")
    assert "flagged_users" not in listed.tail and "flagged_sessions" in listed.tail

    scoring = {name: {"+enabled": False}
               for name in ("session_scores", "flagged_sessions", "flagged_users")}
    no_reviews = {**SHOP_VARS, "duckbert_reviews": False}  # false: the shop has none
    project = UserProject(tmp_path / "no_scoring").write(
        vars=no_reviews, sources=SHOP_SOURCES, schema="no_scoring",
        models={"duckbert": {"marts": scoring}})
    shutil.copy2(shop.db, project.db)
    project.dbt("deps")
    project.dbt("build", "--select", "duckbert")
    names = {r[0] for r in project.q("select table_name from information_schema.tables "
                                     "where table_schema = 'no_scoring'")}
    assert {"sessions", "training_sessions"} <= names
    assert not names & {"session_scores", "flagged_sessions", "flagged_users"}
    assert project.q("select count(*) from no_scoring.stg_reviews") == [(0,)]
    assert project.q("select sum(n_reviews) from no_scoring.sessions") == [(0,)]
    tests = [key for key in project.run_results() if key.startswith("test.duckbert.")]
    assert tests and not [key for key in tests if "session_scores" in key or "flagged" in key]
    drift = project.manifest()["nodes"]["test.duckbert.duckbert_drift"]
    assert drift["config"]["enabled"] is False  # it reads session_scores: dbt disables it
