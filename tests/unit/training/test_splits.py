"""Splits: grouped by user and stratified, or by time."""

from __future__ import annotations

import numpy as np
import pytest


def test_split_by_user_keeps_each_user_in_one_split_and_is_stratified():
    from training.splits import split_by_user

    rng = np.random.default_rng(0)
    groups = np.array([f"u{i // 3}" for i in range(900)], dtype=object)
    labels = (rng.random(900) < 0.1).astype(int)
    split = split_by_user(groups, labels, (0.7, 0.15, 0.15), seed=1)
    users = [set(groups[getattr(split, name)]) for name in ("train", "val", "test")]
    assert not (users[0] & users[1] or users[0] & users[2] or users[1] & users[2])
    assert split.train.size + split.val.size + split.test.size == 900
    positive_users = {g for g, y in zip(groups, labels, strict=True) if y}
    shares = [len(u & positive_users) / len(positive_users) for u in users]
    assert shares[0] == pytest.approx(0.7, abs=0.05)
    assert shares[1] == pytest.approx(0.15, abs=0.05)
    again = split_by_user(groups, labels, (0.7, 0.15, 0.15), seed=1)
    assert np.array_equal(again.test, split.test)


def test_split_by_time_tests_on_the_newest_sessions():
    from training.splits import split_by_time

    times = np.array(["2026-10-03", "2026-10-01", "2026-10-05", "2026-10-02"] * 5,
                     dtype="datetime64[us]")
    split = split_by_time(times, (0.6, 0.2, 0.2))
    assert times[split.train].max() <= times[split.val].min()
    assert times[split.val].max() <= times[split.test].min()
