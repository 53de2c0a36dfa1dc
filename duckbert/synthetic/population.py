"""Who is in the data set: normal users, abusive accounts and hijacked victims, on a calendar.

Anomalies are allocated by quota (not by coin flips), so every family and both variants
appear even in a few hundred users and the anomaly rate stays near the target.
"""

from duckbert.synthetic.anomalies import (
    BLATANT,
    FAMILIES,
    NOVEL,
    NOVEL_FAMILIES,
    NOVEL_SHARE,
    SUBTLE,
)
from duckbert.synthetic.clock import SESSION_SEPARATION_S, start_times
from duckbert.synthetic.personas import PERSONA, make_user, normal_user

MIN_USERS_FOR_ABUSE = 20
FAMILY_INDEX = {f.name: k for k, f in enumerate(FAMILIES)}


# focus="reviews": reviews are the abuse surface. People write reviews this many times as
# often, and every anomaly belongs to a family that writes reviews.
REVIEW_FOCUS_RATE = 5.0
REVIEW_FAMILIES = ("fake_review", "brushing")


def build_population(rngs, catalog, campaigns, knobs, n_users, focus=None):
    """All users with their sessions (content only, not yet on the calendar)."""
    writer = campaigns.writer
    rate = REVIEW_FOCUS_RATE if focus == "reviews" else 1.0
    people = [normal_user(rngs["normal"], catalog, i, writer, rate) for i in range(n_users)]
    if n_users < MIN_USERS_FOR_ABUSE:
        return people
    rng = rngs["abuse"]
    total = sum(len(u.sessions) for u in people)
    quota = round(knobs.anomaly_rate / (1 - knobs.anomaly_rate) * total)
    per_family = _split_even(rng, quota, len(FAMILIES))
    if focus == "reviews":
        per_family = [0] * len(FAMILIES)
        shares = _split_even(rng, quota, len(REVIEW_FAMILIES))
        for name, n in zip(REVIEW_FAMILIES, shares, strict=True):
            per_family[FAMILY_INDEX[name]] = n
    accounts = {f.name: min(n, max(2, round(n / f.per_account)))
                for f, n in zip(FAMILIES, per_family, strict=True) if not f.on_victims and n}
    max_accounts = n_users // 4
    while sum(accounts.values()) > max_accounts and max(accounts.values()) > 2:
        name = max(accounts, key=accounts.get)
        accounts[name] -= 1
    replaced = rng.sample(range(n_users), sum(accounts.values()))
    taken = set(replaced)
    slots = iter(replaced)
    for family, n_sessions in zip(FAMILIES, per_family, strict=True):
        if not n_sessions:
            continue
        subtle = _subtle_count(n_sessions, knobs.subtle_share)
        if family.on_victims:
            _hijack(rng, campaigns, people, taken, family, n_sessions - subtle, subtle)
            continue
        n_acc = accounts[family.name]
        n_sub = min(subtle, n_acc - 1, max(1, round(n_acc * subtle / max(1, n_sessions))))
        n_sub = max(n_sub, n_acc - (n_sessions - subtle))
        for variant, n_accounts, count in ((SUBTLE, n_sub, subtle),
                                          (BLATANT, n_acc - n_sub, n_sessions - subtle)):
            shares = _split_skewed(rng, count, n_accounts)
            novel = set()
            if variant == SUBTLE and writer.realistic and family.name in NOVEL_FAMILIES:
                novel = set(range(1, len(shares), round(1 / NOVEL_SHARE)))
            for k, share in enumerate(shares):
                variant_k = NOVEL if k in novel else variant
                idx = next(slots)
                user = make_user(rng, catalog, idx, PERSONA["casual"])
                user.persona = family.name
                user.human_hours = not (variant == BLATANT and family.flat_hours)
                user.sessions = [family.build(campaigns, user, variant_k) for _ in range(share)]
                people[idx] = user
    return people


def _subtle_count(n, share):
    if n < 2:
        return n
    return min(n - 1, max(1, round(n * share)))


def _split_even(rng, total, parts):
    base, extra = divmod(total, parts)
    bonus = set(rng.sample(range(parts), extra))
    return [base + (k in bonus) for k in range(parts)]


def _split_skewed(rng, total, parts):
    """total sessions over parts accounts, each at least one, a few accounts much busier."""
    if parts <= 0:
        return []
    counts = [1] * parts
    weights = [rng.paretovariate(1.5) for _ in range(parts)]
    for k in rng.choices(range(parts), weights=weights, k=max(0, total - parts)):
        counts[k] += 1
    return counts


def _hijack(rng, campaigns, people, taken, family, n_blatant, n_subtle):
    """Account takeover: a session of the attacker inside a real user's history."""
    pool = [u for u in people if u.idx not in taken and len(u.sessions) >= 2]
    pool = pool or [u for u in people if u.idx not in taken]
    victims = rng.sample(pool, min(len(pool), n_blatant + n_subtle))
    for k, user in enumerate(victims):
        variant = SUBTLE if k < n_subtle else BLATANT
        session = family.build(campaigns, user, variant)
        user.sessions.insert(rng.randint(1, len(user.sessions)), session)


def schedule(rng, people):
    """Give every session a start time: daily/weekly rhythm, never overlapping its user's."""
    for user in people:
        starts = start_times(rng, len(user.sessions), human=user.human_hours)
        free_at = 0
        for s, start in zip(user.sessions, starts, strict=True):
            s.start = max(start, free_at)
            free_at = s.start + s.duration + SESSION_SEPARATION_S
