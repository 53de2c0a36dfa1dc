"""Train / validation / test splits: grouped by user, by each user's own hash, or by time.

User splits put every session of a user in one split (a bot's sessions look alike; letting
them straddle splits would flatter the model). Each user's place comes from their own seeded
hash alone: a hash below the train share trains, below train + validation validates, the
rest test. Adding users or labels therefore never moves an existing user (ranks inside a
stratum would: 30 new users among 3,000 once moved 9 old ones).

Stratification is by expectation (anomalous users land in each split in proportion), with
one guard for rare anomalies: when the hash leaves the validation or test split with fewer
than `min_rows` anomalous rows, the anomalous users' train cut is lowered, just far enough,
so the anomalous training users with the highest hashes move to that split. Those users
(`Split.moved`) are recorded with the model; only then can a later split differ for them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from training.labelled import TrainingDataError

NAMES = ("train", "val", "test")
CROSS_VALIDATION = "cross_validation"  # split record of a model refitted on every label


class TooFewForSplit(TrainingDataError):
    """Too few labels for a three-way split (training falls back to cross-validation)."""


@dataclass
class Split:
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    moved: dict = field(default_factory=dict)
    """Users the rare-anomaly guard moved out of train: user -> 'val' | 'test'."""

    def sizes(self) -> dict:
        return {"train": int(self.train.size), "val": int(self.val.size),
                "test": int(self.test.size)}


def _hash01(value: str, seed: int) -> float:
    digest = hashlib.blake2b(f"{seed}:{value}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def user_split(user, fractions, seed: int) -> int:
    """0 train, 1 validation, 2 test: by the user's own hash only."""
    h = _hash01(str(user), seed)
    return 0 if h < fractions[0] else (1 if h < fractions[0] + fractions[1] else 2)


def _guard_rare(groups, labels, codes: dict, fractions, seed: int, min_rows: int,
                frozen=frozenset()) -> dict:
    """Move anomalous training users to a validation/test split short of anomalous rows
    (never a `frozen` user: one a model being resumed trained on)."""
    positive_rows: dict = {}
    for group, label in zip(groups, labels, strict=True):
        if label == 1:
            positive_rows[group] = positive_rows.get(group, 0) + 1
    moved = {}
    for target in (1, 2):
        have = sum(n for u, n in positive_rows.items() if codes[u] == target)
        if have >= min_rows:
            continue
        # the anomalous training users nearest the train cut, highest hash first
        candidates = sorted((u for u in positive_rows if codes[u] == 0 and u not in frozen),
                            key=lambda u: _hash01(str(u), seed), reverse=True)
        train_left = sum(n for u, n in positive_rows.items() if codes[u] == 0)
        for user in candidates:
            if have >= min_rows or train_left - positive_rows[user] < min_rows:
                break
            codes[user] = target
            moved[str(user)] = NAMES[target]
            have += positive_rows[user]
            train_left -= positive_rows[user]
    return moved


def split_by_user(groups: np.ndarray, labels: np.ndarray, fractions, seed: int,
                  min_rows: int = 0, pinned: dict | None = None,
                  frozen=frozenset()) -> Split:
    """Row indices per split; `labels` is -1 for unlabelled rows (kept with their user).

    `pinned` (user -> split name) reproduces the guard's moves of an earlier run; the guard
    never moves a `frozen` user out of train."""
    codes = {g: user_split(g, fractions, seed) for g in dict.fromkeys(groups)}
    for user, name in (pinned or {}).items():
        if user in codes:
            codes[user] = NAMES.index(name)
    moved = dict(pinned or {}) if pinned is not None else \
        _guard_rare(groups, labels, codes, fractions, seed, min_rows, frozen)
    column = np.array([codes[g] for g in groups])
    return Split(*(np.flatnonzero(column == k) for k in range(3)), moved=moved)


def split_by_time(times: np.ndarray, fractions) -> Split:
    """Oldest sessions train, the next validate, the newest test."""
    if times is None:
        raise TrainingDataError("split='time' needs a time column (TrainConfig.time_col, "
                                "session_start in training_sessions)")
    order = np.argsort(times, kind="stable")
    n = len(order)
    a = int(round(n * fractions[0]))
    b = int(round(n * (fractions[0] + fractions[1])))
    return Split(np.sort(order[:a]), np.sort(order[a:b]), np.sort(order[b:]))


def split_record(split: Split, sessions, cfg, cross_validated: bool = False) -> dict:
    """What a model keeps about its split, so --resume and evaluate can tell which rows it
    trained on: the method, seed and shares, the guard's moves, the last training time. A
    cross-validated model (training.crossval) was refitted on every labelled row."""
    if cross_validated:
        return {"method": CROSS_VALIDATION, "seed": cfg.seed}
    record = {"method": "user_hash" if cfg.split == "user" else "time", "seed": cfg.seed,
              "fractions": list(cfg.split_fractions), "moved": split.moved}
    if cfg.split == "time" and sessions.times is not None and split.train.size:
        record["train_until"] = str(sessions.times[split.train].max())
    return record


def trained_on(sessions, rows: np.ndarray, record: dict | None, cfg,
               created_at: str | None = None) -> np.ndarray:
    """Mask over `rows`: rows a model with split `record`, trained at `created_at`, may have
    trained on (its training users' or training period's rows labelled by then); no record
    (a model older than the record): the same rule with the current seed and shares."""
    mask = _in_training_part(sessions, rows, record or {}, cfg)
    if created_at is not None and sessions.labelled_at is not None:
        cutoff = np.datetime64(created_at.replace("+00:00", ""))
        stamps = sessions.labelled_at[rows]
        mask &= np.isnat(stamps) | (stamps <= cutoff)
    return mask


def _in_training_part(sessions, rows, record: dict, cfg) -> np.ndarray:
    if record.get("method") == CROSS_VALIDATION:
        return np.ones(rows.size, dtype=bool)
    if record.get("method", "user_hash" if cfg.split == "user" else "time") == "time":
        until = record.get("train_until")
        if until is None or sessions.times is None:
            return np.zeros(rows.size, dtype=bool)
        return sessions.times[rows] <= np.datetime64(until)
    seed = int(record.get("seed", cfg.seed))
    fractions = record.get("fractions", cfg.split_fractions)
    moved = record.get("moved", {})
    groups = sessions.groups[rows]
    return np.array([str(g) not in moved and user_split(g, fractions, seed) == 0
                     for g in groups], dtype=bool)


def make_split(sessions, cfg, pinned: dict | None = None, frozen=frozenset(),
               fresh: bool = False) -> Split:
    """The configured split over labelled rows, checked for enough rows of each class;
    `fresh` (a new model, not --resume or a re-evaluation) also asks for
    `cfg.min_anomalies_for_split` anomalous labels in all."""
    rows = sessions.labelled
    labels = sessions.labels[rows]
    anomalous = int((labels == 1).sum())
    if fresh and anomalous < cfg.min_anomalies_for_split:
        raise TooFewForSplit(
            f"only {anomalous} anomalous labels, and a fresh run holds out validation and "
            f"test splits from {cfg.min_anomalies_for_split} on (--min-anomalies-for-split)")
    if cfg.split == "time":
        local = split_by_time(sessions.times[rows], cfg.split_fractions)
    else:
        local = split_by_user(sessions.groups[rows], labels, cfg.split_fractions, cfg.seed,
                              min_rows=cfg.min_rows_per_split, pinned=pinned, frozen=frozen)
    split = Split(rows[local.train], rows[local.val], rows[local.test], moved=local.moved)
    check_split(sessions, split, cfg)
    return split


def check_split(sessions, split: Split, cfg) -> None:
    for name in NAMES:
        part = sessions.labels[getattr(split, name)]
        pos, neg = int((part == 1).sum()), int((part == 0).sum())
        if min(pos, neg) < cfg.min_rows_per_split:
            raise TooFewForSplit(
                f"too few labelled rows in the {name} split: {pos} anomalous and {neg} normal "
                f"(need at least {cfg.min_rows_per_split} of each; have "
                f"{int((sessions.labels == 1).sum())} anomalous labels in all). Label more "
                "sessions, or use --mode unsupervised"
            )


def user_folds(groups: np.ndarray, labels: np.ndarray, k: int, seed: int) -> list[np.ndarray]:
    """k folds over users (few labels): every session of a user in one fold; users with an
    anomalous session and users without are dealt round-robin in seeded-hash order, so each
    fold holds anomalies. Returns each fold's row indices."""
    users: dict[str, bool] = {}
    for group, label in zip(groups, labels, strict=True):
        users[group] = users.get(group, False) or label == 1
    fold_of: dict[str, int] = {}
    for stratum in (True, False):
        members = sorted((u for u, pos in users.items() if pos == stratum),
                         key=lambda u: _hash01(str(u), seed))
        for rank, user in enumerate(members):
            fold_of[user] = rank % k
    codes = np.array([fold_of[g] for g in groups])
    return [np.flatnonzero(codes == f) for f in range(k)]
