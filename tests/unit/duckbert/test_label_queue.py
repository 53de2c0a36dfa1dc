"""The review queue's side of the single-writer rule: side queue, lock probe, snapshot.

Other processes hold the warehouse here for real (a child process with a DuckDB connection,
or with duckbert's writer turn), since a lock held by this process is invisible to F_GETLK.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import duckdb
import pytest

from duckbert import label_queue
from duckbert.labels import Label
from duckbert.loader import ensure_tables
from duckbert.review.snapshot import Snapshot
from duckbert.writer_lock import holder, turn_path

HOLD = """
import sys, time, duckdb, fcntl
mode, path = sys.argv[1], sys.argv[2]
if mode == "turn":
    fh = open(path, "a"); fcntl.flock(fh, fcntl.LOCK_SH)
else:
    con = duckdb.connect(path, read_only=(mode == "read"))
print("held", flush=True)
sys.stdin.read()
"""


class Holder:
    """A child process that holds `path` (duckdb write/read, or the writer turn) until closed."""

    def __init__(self, mode: str, path):
        self.proc = subprocess.Popen([sys.executable, "-c", HOLD, mode, str(path)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "held"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    ensure_tables(con)
    con.execute("create table sessions as select 's' || range as session_id from range(5)")
    con.close()
    return path


def rows(db) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("select session_id, is_anomaly, label_source, labelled_at, extra, "
                           "source_file from raw_labels order by source_row").fetchall()
    finally:
        con.close()


def test_queued_labels_reach_raw_labels_once(db):
    first = Label("s1", True, note="card testing", source="ana")
    second = Label("s2", False)
    label_queue.enqueue(db, first)
    label_queue.enqueue(db, second)
    result = label_queue.flush(db)
    assert (result.written, result.waiting, result.busy) == (2, 0, None)
    assert not label_queue.queue_path(db).exists()
    got = rows(db)
    assert [(r[0], r[1], r[2], r[5]) for r in got] == [
        ("s1", True, "ana", "duckbert review"), ("s2", False, "analyst", "duckbert review")]
    assert got[0][3].isoformat() == first.labelled_at, "labelled_at is the verdict's time"
    assert json.loads(got[0][4]) == {"label_id": first.label_id, "note": "card testing"}
    # a crash after the commit but before the queue was rewritten: the same labels again
    label_queue.enqueue(db, first)
    assert label_queue.flush(db).written == 0
    assert len(rows(db)) == 2 and not label_queue.queue_path(db).exists()


def test_a_label_for_a_vanished_session_is_kept_with_its_reason(db):
    label_queue.enqueue(db, Label("gone", True))
    label_queue.enqueue(db, Label("s3", True))
    with open(label_queue.queue_path(db), "a") as fh:
        fh.write('{"label": {"session_id": "s4"')  # a torn last line
    result = label_queue.flush(db)
    assert result.written == 1 and result.waiting == 2
    held = label_queue.pending(db)
    assert "not in the sessions table" in held[0]["held"]
    assert held[0]["label"].session_id == "gone"
    assert "not a label" in held[1]["held"]
    assert [r[0] for r in rows(db)] == ["s3"]


def test_a_busy_warehouse_keeps_the_labels_queued(db):
    label_queue.enqueue(db, Label("s1", True))
    with Holder("write", db) as other:
        assert holder(db) == other.proc.pid
        result = label_queue.flush(db)
        assert result.written == 0 and result.waiting == 1
        assert f"held by process {other.proc.pid}" in result.busy
    with Holder("turn", turn_path(db)):
        result = label_queue.flush(db)
        assert result.written == 0 and "duckbert build" in result.busy
    assert holder(db) is None
    assert label_queue.flush(db).written == 1


def test_the_lock_probe_takes_no_lock(db):
    with Holder("read", db) as reader:
        assert holder(db, writers_only=True) is None, "a reader does not stop a copy"
        assert holder(db) == reader.proc.pid, "but it does stop a write"
    for _ in range(3):
        assert holder(db) is None
    con = duckdb.connect(str(db))  # probing left nothing behind: a writer still gets in
    con.close()


def test_the_snapshot_copies_a_free_file_and_waits_out_a_writer(db):
    snap = Snapshot(db, refresh_s=0)
    try:
        assert snap.query("select count(*) from sessions") == [(5,)]
        con = duckdb.connect(str(db))
        con.execute("insert into sessions values ('s9')")
        con.close()
        with Holder("write", db) as writer:
            assert snap.query("select count(*) from sessions") == [(5,)], "the old snapshot"
            assert f"process {writer.proc.pid}" in snap.status.busy
        time.sleep(0.01)
        assert snap.query("select count(*) from sessions") == [(6,)]
        assert snap.status.busy is None
    finally:
        snap.close()
