"""Dirt the warehouse's cleaning must handle, injected into rendered rows and counted.

Each kind touches its own rows (no row carries two kinds), so the counts in the summary are
exactly what staging should find. Empty brands and category codes are not injected here: they
come from the catalogue, at realistic rates, and are counted by the caller.
"""

EVENT_RATES = {
    "duplicate_rows": 0.005,
    "mixed_case_event_type": 0.004,
    "synonym_event_type": 0.004,
    "empty_user_id": 0.001,
    "negative_price": 0.001,
    "bad_event_time": 0.0005,
}
REVIEW_RATES = {"empty_review_text": 0.005, "rating_out_of_range": 0.005}
SYNONYMS = {"cart": "addtocart", "purchase": "transaction"}
BAD_TIMES = ("not a time", "2026-10-32 10:00:00 UTC", "10/01/2026 25:61", "NaT", "yesterday")
MIN_ROWS = 200


def _count(n, rate):
    return max(1, round(n * rate)) if n >= MIN_ROWS else 0


def _mixed_case(rng, value):
    return value.upper() if rng.random() < 0.5 else value.capitalize()


def dirty_events(rng, types, users, prices):
    """Mutate the event columns in place.

    Returns (unparseable event_time by row, rows to write twice, counts per kind).
    """
    n = len(types)
    counts = {kind: _count(n, rate) for kind, rate in EVENT_RATES.items()}
    eligible = [i for i, t in enumerate(types) if t in SYNONYMS]
    counts["synonym_event_type"] = min(counts["synonym_event_type"], len(eligible))
    synonym_rows = rng.sample(eligible, counts["synonym_event_type"])
    for i in synonym_rows:
        types[i] = SYNONYMS[types[i]]
    used = set(synonym_rows)
    free = [i for i in rng.sample(range(n), min(n, sum(counts.values()) * 2)) if i not in used]
    picks = iter(free)

    def take(kind):
        return [next(picks) for _ in range(counts[kind])]

    for i in take("mixed_case_event_type"):
        types[i] = _mixed_case(rng, types[i])
    for i in take("empty_user_id"):
        users[i] = ""
    for i in take("negative_price"):
        prices[i] = "-" + prices[i]
    bad_times = {i: rng.choice(BAD_TIMES) for i in take("bad_event_time")}
    duplicates = set(take("duplicate_rows"))
    return bad_times, duplicates, counts


def dirty_reviews(rng, rows, text_col, rating_col):
    """Blank some review texts, put some ratings out of 1..5; rows are lists, changed in place."""
    n = len(rows)
    counts = {kind: (max(1, round(n * rate)) if n >= 20 else 0)
              for kind, rate in REVIEW_RATES.items()}
    picks = iter(rng.sample(range(n), min(n, sum(counts.values()))))
    for _ in range(counts["empty_review_text"]):
        rows[next(picks)][text_col] = ""
    for _ in range(counts["rating_out_of_range"]):
        rows[next(picks)][rating_col] = rng.choice((0, 6))
    return counts
