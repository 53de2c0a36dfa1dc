"""Optional steps never end a run: the peers' features, the step guard, drift bins."""

from __future__ import annotations

import numpy as np

from training.baselines import reference_bins
from training.optional import OptionalSteps
from training.peers import gradient_boosting, impute, isolation_forest, usable_features


def test_all_null_and_constant_columns_are_left_out_single_valued_kept():
    rng = np.random.default_rng(0)
    n = 200
    x = np.column_stack([
        np.full(n, np.nan),                                 # every price NULL
        np.full(n, 0.0),                                    # purchase value then constant 0
        np.where(rng.random(n) < 0.5, np.nan, 3.0),         # one value, NULL elsewhere
        rng.random(n),
    ])
    keep, dropped = usable_features(x, ["price_mean", "purchase_value", "rating", "n_events"])
    assert keep.tolist() == [2, 3]
    assert dropped == {"price_mean": "all NULL", "purchase_value": "constant"}


def test_the_aggregate_peers_fit_what_is_left():
    """scikit-learn's binning fails on an all-NaN column ('window shape cannot be larger than
    input array shape'); the peers fit on the columns usable_features keeps."""
    rng = np.random.default_rng(1)
    n = 300
    y = (rng.random(n) < 0.2).astype(int)
    x = np.column_stack([np.full(n, np.nan), np.where(y == 1, 5.0, np.nan),
                         rng.random(n) + y])
    keep, _ = usable_features(x[:200], ["a", "b", "c"])
    x = x[:, keep]
    val, test, _ = gradient_boosting(x[:200], y[:200], x[200:250], y[200:250], x[250:])
    assert np.isfinite(val).all() and np.isfinite(test).all()
    x_fit, x_val, x_test = impute(x[:250], x[200:250], x[250:])
    assert np.isfinite(x_fit).all() and np.isfinite(x_test).all()
    val, test, _ = isolation_forest(x_fit, x_val, y[200:250], x_test)
    assert np.isfinite(test).all()


def test_impute_gives_a_column_without_values_zero():
    x_fit, other = impute(np.array([[np.nan, 1.0], [np.nan, 3.0]]),
                          np.array([[np.inf, np.nan]]))
    assert x_fit.tolist() == [[0.0, 1.0], [0.0, 3.0]]
    assert other.tolist() == [[0.0, 2.0]]


def test_a_failing_step_is_a_warning_naming_step_and_cause():
    lines = []
    steps = OptionalSteps(log=lines.append)
    assert steps.run("peers", lambda: 1 / 0, {"none": True}) == {"none": True}
    assert steps.run("drift baselines", lambda: 7, None) == 7
    assert steps.skipped == [{"step": "peers", "cause": "ZeroDivisionError: division by zero"}]
    assert lines == ["warning: peers skipped (ZeroDivisionError: division by zero); the model "
                     "is kept without it"]


def test_drift_bins_of_constant_all_null_and_single_valued_features():
    assert reference_bins([np.nan] * 10) == []
    assert reference_bins([4.0] * 10) == [(None, None, 10)]
    assert reference_bins([np.nan, 2.0, np.nan]) == [(None, None, 1)]
    two = reference_bins([0.0] * 9 + [1.0])
    assert sum(c for *_, c in two) == 10 and len(two) == 2
