"""Bounded processes, through SQL: at most DUCKBERT_MAX_MODELS loaded models (LRU), and the
two-argument anomaly_score limited to registered models and models directories unless
DUCKBERT_ALLOW_MODEL_PATHS=1."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

import udf
from tests.helpers.models import build_tiny_artifact
from tests.helpers.samples import session_texts, text_table
from udf.artifact import read_meta
from udf.registry import record_run
from udf.scorer import clear_scorers


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread(one_torch_thread):
    """One torch thread (tests/conftest.py)."""


@pytest.fixture(autouse=True)
def _clean(monkeypatch):
    for name in ("DUCKBERT_MODEL", "DUCKBERT_PRECISION", "DUCKBERT_MAX_MODELS",
                 "DUCKBERT_ALLOW_MODEL_PATHS"):
        monkeypatch.delenv(name, raising=False)
    clear_scorers()
    yield
    clear_scorers()


@pytest.fixture(scope="module")
def models(tiny_bert, tmp_path_factory):
    """Three artifacts in a models folder next to a warehouse, one outside any."""
    root = tmp_path_factory.mktemp("bounds")
    made = {name: build_tiny_artifact(tiny_bert, root / "models" / name / f"v{seed}",
                                      name=name, seed=seed)
            for seed, name in enumerate(("a", "b", "c"))}
    made["stray"] = build_tiny_artifact(tiny_bert, root / "elsewhere" / "stray", name="stray",
                                        seed=7)
    made["unregistered"] = build_tiny_artifact(tiny_bert, root / "models" / "d" / "v9",
                                               name="d", seed=9)
    return root, made


def warehouse(root, made, tmp_path):
    import shutil

    db = tmp_path / "w.duckdb"
    shutil.rmtree(tmp_path / "models", ignore_errors=True)
    shutil.copytree(root / "models", tmp_path / "models")  # models/ next to the warehouse
    con = duckdb.connect(str(db))
    for name in ("a", "b", "c"):
        path = next((tmp_path / "models" / name).iterdir())
        meta = read_meta(path)
        record_run(con, {"name": name, "version": meta["version"], "path": str(path),
                         "created_at": dt.datetime.now(dt.timezone.utc),
                         "training_mode": "head", "base_model": "tiny",
                         "threshold": meta["threshold"]}, make_current=True)
    udf.register(con)
    text_table(con, "s", session_texts(6, seed=3))
    return con


def scores(con, model):
    return [r[0] for r in con.execute("select anomaly_score(t, ?) from s order by i",
                                      [model]).fetchall()]


def test_at_most_max_models_stay_loaded_least_recently_used_out(models, tmp_path,
                                                               monkeypatch):
    from udf.scorer import loaded_scorers

    monkeypatch.setenv("DUCKBERT_MAX_MODELS", "2")
    con = warehouse(*models, tmp_path)
    try:
        first = {name: scores(con, name) for name in ("a", "b")}
        assert len(loaded_scorers()) == 2
        scores(con, "a")  # a is now the most recently used
        scores(con, "c")  # so b goes
        loaded = [key[0] for key in loaded_scorers()]
        assert len(loaded) == 2
        assert any("/a/" in p for p in loaded) and any("/c/" in p for p in loaded)
        assert scores(con, "b") == first["b"]  # reloaded, the same scores
        assert scores(con, "a") == first["a"]
        assert len(loaded_scorers()) == 2
    finally:
        con.close()


def test_a_bad_max_models_setting_is_a_clear_error(models, tmp_path, monkeypatch):
    con = warehouse(*models, tmp_path)
    try:
        monkeypatch.setenv("DUCKBERT_MAX_MODELS", "zero")
        with pytest.raises(duckdb.Error, match="DUCKBERT_MAX_MODELS must be a whole number"):
            scores(con, "a")
    finally:
        con.close()


def test_sql_may_name_registered_models_and_models_directories_only(models, tmp_path,
                                                                    monkeypatch):
    root, made = models
    con = warehouse(root, made, tmp_path)
    try:
        registered = str(next((tmp_path / "models" / "a").iterdir()))
        assert scores(con, registered) == scores(con, "a")
        # an artifact inside models/ next to the warehouse, never registered: allowed
        inside = str(tmp_path / "models" / "d" / "v9")
        assert all(0 <= s <= 1 for s in scores(con, inside))
        with pytest.raises(duckdb.Error, match=r"is not a registered model and not inside a "
                                               r"models directory .*"
                                               r"DUCKBERT_ALLOW_MODEL_PATHS=1"):
            scores(con, str(made["stray"]))
        monkeypatch.setenv("DUCKBERT_ALLOW_MODEL_PATHS", "1")
        assert all(0 <= s <= 1 for s in scores(con, str(made["stray"])))
    finally:
        con.close()


def test_python_callers_may_pin_any_directory(models, tmp_path):
    _, made = models
    con = duckdb.connect()
    try:
        udf.register(con, model=str(made["stray"]))
        text_table(con, "s", session_texts(3, seed=1))
        assert len([r for r in con.execute("select anomaly_score(t) from s").fetchall()]) == 3
        # the pinned default may also be named in the two-argument form
        assert len(scores(con, str(made["stray"]))) == 3
    finally:
        con.close()
