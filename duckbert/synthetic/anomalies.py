"""Abuse families, each with a blatant variant and a subtle one that imitates people.

A subtle variant borrows human volumes and timing (more so the higher `mimicry` is), so simple
per-session aggregates barely separate it; its signal lives in the order of events, in which
products it touches, or in the words of its review:

- scraping: walks product ids (or every brand of a category) in catalogue order.
- click_fraud: bounce clicks concentrated on one campaign brand, no buying intent.
- card_testing: cheap single-item checkouts in a row, from unrelated categories, often unviewed.
- fake_review: generic, promotional 5-star text (realistic reviews: vague imitations of genuine
  ones, duckbert/synthetic/voices.py); rings post near-duplicates on unviewed products; a
  `novel` variant (realistic reviews only) writes in words no other abuse bank has. Subtle
  accounts buy what they review as often as mimicry says (review-for-refund: the purchase
  earns the verified badge people's reviews carry), mostly in the session before, as people do.
- account_takeover: a real user's session jumps to expensive items in a category they never
  browse and checks out fast.
- cart_hoarding: the same limited, high-demand item added again and again, remove/re-add.
- brushing: fake orders of a white-label item found without comparison, short generic review.
"""

import math
from dataclasses import dataclass, replace

from duckbert.synthetic import reviews
from duckbert.synthetic.clock import dwell
from duckbert.synthetic.personas import PERSONA, Browser, view_count
from duckbert.synthetic.session import CART, CLICK, PURCHASE, REMOVE, VIEW, Session

BLATANT, SUBTLE, NOVEL = "blatant", "subtle", "novel"
# Families with a novel variant (realistic reviews): a subtle account whose review text uses
# words no other abuse bank has; the benchmark never trains on it.
NOVEL_FAMILIES = ("fake_review",)
NOVEL_SHARE = 0.3  # of a novel family's subtle accounts


def _ln(rng, median, sigma):
    return rng.lognormvariate(math.log(median), sigma)


def _enumerate(rng, catalog, n, n_categories):
    """Products in catalogue order: consecutive ids, or each brand of a category in turn."""
    strategy = rng.choice(("ids", "brands"))
    cats = rng.sample(range(catalog.n_categories), n_categories)
    out = []
    for c in cats:
        quota = math.ceil(n / n_categories)
        if strategy == "ids":
            items = catalog.by_cat[c]
            start = rng.randrange(len(items))
            out.extend(items[(start + k) % len(items)] for k in range(min(quota, len(items))))
        else:
            brands = catalog.brands_of(c)
            per = rng.randint(1, 2)
            k = rng.randrange(len(brands))
            taken = 0
            while taken < quota and taken < len(catalog.by_cat[c]):
                items = catalog.brand_items[(c, brands[k % len(brands)])]
                step = items[(k // len(brands)) * per:][:per] or items[:1]
                out.extend(step)
                taken += len(step)
                k += 1
    return out[:n]


def scraping(ctx, user, variant):
    rng, catalog, m = ctx.rng, ctx.catalog, ctx.mimicry
    s = Session(user.idx, "scraping", variant)
    if variant == BLATANT:
        base = rng.uniform(0.8, 3.0)
        for prod in _enumerate(rng, catalog, rng.randint(80, 400), rng.randint(1, 3)):
            s.emit(VIEW, prod)
            s.wait(max(0.2, base * (1 + rng.gauss(0, 0.05))))
        return s
    n = max(8, min(150, round(_ln(rng, 12 + 25 * (1 - m), 0.6))))
    sigma = 0.9 * (0.35 + 0.65 * m)
    stock_check = rng.randrange(n) if rng.random() < 0.4 * m else -1
    for k, prod in enumerate(_enumerate(rng, catalog, n, 1 if rng.random() < 0.7 else 2)):
        if rng.random() < 0.25 * m:
            s.emit(CLICK, prod)
            s.wait(rng.lognormvariate(0.7, 0.5))
        s.emit(VIEW, prod)
        s.wait(dwell(rng, 25.0, sigma, 0.03 * m))
        if k == stock_check:  # add to cart to read the stock level
            s.emit(CART, prod)
            s.wait(dwell(rng, 6.0, sigma, 0.0))
        if rng.random() < 0.12 * m:  # a retry reads like a revisit
            s.emit(VIEW, prod)
            s.wait(dwell(rng, 25.0, sigma, 0.0))
    return s


def click_fraud(ctx, user, variant):
    rng, catalog, m = ctx.rng, ctx.catalog, ctx.mimicry
    s = Session(user.idx, "click_fraud", variant)
    target = ctx.click_targets[user.idx % len(ctx.click_targets)]
    items = catalog.brand_items[target]
    if rng.random() < 0.4:
        items = [rng.choice(items)]
    if variant == BLATANT:
        base = rng.uniform(2.0, 6.0)
        for _ in range(rng.randint(30, 150)):
            prod = rng.choice(items)
            s.emit(CLICK, prod)
            if rng.random() < 0.3:
                s.wait(rng.uniform(0.5, 1.5))
                s.emit(VIEW, prod)
            s.wait(max(0.3, base * (1 + rng.gauss(0, 0.1))))
        return s
    n, k = view_count(rng, PERSONA["casual"]) + 2, rng.randint(2, 3 + round(3 * (1 - m)))
    cover = replace(PERSONA["casual"], p_click=max(0.0, 0.25 - m * k / n))
    b = Browser(rng, catalog, s, user, cover, user.next_category(rng, catalog))
    fraud_steps = set(rng.sample(range(n + k), k))
    for step in range(n + k):
        if step not in fraud_steps:
            b.step()
            continue
        prod = rng.choice(items)
        s.emit(CLICK, prod)
        s.wait(rng.lognormvariate(0.7, 0.5))
        if rng.random() < 0.5 + 0.5 * m:
            s.emit(VIEW, prod)
            s.wait(_ln(rng, 3 + 15 * m, 0.6))
    b.finish()
    return s


def card_testing(ctx, user, variant):
    rng, catalog, m = ctx.rng, ctx.catalog, ctx.mimicry
    s = Session(user.idx, "card_testing", variant)
    if variant == BLATANT:
        if rng.random() < 0.5:
            s.emit(VIEW, rng.choice(ctx.cheap))
            s.wait(_ln(rng, 5, 0.4))
        for _ in range(rng.randint(5, 20)):
            prod = rng.choice(ctx.cheap)
            s.emit(CART, prod)
            s.wait(_ln(rng, 5, 0.3))
            s.emit(PURCHASE, prod)
            if rng.random() < 0.3:  # declined, retried
                s.wait(_ln(rng, 3, 0.3))
                s.emit(PURCHASE, prod)
            s.wait(_ln(rng, 8, 0.3))
        return s
    # Cover browsing like a bargain hunter whose own carts are never bought.
    cover = replace(PERSONA["bargain_hunter"], p_cart=0.15 * m, p_buy=0.0, p_mid_checkout=0.0,
                    p_buy_now=0.0, price_sort=0.0)
    home = user.next_category(rng, catalog)
    b = Browser(rng, catalog, s, user, cover, home, cheap=rng.random() < m)
    for _ in range(max(1, round(_ln(rng, 3 + 10 * m, 0.5)))):
        b.step()
    for _ in range(rng.randint(2, 3)):
        if rng.random() < m:
            prod = catalog.pick(rng, home, cheap=True)
        else:
            prod = rng.choice([i for i in rng.sample(ctx.cheap, 8) if catalog.cat[i] != home]
                              or ctx.cheap)
        if rng.random() < m:
            s.emit(VIEW, prod)
            s.wait(_ln(rng, 6 + 14 * m, 0.5))
        s.emit(CART, prod)
        s.wait(_ln(rng, 12 + 40 * m, 0.5))
        s.emit(PURCHASE, prod)
        if rng.random() < m:
            s.wait(_ln(rng, 8, 0.5))
            b.step()
        else:
            s.wait(_ln(rng, 10 + 20 * m, 0.5))
    return s


def fake_review(ctx, user, variant):
    rng, catalog, m = ctx.rng, ctx.catalog, ctx.mimicry
    s = Session(user.idx, "fake_review", variant)
    base, targets = ctx.rings[user.idx % len(ctx.rings)]
    if variant == BLATANT:
        s.emit(VIEW, catalog.pick(rng, rng.randrange(catalog.n_categories)))
        s.wait(_ln(rng, 6, 0.4))
        for _ in range(rng.randint(2, 6)):
            prod = rng.choice(targets)
            if rng.random() < 0.3:
                s.emit(VIEW, prod)
                s.wait(_ln(rng, 5, 0.4))
            s.wait(_ln(rng, 20, 0.4))
            s.review(prod, 5, reviews.ring(rng, base, catalog, prod))
        s.wait(_ln(rng, 5, 0.4))
        s.emit(VIEW, rng.choice(targets))
        return s
    persona = PERSONA[rng.choice(("casual", "goal_buyer", "returning"))]
    b = Browser(rng, catalog, s, user, persona, user.next_category(rng, catalog))
    n = max(2, view_count(rng, persona))
    # Verified (bought first) with probability m: the product bought last session, reviewed
    # at the start as people do, else one bought earlier in this session.
    owed = ctx.owed.pop(user.idx, None)
    verified = rng.random() < m
    prod = owed if verified else None
    at_start = prod is not None or (not verified and rng.random() < m)
    buy_at = rng.randrange(n - 1) if verified and prod is None else -1
    review_at = 0 if at_start else rng.randrange(max(1, buy_at + 1), n)
    buy_next = rng.randrange(n) if rng.random() < m else -1
    for step in range(n):
        if step == buy_at:
            prod = _buy(ctx, b, targets)
            continue
        if step == review_at:
            _fake_review(ctx, s, b, targets, at_start, prod)
        if step == buy_next:
            ctx.owed[user.idx] = _buy(ctx, b, targets)
            continue
        b.step()
    b.finish()
    return s


def _fake_target(ctx, b, targets):
    """What a subtle fake reviews: a product it browsed (more so at high mimicry) or a target."""
    rng, m = ctx.rng, ctx.mimicry
    if b.viewed and rng.random() < 0.3 + 0.6 * m:
        return rng.choice(b.viewed)
    return rng.choice(targets)


def _buy(ctx, b, targets):
    """View, cart and check out the product a fake review will be written for."""
    prod = _fake_target(ctx, b, targets)
    b.step(prod)
    if prod not in b.cart:
        b.add(prod)
    b.checkout([prod])
    return prod


def _fake_review(ctx, s, b, targets, at_start, prod=None):
    """Write the fake review of `prod` (bought before), else of a product it picks now."""
    rng, catalog, m = ctx.rng, ctx.catalog, ctx.mimicry
    if prod is None:
        prod = _fake_target(ctx, b, targets)
    if at_start:
        s.emit(VIEW, prod)
        s.wait(dwell(rng, 15.0, 0.6, 0.0))
    s.wait(_ln(rng, 30 + 50 * m, 0.6))
    if s.variant == NOVEL:
        rating, text = ctx.writer.novel(rng, catalog, prod)
    else:
        rating, text = ctx.writer.fake(rng, catalog, prod, m)
    s.review(prod, rating, text)
    s.wait(dwell(rng, 10.0, 0.5, 0.0))


def account_takeover(ctx, user, variant):
    rng, catalog, m = ctx.rng, ctx.catalog, ctx.mimicry
    s = Session(user.idx, "account_takeover", variant)
    if variant == BLATANT:
        if rng.random() < 0.3:
            s.emit(VIEW, catalog.pick(rng, user.next_category(rng, catalog)))
            s.wait(_ln(rng, 6, 0.5))
        bought = []
        for _ in range(rng.randint(1, 3)):
            prod = catalog.pick_price_band(rng, user.stranger_category(rng, catalog), 0.9, 1.0)
            s.emit(VIEW, prod)
            s.wait(_ln(rng, 4, 0.4))
            s.emit(CART, prod)
            s.wait(_ln(rng, 3, 0.4))
            bought.append(prod)
        s.wait(_ln(rng, 12, 0.4))
        for prod in bought:
            s.emit(PURCHASE, prod)
            s.wait(rng.uniform(0.0, 1.0))
        return s
    persona = PERSONA.get(user.persona, PERSONA["casual"])
    b = Browser(rng, catalog, s, user, replace(persona, p_cart=0.0, p_buy_now=0.0),
                user.next_category(rng, catalog))
    for _ in range(max(1, min(12, round(view_count(rng, persona) * m)) + 1)):
        b.step()
    c = user.stranger_category(rng, catalog)
    if rng.random() < m:
        for _ in range(rng.randint(1, 2)):
            s.emit(VIEW, catalog.pick_price_band(rng, c, 0.5, 0.9))
            s.wait(_ln(rng, 8 + 12 * m, 0.5))
    target = catalog.pick_price_band(rng, c, 0.8 - 0.3 * m, 1.0)
    s.emit(VIEW, target)
    s.wait(_ln(rng, 10 + 20 * m, 0.5))
    s.emit(CART, target)
    s.wait(_ln(rng, 4, 0.5))
    s.wait(_ln(rng, 15 + 45 * m, 0.5))
    s.emit(PURCHASE, target)
    if rng.random() < m:
        s.wait(_ln(rng, 20, 0.6))
        s.emit(VIEW, target)
    return s


def cart_hoarding(ctx, user, variant):
    rng, catalog, m = ctx.rng, ctx.catalog, ctx.mimicry
    s = Session(user.idx, "cart_hoarding", variant)
    target = ctx.limited[user.idx % len(ctx.limited)]
    if variant == BLATANT:
        s.emit(VIEW, target)
        s.wait(_ln(rng, 3, 0.3))
        for _ in range(rng.randint(10, 40)):
            for _ in range(rng.randint(2, 4) if rng.random() < 0.4 else 1):  # quantity burst
                s.emit(CART, target)
                s.wait(rng.uniform(0.0, 0.9))
            s.wait(_ln(rng, 2, 0.3))
            if rng.random() < 0.35:
                s.emit(REMOVE, target)
                s.wait(_ln(rng, 2, 0.3))
        if rng.random() < 0.5:
            s.wait(_ln(rng, 8, 0.4))
            for _ in range(rng.randint(2, 5)):
                s.emit(PURCHASE, target)
        return s
    cover = replace(PERSONA["bargain_hunter"], p_cart=0.05, p_readd=0.0, cheap=0.0)
    b = Browser(rng, catalog, s, user, cover, catalog.cat[target])
    n = max(5, min(60, round(_ln(rng, 10 + 8 * m, 0.5))))
    adds = sorted(rng.sample(range(n), min(n, rng.randint(3, 5 - round(m)))))
    for step in range(n):
        if step not in adds:
            b.step()
            continue
        if target in b.cart and rng.random() < 0.9 - 0.6 * m:
            b.remove(target)
        if step == adds[0] or rng.random() < m:
            b.step(target)
        if target not in b.cart or step != adds[0]:
            b.add(target)
    if target in b.cart and rng.random() < 0.4:
        b.checkout([target] * (2 if rng.random() < 0.5 * (1 - m) else 1))
    return s


def brushing(ctx, user, variant):
    rng, catalog, m = ctx.rng, ctx.catalog, ctx.mimicry
    s = Session(user.idx, "brushing", variant)
    target = ctx.brush_targets[user.idx % len(ctx.brush_targets)]
    if variant == BLATANT:
        if rng.random() < 0.6:
            s.emit(VIEW, target)
            s.wait(_ln(rng, 5, 0.4))
        s.emit(CART, target)
        s.wait(_ln(rng, 3, 0.4) + _ln(rng, 10, 0.4))
        s.emit(PURCHASE, target)
        if rng.random() < 0.8:
            s.wait(_ln(rng, 15, 0.4))
            s.review(target, 5, reviews.brushing(rng, catalog, target))
            s.wait(_ln(rng, 3, 0.4))
            s.emit(VIEW, target)
        return s
    cover = replace(PERSONA["goal_buyer"], p_cart=0.0, p_buy_now=0.0, p_switch=0.0)
    b = Browser(rng, catalog, s, user, cover, catalog.cat[target])
    for _ in range(max(1, round(_ln(rng, 3 + 3 * m, 0.5)))):
        b.step()
    s.emit(VIEW, target)
    s.wait(_ln(rng, 15 + 20 * m, 0.5))
    b.add(target)
    b.checkout([target], median=25 + 45 * m)
    if rng.random() < 0.25:
        s.wait(_ln(rng, 40, 0.5))
        s.review(target, 5, reviews.brushing(rng, catalog, target))
        b.step()
    return s


@dataclass(frozen=True)
class Family:
    name: str
    build: object
    per_account: float  # mean sessions per abusive account
    flat_hours: bool = False  # blatant bots ignore the daily rhythm
    on_victims: bool = False  # sessions are injected into real users' histories


FAMILIES = (
    Family("scraping", scraping, 4.0, flat_hours=True),
    Family("click_fraud", click_fraud, 3.0, flat_hours=True),
    Family("card_testing", card_testing, 2.0, flat_hours=True),
    Family("fake_review", fake_review, 2.5),
    Family("account_takeover", account_takeover, 1.0, on_victims=True),
    Family("cart_hoarding", cart_hoarding, 2.5),
    Family("brushing", brushing, 2.0),
)
FAMILY_NAMES = tuple(f.name for f in FAMILIES)
