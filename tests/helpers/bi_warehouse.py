"""One small scored warehouse for the BI, report, drift, feedback-loop and batch-score tests.

generate (200 users) -> load -> dbt build -> train (head mode on the tiny random BERT) ->
dbt build: what `duckbert demo` does, on a model small enough for a test. As in a real
warehouse, not every session has a label: the normal sessions of one user in eight are
unlabelled (their labels are kept aside in UNLABELLED), so flagged sessions can await an
analyst's verdict, which the feedback-loop test gives. It is built once
per test run and shared: across modules in one process, and across pytest-xdist workers
through a file lock in the run's shared temporary directory. The base warehouse is never
written after it is built; a test that changes a warehouse works on `copy_warehouse`.

Builds run with DUCKBERT_PRECISION=fp32: the scorer then reuses the embeddings the training
run stored, so scoring the training sessions costs no forward pass on these 2-core machines.
Precision is not under test here (tests/unit covers int8 and the precision check).
"""

from __future__ import annotations

import csv
import fcntl
import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb

from duckbert.dbt_runner import dbt_build, run_dbt

USERS = 300  # enough flagged sessions for the review and report tests
SEED = 3
ENV = {"DUCKBERT_MODEL": "", "DUCKBERT_PRECISION": "fp32"}
UNLABELLED = "unlabelled.csv"  # the held-back labels: the truth about unlabelled sessions
_BUILT: dict[str, Warehouse] = {}


@dataclass
class Warehouse:
    """A warehouse file, the folder around it, and how to build and query it."""

    root: Path

    @property
    def db(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def target(self) -> Path:
        return self.root / "target"

    def dbt(self, command: str = "build", check: bool = True, **options):
        result = run_dbt(command, self.db, out=None, env=ENV, target_path=self.target,
                         log_path=self.root / "logs", **options)
        if check:
            assert result.ok, "\n".join(result.tail)
        return result

    def q(self, sql: str, params=None) -> list[tuple]:
        con = duckdb.connect(str(self.db), read_only=True)
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()

    def execute(self, *statements: str) -> None:
        con = duckdb.connect(str(self.db))
        try:
            for sql in statements:
                con.execute(sql)
        finally:
            con.close()

    def current_version(self) -> str:
        return self.q("select version from duckbert_models where is_current")[0][0]

    def run_results(self) -> dict[str, dict]:
        """unique_id -> result of the last dbt command on this warehouse's target folder."""
        data = json.loads((self.target / "run_results.json").read_text())
        return {r["unique_id"]: r for r in data["results"]}


def _hold_back_labels(data: Path) -> Path:
    """labels.csv without the normal sessions of one user in eight (by a hash of user_id):
    traffic nobody has reviewed yet, while every confirmed abuse case stays labelled (the
    splits need their few anomalies). The held-back rows go to UNLABELLED; returns the file
    to load."""
    with open(data / "events.csv", newline="") as fh:
        user_of = {row["user_session"]: row["user_id"] for row in csv.DictReader(fh)}
    with open(data / "labels.csv", newline="") as fh:
        header, *rows = list(csv.reader(fh))
    label = header.index("is_anomaly")

    def held(row):
        return row[label] == "false" and \
            hashlib.md5(user_of.get(row[0], "").encode()).hexdigest()[0] in "01"

    for name, keep in (("labels_loaded.csv", False), (UNLABELLED, True)):
        with open(data / name, "w", newline="") as fh:
            csv.writer(fh).writerows([header, *(r for r in rows if held(r) == keep)])
    return data / "labels_loaded.csv"


def _build(root: Path, tiny_bert: Path) -> Warehouse:
    from duckbert.loader import load
    from duckbert.synthetic import generate
    from training.config import TrainConfig
    from training.trainer import train

    wh = Warehouse(root)
    data = root / "data"
    generate(data, users=USERS, seed=SEED)
    con = duckdb.connect(str(wh.db))
    try:
        load(con, events=data / "events.csv", reviews=data / "reviews.csv",
             labels=_hold_back_labels(data))
    finally:
        con.close()
    result = dbt_build(wh.db, out=None, env=ENV, target_path=wh.target, log_path=root / "logs")
    assert result.ok, "\n".join(result.tail)
    trained = train(TrainConfig(db_path=str(wh.db), base_model=str(tiny_bert), mode="head",
                                progress=False, compare_peers=False), log=lambda *_: None)
    assert trained.kept
    wh.dbt("build")
    (root / "built.json").write_text(json.dumps({"version": trained.version}))
    return wh


def base_warehouse(tmp_path_factory, worker_id: str, tiny_bert: Path) -> Warehouse:
    """The shared, scored warehouse (read it; copy it before changing anything)."""
    if "base" in _BUILT:
        return _BUILT["base"]
    shared = tmp_path_factory.getbasetemp()
    if worker_id != "master":  # xdist: the run's folder above every worker's own
        shared = shared.parent
    root = shared / "bi-warehouse"
    with open(shared / "bi-warehouse.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not (root / "built.json").exists():
                shutil.rmtree(root, ignore_errors=True)  # a build that failed half-way
                root.mkdir(parents=True)
                _build(root, tiny_bert)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    _BUILT["base"] = Warehouse(root)
    return _BUILT["base"]


def copy_warehouse(base: Warehouse, root: Path) -> Warehouse:
    """A private copy of the warehouse file (its models stay where the base put them)."""
    root.mkdir(parents=True, exist_ok=True)
    copy = Warehouse(root)
    shutil.copy2(base.db, copy.db)
    wal = base.db.with_name(base.db.name + ".wal")
    if wal.exists():
        shutil.copy2(wal, copy.db.with_name(copy.db.name + ".wal"))
    return copy
