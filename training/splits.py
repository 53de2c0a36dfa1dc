"""Train / validation / test splits: grouped by user and stratified, or by time.

User splits put every session of a user in one split (a bot's sessions look alike; letting
them straddle splits would flatter the model). Users are stratified by whether any of their
labelled sessions is anomalous, and ordered within each stratum by a seeded hash, so the
assignment is deterministic and stable as users are added.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from training.labelled import TrainingDataError


@dataclass
class Split:
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray

    def sizes(self) -> dict:
        return {"train": int(self.train.size), "val": int(self.val.size),
                "test": int(self.test.size)}


def _hash01(value: str, seed: int) -> float:
    digest = hashlib.blake2b(f"{seed}:{value}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def split_by_user(groups: np.ndarray, labels: np.ndarray, fractions, seed: int) -> Split:
    """Row indices per split; `labels` is -1 for unlabelled rows (kept with their user)."""
    users: dict[str, bool] = {}
    for group, label in zip(groups, labels, strict=True):
        users[group] = users.get(group, False) or label == 1
    assignment: dict[str, int] = {}
    cut_train, cut_val = fractions[0], fractions[0] + fractions[1]
    for stratum in (True, False):
        members = sorted((u for u, pos in users.items() if pos == stratum),
                         key=lambda u: _hash01(str(u), seed))
        n = len(members)
        for rank, user in enumerate(members):
            position = (rank + 0.5) / n
            assignment[user] = 0 if position < cut_train else (1 if position < cut_val else 2)
    codes = np.array([assignment[g] for g in groups])
    return Split(*(np.flatnonzero(codes == k) for k in range(3)))


def split_by_time(times: np.ndarray, fractions) -> Split:
    """Oldest sessions train, the next validate, the newest test."""
    if times is None:
        raise TrainingDataError("split='time' needs a time column (--time-col)")
    order = np.argsort(times, kind="stable")
    n = len(order)
    a = int(round(n * fractions[0]))
    b = int(round(n * (fractions[0] + fractions[1])))
    return Split(np.sort(order[:a]), np.sort(order[a:b]), np.sort(order[b:]))


def make_split(sessions, cfg) -> Split:
    """The configured split over labelled rows, checked for enough rows of each class."""
    rows = sessions.labelled
    labels = sessions.labels[rows]
    if cfg.split == "time":
        local = split_by_time(sessions.times[rows], cfg.split_fractions)
    else:
        local = split_by_user(sessions.groups[rows], labels, cfg.split_fractions, cfg.seed)
    split = Split(rows[local.train], rows[local.val], rows[local.test])
    for name in ("train", "val", "test"):
        part = sessions.labels[getattr(split, name)]
        pos, neg = int((part == 1).sum()), int((part == 0).sum())
        if min(pos, neg) < cfg.min_rows_per_split:
            raise TrainingDataError(
                f"too few labelled rows in the {name} split: {pos} anomalous and {neg} normal "
                f"(need at least {cfg.min_rows_per_split} of each; have "
                f"{int((sessions.labels == 1).sum())} anomalous labels in all). Label more "
                "sessions, or use --mode unsupervised"
            )
    return split
