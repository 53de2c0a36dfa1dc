"""Precision approved on the device that serves (udf/device_check.py): the probe kept in the
artifact, the decision figures measured against fp32 on that device, stored beside the
artifact and reused. Run here on the CPU; tests/unit/udf/test_cuda.py runs it on a GPU."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.helpers.samples import session_texts
from udf import device_check
from udf.device_check import (
    PROBE_FILE,
    check_for,
    check_path,
    measure,
    read_probe,
    save_check,
    stored_check,
    write_probe,
)


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread(one_torch_thread):
    """Every test here runs with one torch thread (tests/conftest.py)."""


@pytest.fixture
def artifact(tiny_model, tmp_path):
    """A copy of the tiny artifact with a probe of 40 labelled validation sessions."""
    path = shutil.copytree(tiny_model, tmp_path / "model")
    texts = session_texts(40, seed=9)
    write_probe(path, texts, [i % 4 == 0 for i in range(40)], threshold=0.5)
    return path


def test_the_probe_round_trips_and_a_bad_one_reads_as_none(artifact):
    probe = read_probe(artifact)
    assert len(probe["texts"]) == 40 and probe["labels"][:4] == [1, 0, 0, 0]
    (artifact / PROBE_FILE).write_text("{not json")
    assert read_probe(artifact) is None
    (artifact / PROBE_FILE).write_text(json.dumps({"texts": [], "threshold": 0.5}))
    assert read_probe(artifact) is None


def test_measure_judges_each_variant_against_fp32_on_the_same_device(artifact):
    check = measure(artifact, "cpu", read_probe(artifact), variants=("torch-bf16",))
    assert check["reference"] == "torch-fp32" and check["device"] == "cpu"
    assert check["labelled"] is True and check["sessions"] == 40
    bf16 = check["variants"]["torch-bf16"]
    assert 0.0 <= bf16["flag_agreement"] <= 1.0
    assert bf16["flags_changed"] == round((1 - bf16["flag_agreement"]) * 40)
    assert bf16["approved"] == (bf16["flag_agreement"] >= 0.995
                                and abs(bf16["pr_auc_delta"]) <= 0.005)
    assert bf16["why"]


def test_a_variant_that_cannot_run_is_refused_with_the_reason(artifact):
    check = measure(artifact, "cpu", read_probe(artifact), variants=("torch-int4",))
    entry = check["variants"]["torch-int4"]
    assert entry["approved"] is False and "could not run" in entry["why"]


def test_figures_are_stored_beside_the_artifact_and_reused(artifact, monkeypatch):
    first = check_for(artifact, "cpu")
    assert check_path(artifact, "cpu").exists() and stored_check(artifact, "cpu") == first

    def must_not_measure(*args, **kwargs):
        raise AssertionError("measured again although figures were stored")

    monkeypatch.setattr(device_check, "measure", must_not_measure)
    assert check_for(artifact, "cpu") == first


def test_a_damaged_store_is_measured_again(artifact):
    check_path(artifact, "cpu").parent.mkdir(exist_ok=True)
    check_path(artifact, "cpu").write_text("{half a file")
    assert stored_check(artifact, "cpu") is None
    assert check_for(artifact, "cpu")["variants"]
    assert stored_check(artifact, "cpu") is not None


def test_without_a_probe_nothing_is_approved(tiny_model, tmp_path):
    path = shutil.copytree(tiny_model, tmp_path / "old")
    assert not (path / PROBE_FILE).exists()
    assert check_for(path, "cpu") is None


def test_a_read_only_artifact_still_gets_its_figures(artifact, tmp_path):
    assert save_check(tmp_path / "missing" / "dir", "cpu", {"variants": {}}) is None
