"""The dbt side of distributed scoring: session_scores takes `duckbert score-dataset` output.

With `--vars '{scores_from: batch}'` the build reads the batch scores (source batch_scores)
instead of calling anomaly_score(), and keeps the incremental contract: only a score of a
session's current text by the current model is merged, a session without one waits for the
next export, and rows merged earlier stay as they were. Two rounds on a copy of the shared
warehouse (half the sessions, then the export query of docs/DISTRIBUTED.md for the rest)
must end with the same session_scores as the UDF path built.
"""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner

from duckbert.cli import main
from tests.helpers.bi_warehouse import ENV, base_warehouse, copy_warehouse

pytestmark = pytest.mark.slow

BATCH = "{scores_from: batch}"
COMPARED = "session_id, user_id, text_hash, anomaly_score, model_version, is_flagged, explanation"


def _scores(wh) -> dict[str, tuple]:
    return {r[0]: r[1:] for r in wh.q(f"select {COMPARED} from session_scores")}


def _scored_at(wh) -> dict[str, object]:
    return dict(wh.q("select session_id, scored_at from session_scores"))


@pytest.fixture(scope="module")
def rounds(tmp_path_factory, worker_id, tiny_bert):
    base = base_warehouse(tmp_path_factory, worker_id, tiny_bert)
    root = tmp_path_factory.mktemp("batch")
    wh = copy_warehouse(base, root / "warehouse")
    version = wh.current_version()

    batch = wh.root / "batch_scores"  # where the build looks by default: beside the file

    def score_dataset(export):
        result = CliRunner().invoke(main, ["score-dataset", "--input", str(export),
                                           "--output", str(batch), "--db", str(wh.db),
                                           "--overwrite"], env=ENV, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return {r[0]: r[1] for r in wh.q(f"select session_id, scored_at from "
                                          f"read_parquet('{batch}/*.parquet')")}

    # round 1: a first export holds about half of the sessions
    export_a = root / "export-a"
    export_a.mkdir()
    wh.execute(f"copy (select session_id, session_text from sessions "
               f"where hash(session_id) % 2 = 0) to '{export_a}/part-0.parquet' "
               "(format parquet)")
    batch_a = score_dataset(export_a)
    wh.dbt("build", select=["session_scores+"], full_refresh=True, vars=BATCH)
    after_a = {"scores": _scores(wh), "scored_at": _scored_at(wh)}

    # round 2: export what still needs a score (docs/DISTRIBUTED.md, step 1), score it into
    # the same folder (--overwrite) and merge it incrementally
    export_b = root / "export-b"
    wh.execute(f"""
        copy (
            select s.session_id, s.session_text
            from sessions as s
            left join session_scores as p using (session_id)
            where p.session_id is null
               or p.text_hash is distinct from md5(s.session_text)
               or p.model_version is distinct from '{version}'
        ) to '{export_b}' (format parquet, per_thread_output true, overwrite true)""")
    batch_b = score_dataset(export_b)
    wh.dbt("build", select=["session_scores+"], vars=BATCH)
    return {"base": base, "wh": wh, "version": version, "after_a": after_a,
            "exports": (export_a, export_b), "batches": (batch_a, batch_b)}


def test_only_sessions_with_a_batch_score_are_merged(rounds):
    wh, base = rounds["wh"], rounds["base"]
    export_a, _ = rounds["exports"]
    half = {r[0] for r in wh.q(f"select session_id from read_parquet('{export_a}/*.parquet')")}
    merged = rounds["after_a"]["scores"]
    n_sessions = wh.q("select count(*) from sessions")[0][0]
    assert set(merged) == half and 0 < len(half) < n_sessions
    reference = _scores(base)
    assert {s: reference[s] for s in half} == merged


def test_the_export_query_finds_exactly_the_unscored_rest(rounds):
    wh = rounds["wh"]
    export_a, export_b = rounds["exports"]
    first = {r[0] for r in wh.q(f"select session_id from read_parquet('{export_a}/*.parquet')")}
    rest = [r[0] for r in wh.q(f"select session_id from read_parquet('{export_b}/*.parquet')")]
    everyone = {r[0] for r in wh.q("select session_id from sessions")}
    assert len(rest) == len(set(rest)) and set(rest) == everyone - first


def test_batch_merged_scores_equal_the_udf_path(rounds):
    wh, base = rounds["wh"], rounds["base"]
    assert _scores(wh) == _scores(base)  # scores, versions, flags and explanations
    assert wh.q("select session_id, top_reasons from flagged_sessions order by 1") == \
        base.q("select session_id, top_reasons from flagged_sessions order by 1")
    assert wh.q("select * exclude (last_scored_at) from flagged_users order by 1") == \
        base.q("select * exclude (last_scored_at) from flagged_users order by 1")


def test_scored_at_is_the_batch_runs_and_earlier_rows_are_left_alone(rounds):
    wh = rounds["wh"]
    batch_a, batch_b = rounds["batches"]
    first = rounds["after_a"]["scored_at"]
    now = _scored_at(wh)
    assert {s: now[s] for s in first} == first, "round 2 must not touch round 1's rows"
    assert set(first) | set(batch_b) == set(now) and not set(first) & set(batch_b)
    for batch in (batch_a, batch_b):
        instants = set(batch.values())
        assert len(instants) == 1, "one scored_at per score-dataset run"
        utc = instants.pop().astimezone(dt.timezone.utc).replace(tzinfo=None)
        assert {now[s] for s in batch} == {utc}
    assert wh.q("select count(*) from session_scores where model_version <> ?",
                [rounds["version"]]) == [(0,)]
