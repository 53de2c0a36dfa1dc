"""Shared fixtures: a tiny random BERT (no network) and a duckbert artifact built on it."""

from __future__ import annotations

import functools
from pathlib import Path

import duckdb
import pytest

from tests.helpers.models import build_tiny_artifact, build_tiny_bert


@functools.cache
def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def pytest_collection_modifyitems(config, items):
    """`gpu` tests run where torch sees a CUDA GPU and are skipped (still collected) elsewhere."""
    gpu_items = [item for item in items if item.get_closest_marker("gpu")]
    if gpu_items and not cuda_available():
        skip = pytest.mark.skip(reason="needs a CUDA GPU; torch sees none")
        for item in gpu_items:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _stated_device(request, monkeypatch):
    """Every test states its device: `gpu` tests run on cuda, every other test on the CPU,
    whatever the machine has (DUCKBERT_DEVICE is what scorer, training and the CLI read, and
    subprocesses inherit it). A test of the automatic choice deletes it itself."""
    monkeypatch.setenv("DUCKBERT_DEVICE", "cuda" if request.node.get_closest_marker("gpu")
                       else "cpu")


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-bert") / "model")


@pytest.fixture(scope="session")
def tiny_model(tiny_bert, tmp_path_factory) -> Path:
    return build_tiny_artifact(tiny_bert, tmp_path_factory.mktemp("artifacts") / "tiny")


@pytest.fixture
def con():
    """An in-memory DuckDB connection, closed after the test."""
    connection = duckdb.connect(":memory:")
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def one_torch_thread():
    """One intra-op thread: the machine's 2 cores are shared by two test workers."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
