"""An optional step that fails never ends a training run (issue #15).

`duckbert train` runs with a MemoryError planted in one optional step at a time
(tests/reliability/killpoint.py raise-*): the peers, the precision check, the drift
baselines. Each run still saves and registers a current model that serves SQL, prints a
warning and a summary line naming the step and the cause, records the step in the
artifact's `skipped_steps`, and exits with status 3.
"""

from __future__ import annotations

import json
import subprocess
import sys

import duckdb
import pytest

import udf
from tests.helpers.processes import REPO, child_env, query
from tests.helpers.training_data import make_training_table
from udf.artifact import read_meta

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("training_optional")]

KILLPOINT = REPO / "tests" / "reliability" / "killpoint.py"


@pytest.mark.parametrize("point, step", [
    ("raise-peers", "peers"),
    ("raise-precision", "precision check"),
    ("raise-baselines", "drift baselines"),
])
def test_a_failing_optional_step_is_skipped_and_named(tmp_path, tiny_bert, point, step):
    db = make_training_table(tmp_path / "w.duckdb", users=60, anomaly_rate=0.35)
    done = subprocess.run(
        [sys.executable, str(KILLPOINT), point, "train", "--db", db, "--base-model",
         str(tiny_bert), "--mode", "head", "--quiet"],
        env=child_env(), cwd=str(REPO), capture_output=True, text=True, timeout=600)
    output = done.stdout + done.stderr
    assert done.returncode == 3, output[-3000:]
    assert f"KILLPOINT {point}" in output
    cause = f"MemoryError: planted by killpoint {point}"
    assert f"warning: {step} skipped ({cause})" in output
    assert f"skipped step: {step} — {cause}" in output
    assert "current model: yes" in output
    (version, path, metrics), = query(tmp_path / "w.duckdb", "select version, path, metrics "
                                      "from duckbert_models where is_current")
    assert json.loads(metrics)["skipped_steps"] == [{"step": step, "cause": cause}]
    meta = read_meta(path)
    if step != "drift baselines":  # the artifact is written before the baselines run
        assert meta["skipped_steps"] == [{"step": step, "cause": cause}]
    if step == "peers":
        assert meta["metrics"]["peers"] == {}
    if step == "precision check":
        assert meta["precision_check"] == {}  # the runtime then scores in fp32
    baselines = query(tmp_path / "w.duckdb", "select count(*) from duckbert_model_baselines "
                      "where version = ?", [version]) if step != "drift baselines" else [(0,)]
    assert (baselines[0][0] > 0) == (step != "drift baselines")
    con = duckdb.connect(db, read_only=True)
    try:
        udf.register(con)
        assert json.loads(con.execute("select anomaly_model()").fetchall()[0][0])[
            "version"] == version
        score = con.execute("select anomaly_score('view phone | cart phone')").fetchall()[0][0]
        assert 0.0 <= score <= 1.0
    finally:
        con.close()
