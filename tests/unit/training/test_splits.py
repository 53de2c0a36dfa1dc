"""Splits: grouped by user and stratified, or by time."""

from __future__ import annotations

import numpy as np
import pytest


def test_split_by_user_keeps_each_user_in_one_split_and_is_stratified():
    """Anomalous users land in each split in proportion (by expectation: 3,000 users)."""
    from training.splits import split_by_user

    rng = np.random.default_rng(0)
    groups = np.array([f"u{i // 3}" for i in range(9000)], dtype=object)
    labels = (rng.random(9000) < 0.1).astype(int)
    split = split_by_user(groups, labels, (0.7, 0.15, 0.15), seed=1)
    users = [set(groups[getattr(split, name)]) for name in ("train", "val", "test")]
    assert not (users[0] & users[1] or users[0] & users[2] or users[1] & users[2])
    assert split.train.size + split.val.size + split.test.size == 9000
    positive_users = {g for g, y in zip(groups, labels, strict=True) if y}
    shares = [len(u & positive_users) / len(positive_users) for u in users]
    assert shares[0] == pytest.approx(0.7, abs=0.03)
    assert shares[1] == pytest.approx(0.15, abs=0.03)
    again = split_by_user(groups, labels, (0.7, 0.15, 0.15), seed=1)
    assert np.array_equal(again.test, split.test)


def test_split_by_time_tests_on_the_newest_sessions():
    from training.splits import split_by_time

    times = np.array(["2026-10-03", "2026-10-01", "2026-10-05", "2026-10-02"] * 5,
                     dtype="datetime64[us]")
    split = split_by_time(times, (0.6, 0.2, 0.2))
    assert times[split.train].max() <= times[split.val].min()
    assert times[split.val].max() <= times[split.test].min()


def _assignment(split, groups) -> dict:
    out = {}
    for name in ("train", "val", "test"):
        for g in groups[getattr(split, name)]:
            out[g] = name
    return out


def test_adding_users_and_relabelling_moves_no_existing_user():
    """Each user's split comes from their own hash: 3,000 users, then 300 new ones and 200
    old users relabelled (anomalous <-> normal, unlabelled -> labelled)."""
    from training.splits import split_by_user

    rng = np.random.default_rng(2)
    groups = np.array([f"user-{i // 2}" for i in range(6000)], dtype=object)
    labels = np.where(rng.random(6000) < 0.04, 1, np.where(rng.random(6000) < 0.2, -1, 0))
    before = _assignment(split_by_user(groups, labels, (0.7, 0.15, 0.15), seed=0,
                                       min_rows=5), groups)
    relabel = rng.choice(6000, 400, replace=False)
    labels2 = labels.copy()
    labels2[relabel] = np.where(labels[relabel] == 1, 0, 1)
    new_groups = np.array([f"new-{i // 2}" for i in range(600)], dtype=object)
    groups2 = np.concatenate([groups, new_groups])
    labels2 = np.concatenate([labels2, (rng.random(600) < 0.04).astype(int)])
    split = split_by_user(groups2, labels2, (0.7, 0.15, 0.15), seed=0, min_rows=5)
    assert not split.moved  # plenty of anomalies: the guard had nothing to do
    after = _assignment(split, groups2)
    changed = [u for u in before if after[u] != before[u]]
    assert changed == []
    assert {after[u] for u in set(new_groups)} == {"train", "val", "test"}


def test_rare_anomalies_still_reach_validation_and_test():
    """12 anomalous users of 400: the hash alone may leave a split short; the guard moves
    only anomalous training users, the highest hashes first, just enough."""
    from training.splits import _hash01, split_by_user

    groups = np.array([f"u{i}" for i in range(400)], dtype=object)
    labels = np.zeros(400, dtype=int)
    for seed in range(6):
        anomalous = [i for i in range(400) if _hash01(f"u{i}", seed) < 0.7][:12]
        y = labels.copy()
        y[anomalous] = 1  # every anomalous user hashes into train
        split = split_by_user(groups, y, (0.7, 0.15, 0.15), seed=seed, min_rows=2)
        for name in ("val", "test"):
            assert (y[getattr(split, name)] == 1).sum() >= 2
        assert (y[split.train] == 1).sum() >= 2
        assert set(split.moved) <= {f"u{i}" for i in anomalous} and len(split.moved) == 4
        moved_hashes = sorted(_hash01(u, seed) for u in split.moved)
        kept = [_hash01(f"u{i}", seed) for i in anomalous if f"u{i}" not in split.moved]
        assert min(moved_hashes) > max(kept)  # a lowered cut, not a ranking of users
        normal = _assignment(split, groups)
        pinned = split_by_user(groups, y, (0.7, 0.15, 0.15), seed=seed, pinned=split.moved)
        assert _assignment(pinned, groups) == normal


def test_a_negative_anomaly_floor_is_refused():
    from training.config import TrainConfig

    with pytest.raises(ValueError, match="min_anomalies_for_split"):
        TrainConfig(db_path="w.duckdb", min_anomalies_for_split=-1)
