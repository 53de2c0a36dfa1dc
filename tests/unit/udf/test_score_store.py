"""The score store beside the model: repeats without the encoder, per variant, safe to share."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from tests.helpers.samples import session_texts
from udf.onnx_backend import RUNTIME_DIR
from udf.score_store import FILE_NAME, ScoreStore, text_sha256
from udf.scorer import Scorer

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def artifact(tiny_model, tmp_path):
    out = tmp_path / "model"
    shutil.copytree(tiny_model, out, ignore=shutil.ignore_patterns(FILE_NAME + "*"))
    return out


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in ("DUCKBERT_PRECISION", "DUCKBERT_BACKEND", "DUCKBERT_SCORE_STORE",
                 "DUCKBERT_CACHE_SIZE"):
        monkeypatch.delenv(name, raising=False)


def test_a_new_process_serves_stored_scores_without_the_encoder(artifact):
    texts = session_texts(300, seed=3)
    first = Scorer(artifact)
    scores = first.score(texts)
    assert first.forward_rows == len(set(texts))
    second = Scorer(artifact)  # as a later process would: empty in-process cache
    started = time.perf_counter()
    again = second.score(texts)
    elapsed = time.perf_counter() - started
    assert again == scores  # bit-identical
    assert second.forward_rows == 0 and second.score_store.hits == len(set(texts))
    assert len(texts) / elapsed > 2_000  # lookups, not forward passes (>= 10k rows/s quiet)


def test_the_store_is_keyed_by_variant_and_version(artifact):
    texts = session_texts(20, seed=4)
    Scorer(artifact, precision="onnx-int8").score(texts)
    other = Scorer(artifact, precision="fp32")
    other.score(texts)
    assert other.forward_rows == len(set(texts))  # int8 scores never stand in for fp32
    store = ScoreStore(artifact, "another-version", "onnx-int8")
    assert store.get_many([text_sha256(t) for t in texts]) == [None] * len(texts)


def test_uncached_scorers_and_the_switch_leave_the_store_alone(artifact, monkeypatch):
    assert Scorer(artifact, cache_size=0).score_store is None
    monkeypatch.setenv("DUCKBERT_SCORE_STORE", "0")
    assert Scorer(artifact).score_store is None


def test_a_read_only_folder_disables_the_store_with_a_warning(artifact, caplog):
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    runtime = artifact / RUNTIME_DIR
    runtime.mkdir(exist_ok=True)
    runtime.chmod(0o555)
    try:
        scorer = Scorer(artifact, precision="fp32")
        assert scorer.score(["a | b"])[0] is not None
        assert "score store off" in caplog.text
    finally:
        runtime.chmod(0o755)


def test_a_broken_file_is_skipped_not_fatal(artifact, caplog):
    runtime = artifact / RUNTIME_DIR
    runtime.mkdir(exist_ok=True)
    (runtime / FILE_NAME).write_bytes(b"this is not a database" * 100)
    scorer = Scorer(artifact, precision="fp32")
    assert scorer.score(["view x | cart y"])[0] is not None
    assert "score store" in caplog.text


def test_readers_during_writes_and_a_killed_writer(artifact):
    """Another process writes batches and is killed mid-way; readers here never fail and
    the file stays consistent, with every committed batch readable."""
    store_path = artifact / RUNTIME_DIR / FILE_NAME
    writer = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(os.getcwd())!r})
        from udf.score_store import ScoreStore
        store = ScoreStore({str(artifact)!r}, "v1", "onnx-int8")
        n = 0
        while True:
            store.put_many({{(str(n) + ":" + str(i)).encode().ljust(32, b"."): 0.5
                            for i in range(500)}})
            n += 1
            print(n, flush=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", writer], stdout=subprocess.PIPE, text=True)
    errors = []

    def read():
        reader = ScoreStore(artifact, "v1", "onnx-int8")
        keys = [(f"0:{i}").encode().ljust(32, b".") for i in range(500)]
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            try:
                reader.get_many(keys)
            except Exception as exc:  # pragma: no cover - the assertion reports it
                errors.append(exc)
        reader.close()

    threads = [threading.Thread(target=read) for _ in range(3)]
    try:
        assert proc.stdout.readline().strip() == "1"
        for thread in threads:
            thread.start()
        for _ in range(3):
            proc.stdout.readline()
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    for thread in threads:
        thread.join()
    assert errors == []
    con = sqlite3.connect(str(store_path))
    try:
        assert con.execute("pragma integrity_check").fetchall() == [("ok",)]
        count = con.execute("select count(*) from scores").fetchall()[0][0]
    finally:
        con.close()
    assert count >= 4 * 500 and count % 500 == 0  # whole batches only
    reader = ScoreStore(artifact, "v1", "onnx-int8")
    assert reader.get_many([b"0:7".ljust(32, b".")]) == [0.5]
