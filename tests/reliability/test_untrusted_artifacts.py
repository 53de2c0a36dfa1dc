"""Untrusted model folders: weights load from safetensors only, a pickle never runs (not even
disguised as safetensors), `trust_remote_code` is never enabled (by the source, and against a
planted `auto_map`), and damaged weights or caches fail clearly or are ignored."""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pytest
from click.testing import CliRunner

import udf
from duckbert.cli import main
from tests.helpers.processes import REPO, plant_pickle, plant_remote_code
from udf.artifact import META_FILE, WEIGHTS_FILE, ArtifactError, file_sha256, load_model
from udf.base_models import UnsafeModelError, resolve_base_model
from udf.scorer import Scorer, clear_scorers

pytestmark = pytest.mark.xdist_group("untrusted_artifacts")

SOURCE_DIRS = ("udf", "training", "duckbert")
LOADERS = {"from_pretrained", "from_config", "pipeline"}
# Every loader call passes trust_remote_code=False explicitly: transformers' default (None)
# refuses remote code when nobody answers, but *asks* on an interactive terminal ("Do you wish
# to run the custom code? [y/N]").


@pytest.fixture
def marker(tmp_path):
    path = tmp_path / "PWNED"
    yield path
    assert not path.exists(), "planted code was executed"


@pytest.fixture
def artifact(tiny_model, tmp_path) -> Path:
    """A private copy of the tiny artifact, free to tamper with."""
    clear_scorers()
    yield Path(shutil.copytree(tiny_model, tmp_path / "artifact"))
    clear_scorers()


def python_files():
    for folder in SOURCE_DIRS:
        yield from sorted((REPO / folder).rglob("*.py"))


def _call_name(node: ast.Call) -> str:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def test_source_never_enables_remote_code_or_pickle_loading():
    problems, loader_calls = [], 0
    for path in python_files():
        text = path.read_text()
        tree = ast.parse(text, filename=str(path))
        where = path.relative_to(REPO)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = _call_name(node)
            keywords = {k.arg: k.value for k in node.keywords if k.arg}
            line = f"{where}:{node.lineno}"
            if "trust_remote_code" in keywords:
                value = keywords["trust_remote_code"]
                if not (isinstance(value, ast.Constant) and value.value is False):
                    problems.append(f"{line}: trust_remote_code is not the literal False")
            if name in LOADERS:
                loader_calls += 1
                if "trust_remote_code" not in keywords:
                    problems.append(f"{line}: {name}() without trust_remote_code=False")
            if name == "from_pretrained" and "use_safetensors" in keywords:
                value = keywords["use_safetensors"]
                if not (isinstance(value, ast.Constant) and value.value is True):
                    problems.append(f"{line}: use_safetensors is not True")
            if "weights_only" in keywords:
                problems.append(f"{line}: weights_only= (a torch.load of a pickle)")
            if "allow_pickle" in keywords:
                value = keywords["allow_pickle"]
                if not (isinstance(value, ast.Constant) and value.value is False):
                    problems.append(f"{line}: allow_pickle is not False")
            if isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name):
                qualified = f"{node.func.value.id}.{node.func.attr}"
                if qualified in ("torch.load", "pickle.load", "pickle.loads", "joblib.load",
                                 "dill.load", "cloudpickle.load", "marshal.loads"):
                    problems.append(f"{line}: {qualified}()")
            if isinstance(node.func, ast.Name) and node.func.id in ("eval", "exec"):
                problems.append(f"{line}: {node.func.id}()")
        if "trust_remote_code=True" in text.replace(" ", ""):
            problems.append(f"{where}: mentions trust_remote_code=True")
    assert loader_calls >= 3, "the scan no longer sees the transformers loaders"
    assert not problems, "\n".join(problems)


def test_hub_downloads_fetch_no_code_and_no_pickles():
    tree = ast.parse((REPO / "udf" / "base_models.py").read_text())
    patterns = [
        [e.value for e in k.value.elts]
        for node in ast.walk(tree) if isinstance(node, ast.Call)
        and _call_name(node) == "snapshot_download"
        for k in node.keywords if k.arg == "allow_patterns"
    ]
    assert patterns, "snapshot_download must name what it fetches"
    for allowed in patterns:
        assert "*.safetensors" in allowed
        for bad in ("*", "*.py", "*.bin", "*.pt", "*.pth", "*.pkl", "*.ckpt"):
            assert bad not in allowed


def test_a_pickle_only_artifact_is_refused_everywhere(artifact, marker, con):
    (artifact / WEIGHTS_FILE).unlink()
    plant_pickle(artifact / "pytorch_model.bin", marker)
    explanation = ("holds only pickle weights", "safetensors only", "arbitrary code")
    with pytest.raises(UnsafeModelError) as err:
        load_model(artifact)
    assert all(part in str(err.value) for part in explanation)
    udf.register(con, model=str(artifact))
    with pytest.raises(duckdb.InvalidInputException) as err:
        con.execute("select anomaly_score('view phone')").fetchall()
    assert all(part in str(err.value) for part in explanation)
    result = CliRunner().invoke(main, ["score", "--model", str(artifact), "view phone"])
    assert result.exit_code == 1 and "holds only pickle weights" in result.output
    assert "Traceback" not in result.output


def test_a_pickle_only_base_model_is_refused_by_train(tiny_bert, tmp_path, marker):
    from tests.helpers.training_data import make_training_table

    base = tmp_path / "downloaded-base"
    base.mkdir()
    shutil.copy2(tiny_bert / "config.json", base / "config.json")
    plant_pickle(base / "pytorch_model.bin", marker)
    db = make_training_table(tmp_path / "w.duckdb", users=60, anomaly_rate=0.3)
    result = CliRunner().invoke(main, ["train", "--db", db, "--base-model", str(base),
                                       "--mode", "head", "--no-peers", "--quiet"])
    assert result.exit_code == 1, result.output
    assert "holds only pickle weights" in result.output and "safetensors only" in result.output
    assert not (tmp_path / "models").exists() or not list((tmp_path / "models").glob("*/*"))


def test_a_pickle_disguised_as_safetensors_is_not_unpickled(artifact, marker, con):
    """The attacker replaces the weights with a pickle named model.safetensors and fixes the
    digest in duckbert.json: safetensors parses no pickle, so the load fails clearly."""
    weights = artifact / WEIGHTS_FILE
    plant_pickle(weights, marker)
    meta = json.loads((artifact / META_FILE).read_text())
    meta["weights_sha256"] = file_sha256(weights)
    (artifact / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match="cannot load the model"):
        load_model(artifact)
    udf.register(con, model=str(artifact))
    with pytest.raises(duckdb.InvalidInputException, match="cannot load the model"):
        con.execute("select anomaly_score('view phone')").fetchall()


def test_a_pickle_next_to_safetensors_is_ignored(artifact, marker, con, tiny_model):
    plant_pickle(artifact / "pytorch_model.bin", marker)
    plant_pickle(artifact / "model.pt", marker)
    udf.register(con, model=str(artifact))
    got = con.execute("select anomaly_score('view phone')").fetchall()[0][0]
    assert got == Scorer(tiny_model, cache_size=0).score(["view phone"])[0]


def test_remote_code_in_an_artifact_config_is_never_run(artifact, marker, con, tiny_model):
    plant_remote_code(artifact, marker)
    model, _ = load_model(artifact)  # model_type is still bert: auto_map is ignored
    assert type(model.encoder).__name__ == "BertModel"
    udf.register(con, model=str(artifact))
    assert con.execute("select anomaly_score('view phone')").fetchall()[0][0] == \
        Scorer(tiny_model, cache_size=0).score(["view phone"])[0]
    # an architecture only the planted code defines: refused, not imported
    config = json.loads((artifact / "config.json").read_text())
    config["model_type"] = "evil"
    (artifact / "config.json").write_text(json.dumps(config))
    clear_scorers()
    with pytest.raises(ArtifactError, match="cannot load the model"):
        load_model(artifact)
    with pytest.raises(duckdb.InvalidInputException, match="cannot load the model"):
        con.execute("select anomaly_score('view phone, again')").fetchall()


def test_remote_code_in_a_base_model_is_never_run(tiny_bert, tmp_path, marker):
    from udf.heads import ClassifierHead
    from udf.model import AnomalyModel, load_encoder

    base = Path(shutil.copytree(tiny_bert, tmp_path / "base"))
    plant_remote_code(base, marker)
    assert resolve_base_model(str(base)) == base.resolve()
    assert type(load_encoder(base)).__name__ == "BertModel"
    AnomalyModel.from_base(base, ClassifierHead(32), max_length=32)
    config = json.loads((base / "config.json").read_text())
    config["model_type"] = "evil"
    (base / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="contains custom code"):  # transformers refuses
        load_encoder(base)


@pytest.mark.parametrize("damage", ["truncated", "flipped byte", "empty", "zeros"])
def test_damaged_weights_are_a_clear_error_from_sql(artifact, con, damage):
    weights = artifact / WEIGHTS_FILE
    data = bytearray(weights.read_bytes())
    if damage == "truncated":
        data = data[: len(data) // 2]
    elif damage == "flipped byte":
        data[len(data) // 2] ^= 0xFF
    elif damage == "empty":
        data = bytearray()
    else:
        data = bytearray(len(data))
    weights.write_bytes(bytes(data))
    udf.register(con, model=str(artifact))
    for sql in ("select anomaly_score('view phone')", "select anomaly_flag('view phone')",
                "select anomaly_explain('view phone')"):
        with pytest.raises(duckdb.InvalidInputException) as err:
            con.execute(sql).fetchall()
        message = str(err.value)
        assert "corrupt or was changed after training" in message and str(weights) in message
        assert "retrain or restore" in message
    result = CliRunner().invoke(main, ["score", "--model", str(artifact), "view phone"])
    assert result.exit_code == 1 and "corrupt or was changed" in result.output


def test_a_damaged_embedding_cache_is_ignored_never_unpickled(artifact, marker):
    """The training run's embedding cache lives outside the verified artifact: a poisoned
    one (pickled objects, wrong width, NaN) must cost time, not scores or a crash."""
    from udf.cache import text_key
    from udf.embedding_store import encoder_key

    model, meta = load_model(artifact)
    meta["encoder_key"] = encoder_key(model)
    meta["embedding_store"] = "cache"
    (artifact / META_FILE).write_text(json.dumps(meta))
    store = artifact / "cache" / f"{meta['encoder_key']}.npz"
    store.parent.mkdir()
    texts = ["view phone", "cart phone"]
    keys = np.frombuffer(b"".join(text_key(t) for t in texts), dtype=np.uint8).reshape(-1, 16)
    clean = Scorer(artifact, precision="fp32", use_store=False, cache_size=0).score(texts)
    poisons = {
        "pickled objects": dict(keys=keys, vectors=np.array([_Evil(marker)] * 2, dtype=object)),
        "wrong width": dict(keys=keys, vectors=np.ones((2, 16), np.float32)),
        "nan": dict(keys=keys, vectors=np.full((2, 32), np.nan, np.float32)),
        "keys and vectors disagree": dict(keys=keys[:1], vectors=np.ones((2, 32), np.float32)),
    }
    for name, arrays in poisons.items():
        np.savez(store, **arrays)
        scorer = Scorer(artifact, precision="fp32", cache_size=0)
        assert scorer.score(texts) == clean, name
        assert scorer.store_hits == 0, name
    store.write_bytes(b"not a zip file")
    assert Scorer(artifact, precision="fp32", cache_size=0).score(texts) == clean


class _Evil:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))
