"""Faults around `duckbert build`, on one generated warehouse, in the order an operator meets
them (module-scoped phases; each test checks one):

1. a first build scores every session of the first batch of users;
2. a second batch arrives and its build is SIGKILLed (whole process group) while scoring;
3. another build loses its dbt child to an OOM-killer-style SIGKILL while scoring;

(the kills come from inside, from tests/reliability/inject/sitecustomize.py, after the
scorer's third encoder batch of the new sessions: the same signal at a known moment, where a
timer would sometimes fire before the model loaded or after scoring ended)
4. a build starts while a BI tool holds the file read-only: one clear message;
5. the rerun (`--threads 4`) scores every session exactly once, none lost or duplicated,
   without rescoring the sessions scored before the faults.

Every fault must leave `session_scores` exactly as it was.
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import time
import zlib
from pathlib import Path

import duckdb
import pytest

from duckbert.dbt_runner import dbt_build
from duckbert.loader import load
from tests.helpers.models import build_tiny_artifact
from tests.helpers.processes import (
    DUCKBERT,
    REPO,
    child_env,
    kill_group,
    query,
    wait_unlocked,
)
from udf.connect import WarehouseLockedError, connect_warehouse

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("build_faults")]

INJECT = Path(__file__).resolve().parent / "inject"

USERS = 60
SCORING_START = "START sql incremental model main.session_scores"
SCORING_DONE = re.compile(r"OK created sql incremental model main\.session_scores .*"
                          r"\[OK in ([\d.]+)s\]")
NO_TESTS = ["test_type:data", "test_type:unit"]
SCORES_SQL = ("select session_id, text_hash, anomaly_score, model_version, scored_at "
              "from session_scores")


class Warehouse:
    def __init__(self, root: Path, model: Path):
        self.root = root
        self.db = root / "warehouse.duckdb"
        self.model = model
        self.env = {"DUCKBERT_MODEL": str(model), "OMP_NUM_THREADS": "1"}

    def build(self, **options):
        return dbt_build(self.db, out=None, env={**self.env, **options.pop("env", {})},
                         target_path=self.root / "target", log_path=self.root / "logs",
                         exclude=NO_TESTS, **options)

    def cli_env(self, **extra):
        return child_env(**self.env, DBT_TARGET_PATH=str(self.root / "target"),
                         DBT_LOG_PATH=str(self.root / "logs"), **extra)

    def scores(self) -> dict[str, tuple]:
        rows = query(self.db, SCORES_SQL)
        out = {r[0]: r[1:] for r in rows}
        assert len(out) == len(rows), "a session is scored twice"
        return out


def split_by_user(source: Path, out: dict[str, Path]) -> None:
    """Two files of the same rows: a third of the users in `a`, the rest in `b`."""
    with open(source, newline="") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    user = header.index("user_id")
    for part, path in out.items():
        with open(path, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(header)
            writer.writerows(r for r in body
                             if (zlib.crc32(r[user].encode()) % 3 == 0) == (part == "a"))


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory, tiny_bert):
    from duckbert.synthetic import generate

    root = tmp_path_factory.mktemp("build-faults")
    # a threshold of 0.8 flags (and so explains) a fraction of the sessions, as in production
    model = build_tiny_artifact(tiny_bert, root / "models" / "tiny", threshold=0.8)
    wh = Warehouse(root, model)
    generate(root / "data", users=USERS, seed=23)
    for name in ("events", "reviews"):
        split_by_user(root / "data" / f"{name}.csv",
                      {p: root / f"{p}_{name}.csv" for p in "ab"})
    con = duckdb.connect(str(wh.db))
    try:
        load(con, events=root / "a_events.csv", reviews=root / "a_reviews.csv",
             labels=root / "data" / "labels.csv")
    finally:
        con.close()
    return wh


@pytest.fixture(scope="module")
def first_build(warehouse):
    result = warehouse.build()
    assert result.ok, "\n".join(result.tail)
    assert any(SCORING_DONE.search(line) for line in result.tail), "\n".join(result.tail)
    warehouse.first_scores = warehouse.scores()
    con = duckdb.connect(str(warehouse.db))
    try:
        load(con, events=warehouse.root / "b_events.csv",
             reviews=warehouse.root / "b_reviews.csv")
    finally:
        con.close()
    return warehouse


def start_faulty_build(wh: Warehouse, kill: str, after_batches: int = 3,
                       wait_for_go: bool = False) -> tuple[subprocess.Popen, Path, Path, Path]:
    """`duckbert build` in its own process group, with the fault hook of
    tests/reliability/inject planted in its processes: after `after_batches` encoder batches
    of the new sessions, the dbt process SIGKILLs its group (`kill="group"`) or itself."""
    marker = wh.root / f"fault-{kill}.pid"
    go = wh.root / f"fault-{kill}.go"
    marker.unlink(missing_ok=True)
    go.unlink(missing_ok=True)
    fault = {"DUCKBERT_FAULT_AFTER_BATCHES": str(after_batches),
             "DUCKBERT_FAULT_MARKER": str(marker), "DUCKBERT_FAULT_KILL": kill}
    if wait_for_go:
        fault["DUCKBERT_FAULT_GO"] = str(go)
    env = wh.cli_env(**fault)
    env["PYTHONPATH"] = os.pathsep.join([str(INJECT), env["PYTHONPATH"]])
    log = wh.root / f"fault-{kill}.log"
    with open(log, "w") as out:  # a file, not a pipe nobody reads while the test waits
        proc = subprocess.Popen(
            [*DUCKBERT, "build", "--db", str(wh.db),
             *[a for t in NO_TESTS for a in ("--exclude", t)]],
            stdout=out, stderr=subprocess.STDOUT, env=env, cwd=str(REPO),
            start_new_session=True)
    return proc, marker, go, log


def wait_for(path: Path, proc: subprocess.Popen, log: Path, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"the build ended before the fault; see {log}")
        assert time.monotonic() < deadline, "no fault within the time limit"
        time.sleep(0.05)


def test_the_first_build_scores_every_session(first_build):
    sessions = query(first_build.db, "select count(*) from sessions")[0][0]
    assert sessions > 50
    assert len(first_build.first_scores) == sessions


@pytest.fixture(scope="module")
def killed_group(first_build):
    wh = first_build
    proc, marker, go, log = start_faulty_build(wh, "group", wait_for_go=True)
    wait_for(marker, proc, log)  # the dbt process is mid-scoring, and waits
    # a BI tool that tries to read meanwhile gets a clear message, not a hang
    with pytest.raises(WarehouseLockedError, match=r"is locked by process \d+"):
        connect_warehouse(wh.db, read_only=True)
    go.touch()
    proc.wait(timeout=120)
    kill_group(proc)  # every member is gone (it killed itself; this only waits)
    wh.killed_output = log.read_text()
    wh.killed_returncode = proc.returncode
    wait_unlocked(wh.db)
    return wh


def test_a_build_killed_while_scoring_loses_no_scored_session(killed_group):
    wh = killed_group
    assert wh.killed_returncode == -9
    assert SCORING_START in wh.killed_output
    assert not SCORING_DONE.search(wh.killed_output), "the kill came after scoring"
    assert wh.scores() == wh.first_scores
    # the file is sound: it opens for writing and checkpoints
    con = duckdb.connect(str(wh.db))
    try:
        con.execute("checkpoint")
        assert con.execute("select count(*) from sessions").fetchall()[0][0] > \
            len(wh.first_scores)
    finally:
        con.close()


@pytest.fixture(scope="module")
def killed_child(killed_group):
    """Only the dbt process (the one that holds the model and the most memory) is killed, as
    the OOM killer would; duckbert itself survives and must report the failure."""
    wh = killed_group
    proc, marker, _, log = start_faulty_build(wh, "self")
    proc.wait(timeout=300)
    output = log.read_text()
    assert marker.exists(), output[-3000:]
    assert int(marker.read_text()) != proc.pid  # it was the dbt child that died
    wait_unlocked(wh.db)
    wh.child_kill = (proc.returncode, output)
    return wh


def test_a_dbt_child_killed_while_scoring_fails_the_build_and_loses_nothing(killed_child):
    wh = killed_child
    returncode, output = wh.child_kill
    assert returncode == 128 + 9, output[-3000:]  # duckbert lived and reports the signal
    assert "dbt was killed by SIGKILL (the out-of-memory killer sends this)" in output
    assert SCORING_START in output and not SCORING_DONE.search(output)
    assert wh.scores() == wh.first_scores


def test_a_bi_reader_holding_the_file_stops_the_build_with_one_clear_message(killed_child):
    wh = killed_child
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys; con = duckdb.connect(sys.argv[1], read_only=True); "
         "print(con.execute('select count(*) from session_scores').fetchall()[0][0], "
         "flush=True); sys.stdin.readline(); "
         "print(con.execute('select count(*) from session_scores').fetchall()[0][0], "
         "flush=True)", str(wh.db)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        count = int(holder.stdout.readline())
        started = time.monotonic()
        done = subprocess.run([*DUCKBERT, "build", "--db", str(wh.db)], env=wh.cli_env(),
                              capture_output=True, text=True, timeout=120)
        took = time.monotonic() - started
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert int(holder.stdout.readline()) == count  # the reader was never disturbed
    finally:
        holder.kill()
        holder.wait()
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert f"is locked by process {holder.pid}" in output, output
    assert "BI tool" in output and "Traceback" not in output
    assert took < 60, "the lock should be reported before dbt starts"
    assert count == len(wh.first_scores)
    assert wh.scores() == wh.first_scores


@pytest.fixture(scope="module")
def rerun(killed_child):
    wh = killed_child
    wait_unlocked(wh.db)
    result = wh.build(threads=4)
    assert result.ok, "\n".join(result.tail)
    return wh


def test_the_rerun_scores_every_session_exactly_once(rerun):
    wh = rerun
    sessions = dict(query(wh.db, "select session_id, md5(session_text) from sessions"))
    scores = wh.scores()
    assert set(scores) == set(sessions), "sessions lost or scored that do not exist"
    version = json.loads((wh.model / "duckbert.json").read_text())["version"]
    assert {v[2] for v in scores.values()} == {version}
    assert all(scores[s][0] == sessions[s] for s in sessions), "a score of a stale text"
    # sessions scored before the faults, text unchanged, were not scored again
    kept = [s for s, v in wh.first_scores.items() if s in sessions and v[0] == sessions[s]]
    assert len(kept) >= 0.9 * len(wh.first_scores)
    assert all(scores[s] == wh.first_scores[s] for s in kept)


def test_the_rerun_scores_match_the_sql_function(rerun):
    """What four dbt threads wrote is what anomaly_score() gives in this process."""
    import udf

    wh = rerun
    con = duckdb.connect(str(wh.db), read_only=True)
    try:
        udf.register(con, model=str(wh.model))
        mismatched = con.execute(
            "select count(*) from session_scores c join sessions s using (session_id) "
            "where c.anomaly_score <> anomaly_score(s.session_text)").fetchall()[0][0]
        flagged = con.execute("select count(*) from flagged_sessions").fetchall()[0][0]
        over = con.execute("select count(*) from session_scores where anomaly_score >= "
                           "anomaly_threshold()").fetchall()[0][0]
    finally:
        con.close()
    assert mismatched == 0
    assert flagged == over


def test_bi_readers_read_concurrently_after_the_build(rerun):
    wh = rerun
    sql = "select count(*), round(sum(anomaly_score), 6) from session_scores"
    readers = [subprocess.Popen([*DUCKBERT, "sql", "--db", str(wh.db), "--read-only",
                                 "--format", "csv", sql], env=wh.cli_env(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(2)]
    outputs = [r.communicate(timeout=120) for r in readers]
    assert [r.returncode for r in readers] == [0, 0], outputs
    assert outputs[0][0] == outputs[1][0] and str(len(wh.scores())) in outputs[0][0]
