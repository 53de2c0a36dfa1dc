"""The fine-tuning epoch rule: a PR-AUC difference validation can resolve decides; within
resampling noise the lower class-balanced log loss does."""

from __future__ import annotations

import numpy as np
import pytest

from training.epoch_choice import EpochChoice, beats, compare, validation_key


def _split(n_pos=30, n_neg=60, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.array([1] * n_pos + [0] * n_neg)
    return labels, rng


def test_same_ranking_surer_wins_on_log_loss():
    labels = np.array([1, 1, 0, 0, 0, 0])
    unsure = validation_key(labels, [0.6, 0.55, 0.5, 0.4, 0.3, 0.2])
    sure = validation_key(labels, [0.95, 0.9, 0.2, 0.1, 0.05, 0.01])
    assert unsure.pr_auc == sure.pr_auc == 1.0
    verdict = compare(sure, unsure)
    assert verdict.better and verdict.decided_by == "log_loss"
    assert verdict.interval == (0.0, 0.0)
    assert not beats(unsure, sure)
    assert not beats(sure, sure)  # equal keys: the incumbent stays


def test_a_clearly_better_ranking_wins_whatever_its_log_loss():
    labels, rng = _split()
    noise = rng.normal(size=labels.size)
    ranked = validation_key(labels, 1 / (1 + np.exp(-(3 * labels + noise) / 20)))  # timid
    guess = validation_key(labels, rng.uniform(size=labels.size) * 0.02)  # random order,
    # confidently normal
    assert ranked.pr_auc > guess.pr_auc + 0.3
    verdict = compare(ranked, guess)
    assert verdict.better and verdict.decided_by == "pr_auc" and verdict.interval[0] > 0
    reverse = compare(guess, ranked)
    assert not reverse.better and reverse.decided_by == "pr_auc" and reverse.interval[1] < 0


def test_a_pr_auc_lead_within_noise_does_not_outweigh_log_loss():
    labels, rng = _split()
    base = 2.0 * labels + rng.normal(size=labels.size)
    sure = validation_key(labels, 1 / (1 + np.exp(-3 * (base - 1))))
    # one anomaly moved up a few places: a slightly higher PR-AUC, far less sure
    nudged = base.copy()
    nudged[np.argmin(np.where(labels == 1, base, np.inf))] += 0.6
    timid = validation_key(labels, 1 / (1 + np.exp(-0.2 * (nudged - 1))))
    assert timid.pr_auc > sure.pr_auc and timid.log_loss > sure.log_loss
    verdict = compare(timid, sure)
    lo, hi = verdict.interval
    # the nudge only ever helps, so no resample shows a loss, yet none resolves a gain
    assert lo <= 0 < hi and verdict.decided_by == "log_loss" and not verdict.better
    assert compare(timid, sure) == verdict  # seeded: the same choice every run


def test_candidates_on_different_rows_are_refused():
    with pytest.raises(ValueError, match="different validation rows"):
        compare(validation_key([1, 0], [0.9, 0.1]), validation_key([0, 1], [0.9, 0.1]))


def test_epoch_choice_keeps_the_best_and_records_why():
    labels = np.array([1, 1, 0, 0, 0, 0])
    lines = []
    choice = EpochChoice("full", validation_key(labels, [0.6, 0.55, 0.5, 0.4, 0.3, 0.2]),
                         lines.append)
    assert choice.offer(1, validation_key(labels, [0.9, 0.8, 0.3, 0.2, 0.1, 0.1]))
    assert not choice.offer(2, validation_key(labels, [0.7, 0.6, 0.5, 0.4, 0.3, 0.2]))
    assert choice.best_epoch == 1
    assert [h["epoch"] for h in choice.history] == [0, 1, 2]
    assert choice.history[1]["kept"] and not choice.history[2]["kept"]
    assert choice.history[1]["decided_by"] == "log_loss"
    assert "epoch 0 (head only)" in lines[0] and "log loss decides: kept" in lines[1]
    assert "against epoch 1" in lines[2] and "not kept" in lines[2]


def _misordered(n_wrong: int, sureness: float):
    """30 anomalies above 60 normals, but `n_wrong` anomalies just below the top 20 normals;
    `sureness` scales how far from 0.5 the probabilities are."""
    labels = np.array([1] * 30 + [0] * 60)
    r = np.where(labels == 1, 1 + np.arange(90) * 0.001, np.arange(90) * 0.0005)
    r[70:] = 0.4999 - np.arange(20) * 1e-5
    r[:n_wrong] = 0.4998
    return validation_key(labels, 1 / (1 + np.exp(-sureness * (r - 0.5))))


def test_an_epoch_must_also_beat_the_head():
    head, epoch1, epoch2 = _misordered(0, 0.5), _misordered(3, 6), _misordered(6, 30)
    # each step is within resampling noise and surer than the one before ...
    assert compare(epoch1, head).decided_by == "log_loss" and beats(epoch1, head)
    assert compare(epoch2, epoch1).decided_by == "log_loss" and beats(epoch2, epoch1)
    # ... but two steps add up to a ranking clearly worse than the head's
    assert compare(epoch2, head).decided_by == "pr_auc" and not beats(epoch2, head)
    choice = EpochChoice("top", head, lambda *_: None)
    assert choice.offer(1, epoch1)
    assert not choice.offer(2, epoch2)
    assert choice.best_epoch == 1 and choice.history[2]["decided_by"] == "against the head"


def test_the_bootstrap_resamples_users_when_it_has_them():
    """Five alike sessions per user: resampling sessions would count each user's evidence
    five times over; resampling users does not, so its interval is wider."""
    from training.epoch_choice import _replicates

    rng = np.random.default_rng(3)
    users = np.repeat(np.arange(40), 5)
    labels = np.repeat((np.arange(40) % 4 == 0).astype(int), 5)
    signal = np.repeat(rng.normal(size=40), 5)
    a = 1 / (1 + np.exp(-(1.5 * labels + signal)))
    b = 1 / (1 + np.exp(-(1.2 * labels + signal + np.repeat(rng.normal(size=40), 5))))
    by_session = compare(validation_key(labels, a), validation_key(labels, b)).interval
    by_user = compare(validation_key(labels, a, users), validation_key(labels, b, users)).interval
    assert by_user[1] - by_user[0] > 1.3 * (by_session[1] - by_session[0])
    for idx in list(_replicates(np.unique(users, return_inverse=True)[1], users.size))[:5]:
        drawn = users[idx]
        assert all((drawn == u).sum() % 5 == 0 for u in np.unique(drawn))  # whole users
    with pytest.raises(ValueError, match="groups for"):
        validation_key(labels, a, users[:-1])
    with pytest.raises(ValueError, match="different validation rows"):
        compare(validation_key(labels, a, users), validation_key(labels, b))
