"""The feedback loop through the command line: detect -> label -> build -> retrain -> build.

An analyst reviews the top of the queue of sessions nobody has labelled yet (flagged, or the
most suspicious) and records that they are normal (`duckbert label`);
`duckbert build` carries the verdicts into training_sessions; `duckbert train --resume`
learns from them and keeps the new version only when validation is no worse; the next
`duckbert build` rescored every session with whichever model is then current.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from duckbert.cli import main
from tests.helpers.bi_warehouse import ENV, UNLABELLED, base_warehouse, copy_warehouse

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def loop(tmp_path_factory, worker_id, tiny_bert):
    """Walk the loop once on a copy of the shared warehouse; keep what each step saw."""
    base = base_warehouse(tmp_path_factory, worker_id, tiny_bert)
    wh = copy_warehouse(base, tmp_path_factory.mktemp("feedback"))
    # dbt's artifacts and logs go to this warehouse's folders, not dbt_project/
    env = {**ENV, "DBT_TARGET_PATH": str(wh.target), "DBT_LOG_PATH": str(wh.root / "logs")}
    runner = CliRunner()

    def cli(*args):
        result = runner.invoke(main, [*args], env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output[-3000:]
        return result.output

    before = {
        "version": wh.current_version(),
        "scores": {r[0]: r[1:] for r in wh.q(
            "select session_id, model_version, scored_at from session_scores")},
    }
    # the analyst's review queue: the ten highest-scoring sessions nobody has labelled yet,
    # flagged ones first. Their held-back labels say they are normal, the verdict recorded.
    truth = dict(wh.q(f"select user_session, is_anomaly from "
                      f"read_csv('{base.root / 'data' / UNLABELLED}', all_varchar = true)"))
    picked = [r[0] for r in wh.q("""
        select s.session_id
        from session_scores as s
        inner join training_sessions as t on s.session_id = t.session_id
        where t.is_anomaly is null
        order by s.anomaly_score desc, s.session_id
        limit 10""")]
    assert len(picked) == 10 and all(truth[s.split(":")[0]] == "false" for s in picked)
    steps = {"label": cli("label", "--db", str(wh.db), *picked, "--normal",
                          "--note", "reviewed: normal shopping")}
    steps["build"] = cli("build", "--db", str(wh.db))
    labels_after_build = wh.q(
        "select session_id, is_anomaly, label_source from training_sessions "
        "where session_id in (select unnest(?))", [picked])
    steps["train"] = cli("train", "--db", str(wh.db), "--resume", "--base-model",
                         str(tiny_bert), "--mode", "head", "--no-peers", "--quiet")
    steps["rebuild"] = cli("build", "--db", str(wh.db))
    return {"wh": wh, "before": before, "picked": picked, "steps": steps,
            "labels_after_build": labels_after_build}


def test_label_records_the_verdict_and_build_carries_it_into_training(loop):
    wh, picked = loop["wh"], loop["picked"]
    assert f"labelled {len(picked)} session(s) normal" in loop["steps"]["label"]
    assert "duckbert train" in loop["steps"]["label"] and "--resume" in loop["steps"]["label"]
    rows = wh.q("select session_id, is_anomaly, label_source, extra from raw_labels "
                "where source_file = 'duckbert label' and not is_anomaly order by source_row")
    assert [r[0] for r in rows] == picked
    assert all(r[1] is False and r[2] == "analyst" and "reviewed" in r[3] for r in rows)
    # after the build, training sees the analyst's verdicts
    assert sorted(loop["labels_after_build"]) == sorted((s, False, "analyst") for s in picked)


def test_resume_retrains_and_the_next_build_rescored_with_the_current_model(loop):
    wh, before = loop["wh"], loop["before"]
    output = loop["steps"]["train"]
    assert f"resuming from duckbert@{before['version']}" in output
    models = {r[0]: r[1:] for r in wh.q(
        "select version, status, is_current from duckbert_models")}
    new = [v for v in models if v != before["version"]]
    assert len(new) == 1, "one new version per --resume run"
    new = new[0]
    current = wh.current_version()
    scores = wh.q("select model_version, count(*), min(scored_at) from session_scores "
                  "group by model_version")
    n_sessions = wh.q("select count(*) from sessions")[0][0]
    old_scored_at = max(at for _, at in before["scores"].values())
    assert wh.q("select count(*) from duckbert_model_baselines where version = ?",
                [new])[0][0] > 0, "the retrained version has its drift baselines"
    if "current model: yes" in output:
        # kept: the new version is current, and every session was scored again by it
        assert current == new
        assert models[new] == ("current", True)
        assert models[before["version"]] == ("superseded", False)
        assert len(scores) == 1 and scores[0][:2] == (new, n_sessions)
        assert scores[0][2] > old_scored_at, "rescored after the retraining"
        assert wh.q("select count(*) from flagged_sessions where model_version <> ?",
                    [new]) == [(0,)]
    else:
        # rejected as worse on validation: the command says so and nothing changes
        assert "current model: no" in output and "worse on validation" in output
        assert current == before["version"]
        assert models[new] == ("rejected", False)
        after = {r[0]: r[1:] for r in wh.q(
            "select session_id, model_version, scored_at from session_scores")}
        assert after == before["scores"], "no rescoring when the model did not change"
    # either way the marts agree with the current model
    assert wh.q("select count(*) from session_scores where model_version = ?",
                [current]) == [(n_sessions,)]
    assert {r[0] for r in wh.q("select distinct model_version from flagged_sessions "
                               "union select distinct model_version from flagged_users")} \
        <= {current}
