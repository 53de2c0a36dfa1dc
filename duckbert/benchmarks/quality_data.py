"""The quality benchmark's data: warehouses, test users, and one training table per model.

- The main warehouse holds users of the standard catalogue (their test users serve rows a, b
  and d) and users of the shifted catalogue (categories, brands and products that no
  standard session has: the test users of row c).
- Test users are fixed per warehouse by a seeded hash of the user id, stratified by whether a
  user has an anomalous session; every other standard user is in the training pool.
- Each model trains on a table `bench_<key>` holding pool sessions only: the learning curve
  keeps the labels of a share of the pool's users (the others' labels are NULL, so they are
  unlabelled, as in a real warehouse), the held-out family's sessions are left out. Sessions
  of the generator's `novel` variants (abuse that shares no tokens with the other variants)
  never train any model.
- Row e has its own warehouse (review_parts): realistic long reviews, review fraud as the
  only abuse; its models train and test on the sessions that have a review.
- Evaluation uses the generator's ground truth (`anomaly_family`), training the labels.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

NOVEL = "novel"


@dataclass
class Frame:
    """Every session of a warehouse, as aligned arrays."""

    db: Path
    ids: np.ndarray
    users: np.ndarray
    labels: np.ndarray  # the label column (training), 0/1
    truth: np.ndarray  # ground truth (evaluation), 0/1
    families: np.ndarray
    variants: np.ndarray
    texts: list[str]
    shifted: np.ndarray  # users of the shifted catalogue
    n_reviews: np.ndarray | None = None  # reviews in each session

    def __len__(self) -> int:
        return len(self.ids)


def main_parts(users: int, shift_users: int, seed: int, difficulty) -> list[dict]:
    """Generator settings of the main warehouse (standard users, then shifted users)."""
    parts = [{"name": "standard", "users": users, "seed": seed, "difficulty": difficulty}]
    if shift_users:
        parts.append({"name": "shifted", "users": shift_users, "seed": seed + 1,
                      "difficulty": difficulty, "catalogue": "shifted"})
    return parts


def read_frame(db: Path) -> Frame:
    """All sessions of `training_sessions` with a text, in session_id order."""
    from duckbert.synthetic.catalog import CATALOGUES
    from udf.connect import connect_warehouse

    con = connect_warehouse(db, read_only=True)
    try:
        rows = con.execute(
            "select session_id, user_id, coalesce(is_anomaly, false), "
            "coalesce(anomaly_family, ''), coalesce(anomaly_variant, ''), session_text, "
            "coalesce(n_reviews, 0) "
            "from training_sessions where session_text is not null order by session_id"
        ).fetchall()
    finally:
        con.close()
    lo, hi = CATALOGUES["shifted"].user_ids
    users = np.array([str(r[1]) for r in rows], dtype=object)
    shifted = np.array([u.isdigit() and lo <= int(u) < hi for u in users], dtype=bool)
    families = np.array([r[3] for r in rows], dtype=object)
    return Frame(db=Path(db), ids=np.array([r[0] for r in rows], dtype=object), users=users,
                 labels=np.array([int(bool(r[2])) for r in rows]),
                 truth=(families != "").astype(int), families=families,
                 variants=np.array([r[4] for r in rows], dtype=object),
                 texts=[r[5] for r in rows], shifted=shifted,
                 n_reviews=np.array([int(r[6]) for r in rows], dtype=np.int64))


# Row e: reviews are the abuse surface (generator focus "reviews", realistic texts) and, at
# this difficulty, most review fraud is the subtle variant that imitates genuine reviews.
REVIEW_DIFFICULTY = 0.7


def review_parts(users: int, seed: int, difficulty) -> list[dict]:
    """Generator settings of row e's warehouse."""
    return [{"name": "reviews", "users": users, "seed": seed + 2, "reviews": "realistic",
             "focus": "reviews",
             "difficulty": REVIEW_DIFFICULTY if difficulty is None else difficulty}]


def _rank(user: str, seed: int, salt: str) -> float:
    digest = hashlib.blake2b(f"{salt}:{seed}:{user}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _users_by_stratum(frame: Frame, rows: np.ndarray) -> dict[bool, list[str]]:
    positive: dict[str, bool] = {}
    for user, y in zip(frame.users[rows], frame.truth[rows], strict=True):
        positive[user] = positive.get(user, False) or bool(y)
    return {flag: sorted(u for u, p in positive.items() if p == flag) for flag in (True, False)}


def held_out_users(frame: Frame, share: float, seed: int) -> set[str]:
    """The standard users held out for testing: `share` of each stratum, by seeded hash."""
    rows = np.flatnonzero(~frame.shifted)
    chosen: set[str] = set()
    for members in _users_by_stratum(frame, rows).values():
        ranked = sorted(members, key=lambda u: _rank(u, seed, "test"))
        chosen.update(ranked[: round(share * len(ranked))])
    return chosen


def labelled_users(frame: Frame, pool: np.ndarray, fraction: float, seed: int) -> set[str]:
    """`fraction` of the pool's users, per stratum (at least one anomalous user), nested: a
    smaller fraction's users are among a larger one's."""
    chosen: set[str] = set()
    for positive, members in _users_by_stratum(frame, pool).items():
        ranked = sorted(members, key=lambda u: _rank(u, seed, "labels"))
        n = math.ceil(fraction * len(ranked)) if fraction < 1 else len(ranked)
        chosen.update(ranked[: max(n, 1 if positive and ranked else 0)])
    return chosen


@dataclass
class Sets:
    """Row indices of a warehouse's training pool and test sets."""

    pool: np.ndarray
    test: np.ndarray
    shifted: np.ndarray


def assign(frame: Frame, share: float, seed: int) -> Sets:
    held = held_out_users(frame, share, seed)
    in_test = np.array([u in held for u in frame.users], dtype=bool)
    novel = frame.variants == NOVEL
    return Sets(pool=np.flatnonzero(~frame.shifted & ~in_test & ~novel),
                test=np.flatnonzero(~frame.shifted & in_test),
                shifted=np.flatnonzero(frame.shifted))


def write_table(frame: Frame, name: str, rows: np.ndarray, labelled: np.ndarray) -> str:
    """Create `name` in the warehouse: `training_sessions` rows `rows`, labels kept where
    `labelled` (aligned with rows) and NULL elsewhere; returns the table name."""
    import pyarrow as pa

    from udf.connect import connect_warehouse
    from udf.sqlident import quote_name

    con = connect_warehouse(frame.db)
    try:
        con.register("_bench_rows", pa.table({
            "session_id": pa.array([str(i) for i in frame.ids[rows]], type=pa.string()),
            "keep_label": pa.array(np.asarray(labelled, dtype=bool)),
        }))
        con.execute(
            f"create or replace table {quote_name(name)} as "
            "select t.* replace (case when r.keep_label then t.is_anomaly end as is_anomaly) "
            "from training_sessions t join _bench_rows r on t.session_id = r.session_id "
            "order by t.session_id")
        con.unregister("_bench_rows")
    finally:
        con.close()
    return name
