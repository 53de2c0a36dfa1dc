"""Fixtures of the reliability suite (the tiny BERT and artifact come from tests/conftest.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """One intra-op thread: the machine's 2 cores are shared by two test workers."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _clean_model_env(monkeypatch):
    """No model, device or precision inherited from the caller's shell."""
    for name in ("DUCKBERT_MODEL", "DUCKBERT_DEVICE", "DUCKBERT_PRECISION", "DUCKBERT_DB"):
        monkeypatch.delenv(name, raising=False)
