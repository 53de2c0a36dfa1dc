"""Drift since training: the dbt test `duckbert_drift` and the baselines training records.

Training stores decile bins of the model's own scores and of the session lengths
(duckbert_model_baselines). Right after training and a build the warehouse *is* the
training population, so the test passes; when the scores or the session lengths move, it
warns (or fails, by var) with one row per moved metric giving its population stability
index. The shifts are applied to copies of the shared warehouse, to the tables the test reads.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tests.helpers.bi_warehouse import base_warehouse, copy_warehouse
from training.baselines import BASELINE_SAMPLE, reference_bins

pytestmark = pytest.mark.slow

DRIFT = "test.duckbert.duckbert_drift"
AUDIT = "main_dbt_test__audit.duckbert_drift"


@pytest.fixture(scope="module")
def wh(tmp_path_factory, worker_id, tiny_bert):
    return base_warehouse(tmp_path_factory, worker_id, tiny_bert)


def test_training_recorded_the_baselines_of_the_current_model(wh):
    version = wh.current_version()
    rows = wh.q("select metric, count(*), sum(reference_count), any_value(n_reference), "
                "sum(reference_share), count(*) filter (where lower_bound is null), "
                "count(*) filter (where upper_bound is null) "
                "from duckbert_model_baselines where version = ? group by metric", [version])
    by_metric = {r[0]: r[1:] for r in rows}
    assert sorted(by_metric) == ["anomaly_score", "n_events", "text_length"]
    n_sessions = wh.q("select count(*) from training_sessions")[0][0]
    for metric, (bins, total, n_reference, share, open_low, open_high) in by_metric.items():
        assert 3 <= bins <= 10, metric
        assert total == n_reference == min(n_sessions, BASELINE_SAMPLE)
        assert share == pytest.approx(1.0)
        assert open_low == open_high == 1, "first and last bins are open-ended"
    # the bins are the training-time deciles: each holds about a tenth of the scores
    shares = [r[0] for r in wh.q("select reference_share from duckbert_model_baselines "
                                 "where version = ? and metric = 'anomaly_score'", [version])]
    assert max(shares) < 0.2


def test_no_drift_right_after_training_and_the_test_warns_by_default(wh):
    result = wh.run_results()[DRIFT]  # the base build's own run of the test
    assert result["status"] == "pass", result["message"]
    assert wh.q(f"select count(*) from {AUDIT}") == [(0,)]
    manifest = json.loads((wh.target / "manifest.json").read_text())
    config = manifest["nodes"][DRIFT]["config"]
    assert config["severity"].lower() == "warn" and config["store_failures"] is True


def _psi(bins: list[tuple], values: np.ndarray) -> float:
    """PSI as docs/BI.md defines it, in Python: the SQL must give the same number."""
    edges = [b[1] for b in bins[:-1]]
    counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(bins))
    total = sum(b[2] for b in bins)
    psi = 0.0
    for (_, _, ref), now in zip(bins, counts, strict=True):
        e, a = max(ref / total, 1e-4), max(now / len(values), 1e-4)
        psi += (a - e) * math.log(a / e)
    return psi


@pytest.fixture(scope="module")
def shifted(wh, tmp_path_factory):
    """A copy where the model now scores traffic higher and sessions are 3x as long (in
    events; their texts are unchanged), tested with severity error and threshold 0.3."""
    copy = copy_warehouse(wh, tmp_path_factory.mktemp("drift"))
    copy.execute("update session_scores set anomaly_score = sqrt(anomaly_score)",
                 "update sessions set n_events = n_events * 3")
    result = copy.dbt("test", select=["duckbert_drift"], check=False,
                      vars="{drift_severity: error, drift_psi_threshold: 0.3}")
    return copy, result


def test_moved_distributions_fail_when_drift_is_an_error(shifted):
    copy, result = shifted
    assert not result.ok
    outcome = copy.run_results()[DRIFT]
    assert outcome["status"] == "fail" and outcome["failures"] == 2


def test_the_failure_rows_say_which_metric_moved_and_its_psi(wh, shifted):
    copy, _ = shifted
    version = wh.current_version()
    rows = {r[0]: r[1:] for r in copy.q(
        f"select metric, model_version, psi, psi_threshold, n_current, most_moved_bin, "
        f"share_at_training, share_now, message from {AUDIT}")}
    assert sorted(rows) == ["anomaly_score", "n_events"], "text_length did not move"
    for metric, (model, psi, threshold, _, moved_bin, then, now, message) in rows.items():
        assert model == version and float(threshold) == 0.3 and psi > 0.3
        assert moved_bin.startswith("[") and then != now
        assert message.startswith(f"{metric} moved since {version} was trained: PSI ")
    # the SQL's PSI is the textbook one over the stored bins
    for metric, sql in (
        ("anomaly_score", f"select anomaly_score from session_scores "
                          f"where model_version = '{version}'"),
        ("n_events", "select n_events from sessions where n_events is not null"),
    ):
        bins = copy.q("select lower_bound, upper_bound, reference_count from "
                      "duckbert_model_baselines where version = ? and metric = ? order by bin",
                      [version, metric])
        values = np.array([r[0] for r in copy.q(sql)], dtype=float)
        assert rows[metric][3] == len(values)
        assert rows[metric][1] == pytest.approx(_psi(bins, values), abs=1e-4)


def test_reference_bins_are_deciles_with_open_ends():
    rng = np.random.default_rng(0)
    values = rng.normal(size=10_000)
    bins = reference_bins(values)
    assert len(bins) == 10
    assert bins[0][0] is None and bins[-1][1] is None
    assert all(900 <= count <= 1100 for _, _, count in bins)
    assert [b[1] for b in bins[:-1]] == [b[0] for b in bins[1:]], "bins touch"
    # a discrete, tied distribution: fewer bins, none empty, every value counted once
    counts = np.array([1] * 500 + [2] * 300 + [3] * 150 + [40] * 50)
    bins = reference_bins(counts)
    assert [c for _, _, c in bins] == [500, 300, 200]
    assert reference_bins([]) == []
    assert reference_bins([5.0, 5.0]) == [(None, None, 2)]
