"""Reasons in plain words: the events an explanation ranks highest, told as a short sentence.

`anomaly_explain()` names text segments by position; the warehouse knows which events and
reviews each segment shows (`int_session_timeline.text_position`, docs/SESSION_TEXT.md). This
module turns those rows, not the text, into sentences such as "added the same samsung
smartphone to the cart twice within 2 s, then removed it" or "posted 3 5-star reviews of one
product within 1 min, none after a purchase, with near-identical text". Nothing here knows an
anomaly family: a sentence is built from the rows' types, products, times, prices and ratings,
so it reads the same on any warehouse and survives a change of the text format.

An item is a dict with: position (text segment), seq, kind (event | review), type, t (epoch
seconds), product, category (dotted code or None), brand, price, rating, verified, text.
"""

from __future__ import annotations

import json
import statistics
from itertools import groupby

MAX_BLOCKS = 3  # more blocks than this in one reason: one summary sentence instead
SIMILAR_TEXT = 0.5  # mean word Jaccard from which reviews count as near-identical

VERBS = {"view": "viewed {}", "click": "clicked {}", "cart": "added {} to the cart",
         "remove_from_cart": "removed {} from the cart", "purchase": "bought {}"}
GERUNDS = {"view": "viewing {}", "click": "clicking {}", "cart": "adding {} to the cart",
           "remove_from_cart": "removing {} from the cart", "purchase": "buying {}",
           "review": "reviewing {}"}
NOUNS = {"view": ("view", "views"), "click": ("click", "clicks"), "cart": ("add to cart",
         "adds to cart"), "remove_from_cart": ("removal", "removals"),
         "purchase": ("purchase", "purchases"), "review": ("review", "reviews")}


def with_reasons(explanation: dict | None, items: list[dict] | None) -> dict | None:
    """The explanation with `reason` on each top event and `reasons`, the sentences in order.

    A top event whose position has no rows (items missing, or from another text) keeps
    reason None, so a caller can fall back to the segment text.
    """
    if explanation is None:
        return None
    items = sorted(items or [], key=lambda i: i["seq"])
    out = dict(explanation)
    events = []
    for top in explanation.get("top_events") or []:
        first = int(top["position"])
        last = first + int(top.get("events") or 1) - 1
        group = [i for i in items if first <= int(i["position"]) <= last]
        events.append({**top, "reason": sentence(group, items) if group else None})
    out["top_events"] = events
    out["reasons"] = [e["reason"] for e in events if e["reason"]]
    return out


def with_reasons_json(explanation: str | None, items: str | None) -> str | None:
    """with_reasons over JSON text (the SQL function anomaly_reasons)."""
    if explanation is None:
        return None
    try:
        parsed = json.loads(explanation)
        rows = json.loads(items) if items else []
    except json.JSONDecodeError as exc:
        raise ValueError(f"anomaly_reasons: explanation and items must be JSON ({exc})") from exc
    if not isinstance(parsed, dict) or not isinstance(rows, list):
        raise ValueError("anomaly_reasons: explanation must be a JSON object (anomaly_explain's "
                         "output) and items a JSON array of the session's rows")
    return json.dumps(with_reasons(parsed, rows))


def sentence(group: list[dict], session: list[dict]) -> str:
    """One sentence for consecutive items `group` of a session (all its items: `session`)."""
    blocks = [list(b) for _, b in groupby(group, key=lambda i: i["type"])]
    if len(blocks) > MAX_BLOCKS:
        return _summary(group)
    before = _previous(group[0], session)
    parts, mentioned = [], before.get("product") if before else None
    for n, block in enumerate(blocks):
        parts.append(_block(block, session, mentioned, lead=before if n == 0 else None))
        products = {i["product"] for i in block}
        mentioned = block[-1]["product"] if len(products) == 1 else None
    return ", then ".join(parts)


def _block(block: list[dict], session: list[dict], mentioned, lead: dict | None) -> str:
    """Phrase for consecutive items of one type, e.g. "bought one tefal kettle 3 times"."""
    kind = block[0]["type"]
    if kind == "review":
        return _reviews(block, session)
    products = [i["product"] for i in block]
    distinct = len(set(products))
    n = len(block)
    repeat = lead is not None and lead["type"] == kind and lead.get("product") == products[0]
    if distinct == 1:
        if products[0] is not None and products[0] == mentioned:
            thing = "it" if lead is None else f"the same {_noun(block[0])}"
        else:
            thing = _a(_noun(block[0]), block[0].get("price"), kind)
        if repeat:  # the group starts inside a run: "again", "3 more times"
            phrase = _verb(kind, thing) + (" again" if n == 1 else f" {n} more times")
        else:
            phrase = _verb(kind, thing) + _times(n)
    else:
        walk = " in catalogue order" if _is_walk(products) else ""
        spread = f"{distinct} different products" if distinct == n else \
            f"{distinct} products {n} times"
        phrase = _verb(kind, spread) + walk
    timing = _rhythm(block)
    if n == 1 and lead is not None:
        timing = _after(block[0], lead) if not repeat or distinct > 1 else \
            f"{_ago(block[0]['t'] - lead['t'])} later"
    return phrase + (f" {timing}" if timing else "")


def _reviews(block: list[dict], session: list[dict]) -> str:
    """Phrase for a run of reviews: ratings, products, purchases, timing, copied text."""
    n = len(block)
    ratings = [r.get("rating") for r in block if r.get("rating") is not None]
    stars = ""
    if ratings and min(ratings) == max(ratings):
        stars = f"{ratings[0]}-star "
    products = {r["product"] for r in block}
    if n == 1:
        review = block[0]
        phrase = f"posted a {stars}review of {_a(_product_name(review, session), None)}"
        seen = _last_seen(review, session)
        if seen is not None:
            phrase += f" {_ago(review['t'] - seen['t'])} after {_gerund(seen['type'], 'it')}"
        elif not any(i["product"] == review["product"] and i["kind"] == "event"
                     for i in session):
            phrase += " without viewing it"
        if not review.get("verified"):
            phrase += ", without buying it"
        return phrase
    rated = "" if stars or not ratings else f" rated {min(ratings)} to {max(ratings)} stars"
    of = "of one product" if len(products) == 1 else f"of {len(products)} products"
    phrase = f"posted {n} {stars}reviews{rated} {of}"
    timing = _rhythm(block)
    if timing:
        phrase += f" {timing}"
    bought = sum(bool(r.get("verified")) for r in block)
    phrase += {0: ", none after a purchase", n: ", each after a purchase"}.get(
        bought, f", {bought} after a purchase")
    if _similar([r.get("text") or "" for r in block]):
        phrase += ", with near-identical text"
    return phrase


def _summary(group: list[dict]) -> str:
    """One sentence for a long stretch: how many of each, on how many products, how fast."""
    counts = {}
    for item in group:
        counts[item["type"]] = counts.get(item["type"], 0) + 1
    listed = [_count(counts[k], k) for k in sorted(counts, key=lambda k: -counts[k])]
    products = len({i["product"] for i in group if i["product"] is not None})
    span = group[-1]["t"] - group[0]["t"]
    text = f"{len(group)} events {_within(span)}: {_and(listed)}"
    if products:
        text += f" on {products} product{'s' if products > 1 else ''}"
    gaps = _gaps(group)
    if gaps:
        text += f", {_duration(statistics.median(gaps))} apart on average" \
            if statistics.median(gaps) >= 1 else ", mostly less than a second apart"
    return text


def _previous(item: dict, session: list[dict]) -> dict | None:
    earlier = [i for i in session if i["seq"] < item["seq"]]
    return earlier[-1] if earlier else None


def _last_seen(review: dict, session: list[dict]) -> dict | None:
    """The last event on the reviewed product before the review, if the session has one."""
    seen = [i for i in session if i["seq"] < review["seq"] and i["kind"] == "event"
            and i["product"] == review["product"]]
    return seen[-1] if seen else None


def _product_name(review: dict, session: list[dict]) -> str:
    """A review has no category of its own: take it from an event on the same product."""
    for item in session:
        if item["kind"] == "event" and item["product"] == review["product"]:
            return _noun(item)
    return "product"


def _noun(item: dict) -> str:
    """"samsung smartphone": brand and the leaf of the category code, else "product"."""
    code = item.get("category") or ""
    leaf = code.rsplit(".", 1)[-1].replace("_", " ").strip() if code != "unknown" else ""
    brand = item.get("brand") or ""
    brand = "" if brand == "unknown" else brand
    return " ".join(w for w in (brand, leaf or "product") if w)


def _a(noun: str, price, kind: str | None = None) -> str:
    """"a tefal kettle at 82.34" (prices only where money moves), "zentrio shoes"."""
    plural = noun.endswith("s") and not noun.endswith("ss")
    article = "" if plural else "an " if noun[:1].lower() in "aeiou" else "a "
    priced = f" at {_money(price)}" if price is not None and kind in (
        "cart", "remove_from_cart", "purchase") else ""
    return f"{article}{noun}{priced}"


def _verb(kind: str, thing: str) -> str:
    if kind == "remove_from_cart" and thing == "it":
        return "removed it"
    return VERBS.get(kind, kind.replace("_", " ") + " on {}").format(thing)


def _times(n: int) -> str:
    return "" if n == 1 else " twice" if n == 2 else f" {n} times"


def _count(n: int, kind: str) -> str:
    one, many = NOUNS.get(kind, (kind, kind))
    return f"{n} {one if n == 1 else many}"


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _gaps(items: list[dict]) -> list[float]:
    return [b["t"] - a["t"] for a, b in zip(items, items[1:], strict=False)]


def _rhythm(block: list[dict]) -> str:
    """"10 s apart" when the gaps are regular, else "within 40 s"; "" for one item."""
    gaps = _gaps(block)
    if not gaps:
        return ""
    mid = statistics.median(gaps)
    if mid >= 1 and len(gaps) > 1 and all(0.5 * mid <= g <= 1.5 * mid for g in gaps):
        return f"{_duration(mid)} apart"
    return _within(block[-1]["t"] - block[0]["t"])


def _after(item: dict, previous: dict) -> str:
    """"2 s after adding it to the cart", or "... after viewing another product"."""
    gap = item["t"] - previous["t"]
    if gap >= 600:
        return ""
    same = previous.get("product") is not None and previous.get("product") == item.get("product")
    return f"{_ago(gap)} after {_gerund(previous['type'], 'it' if same else 'another product')}"


def _gerund(kind: str, thing: str) -> str:
    return GERUNDS.get(kind, kind.replace("_", " ") + " {}").format(thing)


def _within(seconds: float) -> str:
    return "within a second" if seconds < 1 else f"within {_duration(seconds)}"


def _ago(seconds: float) -> str:
    return "under a second" if seconds < 1 else _duration(seconds)


def _duration(seconds: float) -> str:
    """Rounded so that similar sessions read alike: 4 s, 25 s, 3 min, 2 h, 3 days."""
    s = float(seconds)
    if s < 10:
        return f"{max(1, round(s))} s"
    if s < 60:
        return f"{min(55, 5 * round(s / 5))} s"
    if s < 3600:
        return f"{max(1, round(s / 60))} min"
    if s < 86400:
        return f"{round(s / 3600)} h"
    days = round(s / 86400)
    return f"{days} day{'s' if days > 1 else ''}"


def _money(price: float) -> str:
    return f"{price:,.0f}" if price >= 100 else f"{price:.2f}"


def _is_walk(products: list) -> bool:
    """Product ids that climb by 1-5 each step: a walk through a catalogue."""
    try:
        ids = [int(p) for p in products]
    except (TypeError, ValueError):
        return False
    return len(ids) >= 3 and all(1 <= b - a <= 5 for a, b in zip(ids, ids[1:], strict=False))


def _similar(texts: list[str]) -> bool:
    """Mean pairwise word Jaccard of the review texts at or over SIMILAR_TEXT."""
    bags = [set(t.lower().split()) for t in texts if t.strip()]
    if len(bags) < 2:
        return False
    scores = [len(a & b) / len(a | b) for n, a in enumerate(bags) for b in bags[n + 1:]]
    return sum(scores) / len(scores) >= SIMILAR_TEXT
