"""Fixtures of the reliability suite (the tiny BERT and artifact come from tests/conftest.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread(one_torch_thread):
    """Every test here runs with one torch thread (tests/conftest.py)."""


@pytest.fixture(autouse=True)
def _clean_model_env(monkeypatch):
    """No model or precision inherited from the caller's shell (the device: tests/conftest.py)."""
    for name in ("DUCKBERT_MODEL", "DUCKBERT_PRECISION", "DUCKBERT_DB"):
        monkeypatch.delenv(name, raising=False)
