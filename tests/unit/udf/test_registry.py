"""One rule for "current": exactly one model per warehouse is current (the one builds and
`anomaly_score(text)` use); a new kept version of any name replaces it; a name means its
current version when it is current, else its newest non-rejected version."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.helpers.models import build_tiny_artifact
from udf.registry import current_model, known_models, record_run
from udf.resolve import resolve_binding


@pytest.fixture(scope="module")
def artifacts(tiny_bert, tmp_path_factory):
    root = tmp_path_factory.mktemp("registry")
    return [build_tiny_artifact(tiny_bert, root / name / str(i), name=name, seed=i)
            for i, name in enumerate(("main", "main", "experiment", "main"))]


def record(con, artifact, keep=True, when=0):
    from udf.artifact import read_meta

    meta = read_meta(artifact)
    record_run(con, {"name": meta["name"], "version": meta["version"], "path": str(artifact),
                     "created_at": dt.datetime(2026, 12, 1, 0, when, tzinfo=dt.timezone.utc),
                     "training_mode": "head", "base_model": "tiny",
                     "threshold": meta["threshold"], "status": "rejected"},
               make_current=keep)
    return meta["version"]


def current_rows(con):
    return con.execute("select name, version from duckbert_models where is_current").fetchall()


def test_exactly_one_current_model_whatever_the_names(con, artifacts):
    m1 = record(con, artifacts[0], when=1)
    m2 = record(con, artifacts[1], when=2)
    assert current_rows(con) == [("main", m2)]
    exp = record(con, artifacts[2], when=3)  # another name: it replaces main's current
    assert current_rows(con) == [("experiment", exp)]
    statuses = dict(con.execute("select version, status from duckbert_models").fetchall())
    assert statuses == {m1: "superseded", m2: "superseded", exp: "current"}
    binding = resolve_binding(con)
    assert binding.default == str(artifacts[2]) and binding.source == "warehouse"
    # a name that is not current means its newest non-rejected version
    assert binding.lookup("main") == str(artifacts[1])
    assert binding.lookup(f"main@{m1}") == str(artifacts[0])
    rejected = record(con, artifacts[3], keep=False, when=4)
    assert current_rows(con) == [("experiment", exp)]
    assert resolve_binding(con).lookup("main") == str(artifacts[1])  # not the rejected one
    assert rejected not in {ref.version for ref in known_models(con)}
    assert current_model(con).version == exp
