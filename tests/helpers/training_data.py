"""A small labelled warehouse table for training tests (no dbt needed)."""

from __future__ import annotations

import random

import duckdb

CATEGORIES = ["phone", "laptop", "shoes", "tv", "sofa", "book"]
BRANDS = ["samsung", "apple", "nike", "lg", "ikea", "sony"]


def session_text(rng: random.Random, anomalous: bool) -> str:
    n = rng.randint(3, 10)
    events = []
    for _ in range(n):
        kind = rng.choice(["view"] * 6 + ["cart", "purchase"])
        if anomalous and rng.random() < 0.7:
            kind = "purchase"
        events.append(f"{kind} {rng.choice(CATEGORIES)} {rng.choice(BRANDS)} "
                      f"p{rng.randint(1, 5)} {rng.randint(1, 90)}s")
    return f"{n} events {rng.randint(1, 30)} min | " + " | ".join(events)


def make_training_table(db_path, users: int = 150, sessions_per_user: int = 3,
                        anomaly_rate: float = 0.15, seed: int = 0,
                        table: str = "training_sessions") -> str:
    """Write `table` with the columns the training_sessions mart has; returns db_path."""
    rng = random.Random(seed)
    rows = []
    for user in range(users):
        for s in range(sessions_per_user):
            anomalous = rng.random() < anomaly_rate
            rows.append((
                f"s{user}-{s}", f"u{user}", session_text(rng, anomalous), anomalous,
                "card_testing" if anomalous else "", f"2026-10-{1 + s * 9 + user % 9:02d}",
                rng.randint(3, 10),
            ))
    con = duckdb.connect(str(db_path))
    try:
        con.execute(
            f"create or replace table {table} (session_id varchar, user_id varchar, "
            "session_text varchar, is_anomaly boolean, anomaly_family varchar, "
            "session_start timestamp, n_events integer, labelled_at timestamp, "
            "text_format varchar)"
        )
        con.executemany(
            f"insert into {table} values (?, ?, ?, ?, ?, ?, ?, timestamp '2026-11-01', 'st1')",
            rows,
        )
    finally:
        con.close()
    return str(db_path)
