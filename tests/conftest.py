"""Shared fixtures: a tiny random BERT (no network) and a duckbert artifact built on it."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tests.helpers.models import build_tiny_artifact, build_tiny_bert


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
