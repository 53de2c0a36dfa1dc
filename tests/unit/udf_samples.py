"""Sample session texts for the UDF tests (a helper module, not a test file)."""

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
