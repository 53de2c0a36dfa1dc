"""Sample session texts and a table of them, for tests that score text."""

from __future__ import annotations

import random

EVENTS = ("view", "click", "cart", "remove_from_cart", "purchase")
PRODUCTS = ("electronics.smartphone apple", "appliances.kitchen bosch", "apparel.shoes nike",
            "computers.notebook lenovo", "unknown unknown")


def session_texts(n: int, seed: int = 0, max_events: int = 12) -> list[str]:
    """Session-like texts of varied lengths (header, then events joined by ' | ')."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        events = [
            f"{rng.choice(EVENTS)} {rng.choice(PRODUCTS)} {rng.randint(1, 999)}.99 "
            f"+{rng.randint(0, 90)}s"
            for _ in range(rng.randint(1, max_events))
        ]
        out.append(" | ".join([f"session u{i % 97} {len(events)} events", *events]))
    return out


def text_table(con, name: str, texts: list) -> None:
    """Table `name` (i integer, t varchar) holding `texts` in order."""
    import pyarrow as pa

    con.register("_texts", pa.table({"i": pa.array(range(len(texts)), pa.int32()),
                                     "t": pa.array(texts, pa.string())}))
    try:
        con.execute(f"create or replace table {name} as select * from _texts")
    finally:
        con.unregister("_texts")
