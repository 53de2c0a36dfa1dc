"""The model artifact: safetensors only, verified weights, never overwritten, atomic saves."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import pytest

from udf.artifact import (
    FORMAT_VERSION,
    META_FILE,
    WEIGHTS_FILE,
    ArtifactError,
    file_sha256,
    load_model,
    read_meta,
    save_model,
)
from udf.base_models import UnsafeModelError, check_safetensors_dir, resolve_base_model


class _Plant:
    """A pickle whose loading creates `marker`: what a malicious pytorch_model.bin does."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def plant_pickle(folder: Path, marker: Path) -> Path:
    """Write a malicious pytorch_model.bin into `folder`; prove the payload is live."""
    probe = marker.with_name(marker.name + ".probe")
    pickle.loads(pickle.dumps(_Plant(probe))).close()
    assert probe.exists(), "the planted pickle would not have done anything"
    probe.unlink()
    path = folder / "pytorch_model.bin"
    path.write_bytes(pickle.dumps(_Plant(marker)))
    return path


@pytest.fixture
def artifact_copy(tiny_model, tmp_path) -> Path:
    """A private copy of the tiny artifact, free to damage."""
    return Path(shutil.copytree(tiny_model, tmp_path / "copy"))


@pytest.fixture
def marker(tmp_path) -> Path:
    path = tmp_path / "pwned"
    yield path
    assert not path.exists(), "a pickle was executed"


def _tiny_model_object(tiny_bert):
    from udf.heads import ClassifierHead
    from udf.model import AnomalyModel

    return AnomalyModel.from_base(tiny_bert, ClassifierHead(32, dropout=0.0), max_length=32)


META = {"name": "t", "version": "v1", "base_model": "tiny-random-bert", "training_mode": "head",
        "threshold": 0.5}


# -- loading ------------------------------------------------------------------------------


def test_load_returns_model_and_complete_meta(tiny_model):
    model, meta = load_model(tiny_model)
    assert not model.training
    assert meta["format_version"] == FORMAT_VERSION and meta["name"] == "tiny"
    assert meta["weights_sha256"] == file_sha256(tiny_model / WEIGHTS_FILE)
    assert meta["model"]["max_length"] == model.tokenizer.max_length == 128
    assert {"torch", "transformers", "duckdb"} <= set(meta["library_versions"])
    assert not list(tiny_model.glob("*.bin")) and not list(tiny_model.glob("*.pt*"))


def test_pickle_only_artifact_is_refused_with_an_explanation(artifact_copy, marker):
    (artifact_copy / WEIGHTS_FILE).unlink()
    plant_pickle(artifact_copy, marker)
    with pytest.raises(UnsafeModelError) as err:
        load_model(artifact_copy)
    message = str(err.value)
    assert "pytorch_model.bin" in message and "safetensors only" in message
    assert "arbitrary code" in message and "safe_serialization=True" in message


def test_pickle_only_folder_without_meta_is_explained_first(tmp_path, marker):
    folder = tmp_path / "downloaded"
    folder.mkdir()
    plant_pickle(folder, marker)
    with pytest.raises(UnsafeModelError, match="holds only pickle weights"):
        read_meta(folder)


def test_pickle_only_base_model_is_refused(tiny_bert, tmp_path, marker):
    from udf.model import load_encoder

    folder = tmp_path / "base"
    folder.mkdir()
    shutil.copy2(tiny_bert / "config.json", folder / "config.json")
    plant_pickle(folder, marker)
    for load in (resolve_base_model, load_encoder, check_safetensors_dir):
        with pytest.raises(UnsafeModelError, match="safetensors only"):
            load(folder)


def test_pickle_next_to_safetensors_is_never_loaded(artifact_copy, tiny_bert, tmp_path, marker):
    from udf.model import load_encoder

    plant_pickle(artifact_copy, marker)
    model, _ = load_model(artifact_copy)
    assert model.hidden_size == 32
    base = Path(shutil.copytree(tiny_bert, tmp_path / "base"))
    plant_pickle(base, marker)
    assert load_encoder(base).config.hidden_size == 32


def test_pickle_in_a_model_called_from_sql_never_runs(artifact_copy, marker, con):
    import duckdb

    import udf

    (artifact_copy / WEIGHTS_FILE).unlink()
    plant_pickle(artifact_copy, marker)
    udf.register(con, model=str(artifact_copy))
    with pytest.raises(duckdb.Error, match="holds only pickle weights"):
        con.execute("select anomaly_score('view phone')").fetchall()


def test_truncated_weights_are_a_clear_artifact_error(artifact_copy):
    weights = artifact_copy / WEIGHTS_FILE
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(ArtifactError, match="corrupt or was changed after training"):
        load_model(artifact_copy)


def test_altered_weights_are_detected(artifact_copy):
    weights = artifact_copy / WEIGHTS_FILE
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match=r"sha256 [0-9a-f]{12}\.\.\., expected"):
        load_model(artifact_copy)


def test_unparseable_weights_with_matching_digest_are_an_artifact_error(artifact_copy):
    weights = artifact_copy / WEIGHTS_FILE
    weights.write_bytes(weights.read_bytes()[:1000])
    meta_path = artifact_copy / META_FILE
    meta = json.loads(meta_path.read_text())
    meta["weights_sha256"] = file_sha256(weights)
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match="cannot load the model in"):
        load_model(artifact_copy)


def test_missing_weights_are_an_artifact_error(artifact_copy):
    (artifact_copy / WEIGHTS_FILE).unlink()
    with pytest.raises(ArtifactError, match="has no model.safetensors"):
        load_model(artifact_copy)


@pytest.mark.parametrize(("damage", "message"), [
    (lambda meta_path: meta_path.unlink(), "is not a duckbert model .*duckbert train"),
    (lambda meta_path: meta_path.write_text("{not json"), "is not valid JSON"),
    (lambda meta_path: meta_path.write_text('{"name": "x"}'), "lacks format_version, version"),
])
def test_damaged_meta_is_a_clear_artifact_error(artifact_copy, damage, message):
    damage(artifact_copy / META_FILE)
    with pytest.raises(ArtifactError, match=message):
        read_meta(artifact_copy)


def test_newer_artifact_format_asks_for_an_upgrade(artifact_copy):
    meta_path = artifact_copy / META_FILE
    meta = json.loads(meta_path.read_text())
    meta["format_version"] = FORMAT_VERSION + 1
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match="upgrade duckbert"):
        load_model(artifact_copy)


def test_missing_directory_is_a_clear_artifact_error(tmp_path):
    with pytest.raises(ArtifactError, match="does not exist"):
        load_model(tmp_path / "nowhere")


# -- saving -------------------------------------------------------------------------------


def test_save_writes_a_loadable_artifact_and_no_leftovers(tiny_bert, tmp_path):
    import torch

    model = _tiny_model_object(tiny_bert)
    out = save_model(model, tmp_path / "models" / "m1", META, base_dir=tiny_bert)
    assert sorted(p.name for p in out.parent.iterdir()) == ["m1"]
    assert {META_FILE, WEIGHTS_FILE, "config.json", "tokenizer.json", "vocab.txt"} <= {
        p.name for p in out.iterdir()
    }
    loaded, meta = load_model(out)
    assert meta["name"] == "t" and meta["created_at"]
    ids, mask = model.tokenizer.batch(model.tokenizer.ids(["view phone | cart phone"]))
    with torch.inference_mode():
        assert torch.equal(loaded.embed(ids, mask), model.eval().embed(ids, mask))


def test_artifacts_are_never_overwritten(tiny_model, tiny_bert, tmp_path):
    before = {p.name: file_sha256(p) for p in tiny_model.iterdir() if p.is_file()}
    model = _tiny_model_object(tiny_bert)
    with pytest.raises(ArtifactError, match="already exists; artifacts are never overwritten"):
        save_model(model, tiny_model, META)
    assert {p.name: file_sha256(p) for p in tiny_model.iterdir() if p.is_file()} == before
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ArtifactError, match="never overwritten"):
        save_model(model, empty, META)
    assert list(empty.iterdir()) == []


@pytest.mark.parametrize("failure", [OSError("No space left on device"), KeyboardInterrupt()])
def test_a_failed_save_leaves_nothing_visible(tiny_bert, tmp_path, failure):
    model = _tiny_model_object(tiny_bert)
    written = []

    def broken_save(out_dir):
        written.extend(p.name for p in Path(out_dir).iterdir())  # weights are already there
        raise failure

    model.tokenizer.save = broken_save
    parent = tmp_path / "models"
    with pytest.raises(type(failure)):
        save_model(model, parent / "m1", META)
    assert WEIGHTS_FILE in written
    assert list(parent.iterdir()) == []
