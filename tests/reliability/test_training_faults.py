"""A training run killed at any stage leaves the previous model current and serving the
same scores, no half-written artifact visible, and the next run sweeps the debris and
succeeds.

One warehouse and models folder; a first run in this process makes model 1 current and
records its SQL scores of a fixed set of texts. Then `duckbert train` child processes die by
SIGKILL: from outside while the head trains, and from inside (tests/reliability/killpoint.py)
at every stage: while the encoder embeds new sessions, while the head is fitted, during a
full fine-tuning step, while the artifact is being written, while its drift baselines are
computed (artifact in place, nothing recorded) and inside the catalog transaction that would
make the new version current. After each kill a fresh process-wide scorer gives the very
same scores; the run after the kills sweeps the hidden temporary directory and becomes
current.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

import udf
from tests.helpers.processes import REPO, child_env, kill_group, query, spawn
from tests.helpers.training_data import make_training_table
from training.config import TrainConfig
from training.trainer import train
from udf.artifact import META_FILE, load_model

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("training_faults")]

KILLPOINT = REPO / "tests" / "reliability" / "killpoint.py"
NAME = "fraud"


class Setup:
    def __init__(self, root: Path, tiny_bert: Path):
        self.root = root
        self.db = make_training_table(root / "w.duckdb", users=60, anomaly_rate=0.35)
        self.models = root / "models"
        self.tiny_bert = tiny_bert

    def args(self) -> list[str]:
        return ["train", "--db", self.db, "--base-model", str(self.tiny_bert), "--mode", "head",
                "--no-peers", "--quiet", "--name", NAME, "--models-dir", str(self.models)]

    def catalog(self) -> list[tuple]:
        return query(Path(self.db), "select version, is_current, status from duckbert_models "
                                    "order by created_at, version")

    def current(self) -> str:
        rows = [r[0] for r in self.catalog() if r[1]]
        assert len(rows) == 1, f"exactly one current model expected: {self.catalog()}"
        return rows[0]

    def visible_artifacts(self) -> list[Path]:
        folder = self.models / NAME
        return sorted(p for p in folder.iterdir() if not p.name.startswith("."))

    def hidden_temps(self) -> list[Path]:
        return sorted((self.models / NAME).glob(".*.tmp-*"))


@pytest.fixture(scope="module")
def setup(tmp_path_factory, tiny_bert):
    s = Setup(tmp_path_factory.mktemp("train-faults"), tiny_bert)
    result = train(TrainConfig(db_path=s.db, base_model=str(tiny_bert), mode="head",
                               name=NAME, models_dir=str(s.models), progress=False,
                               compare_peers=False), log=lambda *_: None)
    s.first = result.version
    assert s.current() == s.first
    s.reference = sql_scores(s)
    return s


TEXTS = ["view phone | cart phone", "12 events 3 min | purchase tv lg p2 4s",
         "view sofa ikea p1 30s | view sofa ikea p1 2s | purchase book sony p5 1s"]


def sql_scores(s: Setup) -> list[float]:
    """The current model's SQL scores of TEXTS, from a freshly loaded scorer."""
    from udf.scorer import clear_scorers

    clear_scorers()
    con = duckdb.connect(s.db, read_only=True)
    try:
        udf.register(con)
        return [con.execute("select anomaly_score(?)", [t]).fetchall()[0][0] for t in TEXTS]
    finally:
        con.close()


def assert_previous_model_still_serves(s: Setup) -> None:
    assert s.current() == s.first
    assert sql_scores(s) == s.reference
    for artifact in s.visible_artifacts():  # everything visible is complete and verified
        model, meta = load_model(artifact)
        assert meta["version"] == artifact.name
    con = duckdb.connect(s.db, read_only=True)
    try:
        udf.register(con)
        info = json.loads(con.execute("select anomaly_model()").fetchall()[0][0])
        assert info["version"] == s.first
        score = con.execute("select anomaly_score('view phone | cart phone')").fetchall()[0][0]
        assert 0.0 <= score <= 1.0
    finally:
        con.close()


def run_to_killpoint(s: Setup, point: str, extra: tuple = ()) -> str:
    done = subprocess.run([sys.executable, str(KILLPOINT), point, *s.args(), *extra],
                          env=child_env(), cwd=str(REPO), capture_output=True, text=True,
                          timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode == -9, output[-3000:]
    assert f"KILLPOINT {point}" in output, output[-3000:]
    return output


def test_killed_while_training_the_head(setup):
    s = setup
    catalog = s.catalog()
    proc = spawn([sys.executable, str(KILLPOINT), "none", *s.args()], child_env())
    seen = []
    for line in proc.stdout:  # the split is logged once the data is read, before encoding
        seen.append(line)
        if "split by" in line or "training the head" in line:
            break
    else:
        proc.wait()
        raise AssertionError("the run ended before training:\n" + "".join(seen[-30:]))
    time.sleep(1.0)  # into encoding and head training, far from the save
    assert proc.poll() is None, "".join(seen[-30:])
    kill_group(proc)
    proc.stdout.close()
    assert s.catalog() == catalog
    assert [p.name for p in s.visible_artifacts()] == [s.first]
    assert_previous_model_still_serves(s)


def assert_nothing_changed(s: Setup, catalog) -> None:
    assert s.catalog() == catalog
    assert [p.name for p in s.visible_artifacts()] == [s.first]
    assert_previous_model_still_serves(s)


def test_killed_while_encoding_new_sessions(setup):
    s = setup
    catalog = s.catalog()
    con = duckdb.connect(s.db)  # sessions the embedding store has never seen
    con.execute("insert into training_sessions select session_id || '-new', user_id, "
                "session_text || ' | view sofa ikea p9 7s', is_anomaly, anomaly_family, "
                "session_start, n_events, labelled_at, text_format from training_sessions "
                "where session_id like '%-0'")
    con.close()
    run_to_killpoint(s, "encode")
    assert_nothing_changed(s, catalog)


def test_killed_while_fitting_the_head(setup):
    s = setup
    catalog = s.catalog()
    run_to_killpoint(s, "head")
    assert_nothing_changed(s, catalog)


def test_killed_during_fine_tuning(setup):
    s = setup
    catalog = s.catalog()
    output = run_to_killpoint(s, "finetune", ("--mode", "full", "--epochs", "1"))
    assert "full: epoch 0 (head only)" in output  # it was fine-tuning when it died
    assert_nothing_changed(s, catalog)


def test_killed_while_writing_the_artifact(setup):
    s = setup
    catalog = s.catalog()
    run_to_killpoint(s, "save")
    temps = s.hidden_temps()
    assert temps, "the kill should have left a hidden temporary artifact"
    assert (temps[-1] / "model.safetensors").exists() and not (temps[-1] / META_FILE).exists()
    assert [p.name for p in s.visible_artifacts()] == [s.first]
    assert s.catalog() == catalog
    assert_previous_model_still_serves(s)


def test_killed_inside_the_catalog_transaction(setup):
    """The artifact is complete on disk; the switch to it was never committed."""
    s = setup
    catalog = s.catalog()
    assert s.hidden_temps(), "the kill while writing left no debris"
    run_to_killpoint(s, "record")
    assert not s.hidden_temps(), "the next run did not sweep the killed run's debris"
    assert s.catalog() == catalog, "an uncommitted switch survived the kill"
    orphans = [p for p in s.visible_artifacts() if p.name != s.first]
    assert len(orphans) == 1
    load_model(orphans[0])  # complete and verified, just never made current
    assert_previous_model_still_serves(s)


def test_killed_while_computing_drift_baselines(setup):
    """The artifact is renamed into place; nothing is recorded: an orphan, never current."""
    s = setup
    catalog = s.catalog()
    before = {p.name for p in s.visible_artifacts()}
    run_to_killpoint(s, "baselines")
    assert s.catalog() == catalog
    orphans = [p for p in s.visible_artifacts() if p.name not in before]
    assert len(orphans) == 1
    load_model(orphans[0])
    assert_previous_model_still_serves(s)


def test_the_next_run_becomes_current(setup):
    s = setup
    train(TrainConfig(db_path=s.db, base_model=str(s.tiny_bert), mode="head", name=NAME,
                      models_dir=str(s.models), progress=False, compare_peers=False),
          log=lambda *_: None)
    assert not s.hidden_temps()
    new = s.current()
    assert new != s.first and (s.models / NAME / new / META_FILE).exists()
    statuses = {v: status for v, _, status in s.catalog()}
    assert statuses[s.first] == "superseded" and statuses[new] == "current"
    assert len(statuses) == 2  # the killed runs left no rows
    # the runs killed inside the transaction and in the baselines left complete artifacts
    # nobody points at
    assert len(s.visible_artifacts()) == 4
    assert sql_scores(s) != s.reference  # the new model serves now
