"""Orchestration: catalogue -> population -> calendar -> ids -> rendered rows, dirt -> CSV files.

Every random choice comes from a named stream seeded by (seed, stream name), so one part of
the generator can change without reshuffling the others, and a seed always gives the same
bytes.
"""

import csv
import io
import operator
import random
import uuid
from collections import Counter

import numpy as np

from duckbert.synthetic import dirt
from duckbert.synthetic.anomalies import BLATANT, FAMILY_NAMES, SUBTLE
from duckbert.synthetic.campaigns import Campaigns
from duckbert.synthetic.catalog import Catalog
from duckbert.synthetic.clock import TimeText
from duckbert.synthetic.difficulty import DEFAULT_DIFFICULTY, Knobs
from duckbert.synthetic.output import write_files
from duckbert.synthetic.population import build_population, schedule
from duckbert.synthetic.reviews import Writer
from duckbert.synthetic.session import EVENT_TYPES

EVENT_COLUMNS = ("event_time", "event_type", "product_id", "category_id", "category_code",
                 "brand", "price", "user_id", "user_session")
REVIEW_COLUMNS = ("review_id", "user_id", "product_id", "rating", "review_text", "created_at",
                  "user_session")
LABEL_COLUMNS = ("user_session", "is_anomaly", "label_source", "labelled_at", "anomaly_family",
                 "anomaly_variant")
STREAMS = ("catalog", "normal", "abuse", "calendar", "ids", "reviews", "labels", "dirt")
NULL_SESSION_SHARE = 1 / 3
CHUNK_ROWS = 50_000
FOCUS = (None, "reviews")


def generate(out_dir, users=2000, seed=0, difficulty=DEFAULT_DIFFICULTY, catalogue="standard",
             reviews="realistic", focus=None):
    """Write events.csv, reviews.csv and labels.csv into out_dir and return a summary dict.

    `catalogue`: "standard", or "shifted" (categories, brands, products and user ids that the
    standard catalogue never has: the benchmark's catalogue shift).
    `reviews`: "realistic" (long-tailed lengths, genuine voices, deceptive imitations and a
    novel fake variant: duckbert/synthetic/voices.py) or "short" (one or two sentences,
    promotional fakes: the generator before text format st2).
    `focus`: None, or "reviews" (people review five times as often and every anomaly is
    review fraud: fake_review or brushing).
    """
    review_style = reviews
    if focus not in FOCUS:
        raise ValueError(f"focus must be one of {FOCUS}, got {focus!r}")
    try:
        n_users = operator.index(users)
    except TypeError:
        n_users = 0
    if isinstance(users, bool) or n_users < 1:
        raise ValueError(f"users must be an integer >= 1, got {users!r}")
    knobs = Knobs.from_difficulty(difficulty)
    rngs = {name: random.Random(f"duckbert-synthetic:{seed}:{name}") for name in STREAMS}
    catalog = Catalog(rngs["catalog"], catalogue)
    campaigns = Campaigns(rngs["abuse"], catalog, knobs.mimicry, Writer(review_style))
    people = build_population(rngs, catalog, campaigns, knobs, n_users, focus)
    schedule(rngs["calendar"], people)
    sessions = _assign_ids(rngs["ids"], people, catalog.kind.user_ids)
    fmt = TimeText()
    events, event_dirt, empties = _render_events(rngs["dirt"], catalog, people, sessions, fmt)
    reviews, review_dirt, unlinked = _render_reviews(rngs["reviews"], rngs["dirt"], catalog, people,
                                           sessions, fmt)
    labels, flipped = _render_labels(rngs["labels"], knobs, sessions, fmt)
    paths = write_files(out_dir, {
        "events.csv": events["chunks"],
        "reviews.csv": [reviews],
        "labels.csv": [labels],
    })
    summary = _summary(out_dir, seed, knobs, people, sessions, events, flipped,
                       {**event_dirt, **review_dirt}, empties, paths)
    summary["reviews_without_session"] = unlinked
    summary["catalogue"] = catalogue
    summary["review_style"] = review_style
    summary["focus"] = focus
    return summary


def _assign_ids(rng, people, user_ids):
    uids = rng.sample(range(*user_ids), len(people))
    for user, uid in zip(people, uids, strict=True):
        user.uid = str(uid)
        for s in user.sessions:
            s.uuid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    sessions = [s for user in people for s in user.sessions]
    sessions.sort(key=lambda s: s.start)
    return sessions


def _render_events(rng, catalog, people, sessions, fmt):
    ts, sess, etype, prod = [], [], [], []
    for k, s in enumerate(sessions):
        start = s.start
        for off, e, p in s.events:
            ts.append(start + int(off))
            sess.append(k)
            etype.append(e)
            prod.append(p)
    order = np.argsort(np.asarray(ts, dtype=np.int64), kind="stable").tolist()
    prefix = [f"{catalog.pid[i]},{catalog.category_id[i]},{catalog.code[i]},{catalog.brand[i]}"
              for i in range(len(catalog))]
    price = [f"{p:.2f}" for p in catalog.price]
    uids = [people[s.user].uid for s in sessions]
    uuids = [s.uuid for s in sessions]
    types = [EVENT_TYPES[etype[i]] for i in order]
    users = [uids[sess[i]] for i in order]
    prices = [price[prod[i]] for i in order]
    bad_times, duplicates, counts = dirt.dirty_events(rng, types, users, prices)
    empties = {
        "empty_brand": sum(1 for i in prod if not catalog.brand[i]),
        "empty_category_code": sum(1 for i in prod if not catalog.code[i]),
    }

    def chunks():
        # Lines are built lazily, chunk by chunk, to keep memory flat for large runs.
        yield ",".join(EVENT_COLUMNS) + "\n"
        buf = []
        for j, i in enumerate(order):
            when = bad_times[j] if j in bad_times else fmt(ts[i])
            line = (f"{when},{types[j]},{prefix[prod[i]]},{prices[j]},{users[j]},"
                    f"{uuids[sess[i]]}\n")
            buf.append(line)
            if j in duplicates:
                buf.append(line)
            if len(buf) >= CHUNK_ROWS:
                yield "".join(buf)
                buf = []
        yield "".join(buf)

    return {"chunks": chunks(), "rows": len(order) + len(duplicates)}, counts, empties


def _render_reviews(rng, dirt_rng, catalog, people, sessions, fmt):
    rows = []
    for s in sessions:
        first, last = (s.events[0][0], s.events[-1][0]) if s.events else (0.0, 0.0)
        uid = people[s.user].uid
        for off, product, rating, text in s.reviews:
            # Inside the session's span, so a review without user_session joins it by time.
            created = s.start + int(max(first, min(off, last)))
            linked = "" if rng.random() < NULL_SESSION_SHARE else s.uuid
            rows.append([created, uid, catalog.pid[product], rating, text, linked])
    rows.sort(key=lambda r: r[0])
    counts = dirt.dirty_reviews(dirt_rng, rows, 4, 3)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(REVIEW_COLUMNS)
    for k, (created, uid, pid, rating, text, linked) in enumerate(rows, 1):
        writer.writerow((k, uid, pid, rating, text, fmt(created), linked))
    return buf.getvalue(), counts, sum(1 for r in rows if not r[5])


def _render_labels(rng, knobs, sessions, fmt):
    buf = io.StringIO()
    buf.write(",".join(LABEL_COLUMNS) + "\n")
    flipped = Counter()
    for s in sessions:
        truth = s.is_anomaly
        flip = rng.random() < (knobs.flip_anomaly if truth else knobs.flip_normal)
        if flip:
            flipped["anomaly_labelled_normal" if truth else "normal_labelled_anomaly"] += 1
        label = "true" if truth != flip else "false"
        labelled = fmt(s.start + s.duration + rng.randint(3_600, 5 * 86_400))
        buf.write(f"{s.uuid},{label},synthetic,{labelled},{s.family},{s.variant}\n")
    return buf.getvalue(), dict(flipped)


def _summary(out_dir, seed, knobs, people, sessions, events, flipped, dirt_counts, empties,
             paths):
    families = {name: {BLATANT: 0, SUBTLE: 0} for name in FAMILY_NAMES}
    for s in sessions:
        if s.family:
            families[s.family][s.variant] = families[s.family].get(s.variant, 0) + 1
    anomalous = sum(sum(v.values()) for v in families.values())
    personas = Counter(u.persona for u in people if u.persona not in families)
    n_reviews = sum(len(s.reviews) for s in sessions)
    return {
        "out_dir": str(out_dir),
        "files": paths,
        "seed": seed,
        "difficulty": knobs.difficulty,
        "subtle_share": round(knobs.subtle_share, 3),
        "users": len(people),
        "abusive_accounts": sum(1 for u in people if u.persona in families),
        "sessions": len(sessions),
        "events": events["rows"],
        "reviews": n_reviews,
        "anomalous_sessions": anomalous,
        "anomaly_rate": round(anomalous / max(1, len(sessions)), 4),
        "anomalies": families,
        "labels_flipped": flipped,
        "personas": dict(sorted(personas.items())),
        "dirt": dirt_counts,
        "realistic_empties": empties,
    }
