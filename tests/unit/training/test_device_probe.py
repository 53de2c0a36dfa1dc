"""Training keeps its validation sample in the artifact, so a GPU can approve its own
precisions on first load (udf/device_check.py); on the CPU it measures no GPU figures."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.training_data import make_training_table
from training.config import TrainConfig
from training.precision import MAX_SESSIONS
from training.trainer import train
from udf.device_check import read_probe


def test_a_trained_artifact_carries_the_probe(tmp_path, tiny_bert):
    db = make_training_table(tmp_path / "w.duckdb")
    result = train(TrainConfig(db_path=db, base_model=str(tiny_bert), mode="head",
                               progress=False, compare_peers=False),
                   log=lambda *a, **k: None)
    path = Path(result.path)
    probe = read_probe(path)
    assert probe is not None and 0 < len(probe["texts"]) <= MAX_SESSIONS
    assert probe["threshold"] == result.threshold
    assert sorted(set(probe["labels"])) == [0, 1]
    assert not list((path / "runtime").glob("precision-*.json"))  # trained on the CPU
