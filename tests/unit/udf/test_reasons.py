"""Plain-words reasons, told from a session's rows (udf/reasons.py) and from SQL."""

from __future__ import annotations

import json

import pytest

import udf
from udf.reasons import sentence, with_reasons, with_reasons_json

T0 = 1_570_000_000.0


def item(seq, type_, t, product="p1", position=None, **extra):
    kind = "review" if type_ == "review" else "event"
    return {"position": position or seq, "seq": seq, "kind": kind, "type": type_, "t": T0 + t,
            "product": product, "category": extra.pop("category", "electronics.smartphone"),
            "brand": extra.pop("brand", "samsung"), "price": extra.pop("price", 812.0),
            **extra}


def test_a_cart_run_then_a_removal_reads_as_one_sentence():
    rows = [item(1, "cart", 0), item(2, "cart", 1.5), item(3, "remove_from_cart", 3)]
    assert sentence(rows, rows) == ("added a samsung smartphone at 812 to the cart twice "
                                    "within 2 s, then removed it")


def test_regular_purchases_of_one_product_say_how_far_apart():
    rows = [item(1, "view", 0, price=4.5), *(item(n, "purchase", 10 * n, price=4.5)
                                            for n in (2, 3, 4))]
    assert sentence(rows[1:], rows) == ("bought the same samsung smartphone 3 times "
                                        "10 s apart")


def test_a_review_says_when_the_product_was_seen_and_that_it_was_not_bought():
    rows = [item(1, "view", 0, category="apparel.shoes", brand="nike"),
            item(2, "review", 31, rating=5, verified=False, category=None, brand=None,
                 price=None, text="great shoes")]
    assert sentence(rows[1:], rows) == ("posted a 5-star review of nike shoes 30 s after "
                                        "viewing it, without buying it")


def test_a_burst_of_copied_reviews_is_one_phrase():
    texts = ["super shoes top quality order now", "super shoes top quality buy now",
             "super shoes top quality order now!!"]
    rows = [item(n + 1, "review", 10 * n, rating=5, verified=False, text=t)
            for n, t in enumerate(texts)]
    assert sentence(rows, rows) == ("posted 3 5-star reviews of one product 10 s apart, "
                                    "none after a purchase, with near-identical text")


def test_a_catalogue_walk_and_a_long_stretch():
    walk = [item(n, "view", 2 * n, product=str(1000 + n)) for n in range(1, 6)]
    assert sentence(walk, walk) == "viewed 5 different products in catalogue order 2 s apart"
    mixed = [item(n, ("view", "click")[n % 2], n, product=str(n % 3)) for n in range(1, 9)]
    assert sentence(mixed, mixed) == ("8 events within 7 s: 4 clicks and 4 views on "
                                      "3 products, 1 s apart on average")


def test_a_group_that_starts_inside_a_run_says_again():
    rows = [item(1, "cart", 0), item(2, "cart", 3)]
    assert sentence(rows[1:], rows) == ("added the same samsung smartphone to the cart again "
                                        "3 s later")


def test_with_reasons_follows_positions_and_groups():
    rows = [item(1, "view", 0, position=1), item(2, "cart", 2, position=2),
            item(3, "cart", 3, position=2), item(4, "purchase", 9, position=3)]
    explanation = {"score": 0.9, "top_events": [
        {"position": 2, "events": 2, "event": "2s cart same x2 + 5s purchase same",
         "delta": 1.2},
        {"position": 1, "events": 1, "event": "view smartphone samsung luxury", "delta": 0.3},
        {"position": 7, "events": 1, "event": "from another text", "delta": 0.1}]}
    out = with_reasons(explanation, rows)
    reasons = [e["reason"] for e in out["top_events"]]
    assert reasons[0] == ("added the same samsung smartphone to the cart twice within 1 s, "
                          "then bought it")
    assert reasons[1] == "viewed a samsung smartphone"
    assert reasons[2] is None, "no rows at that position: the caller falls back to the text"
    assert out["reasons"] == reasons[:2]
    assert out["score"] == 0.9 and out["top_events"][0]["delta"] == 1.2
    assert with_reasons(None, rows) is None


def test_json_form_checks_its_input():
    assert with_reasons_json(None, "[]") is None
    assert json.loads(with_reasons_json('{"top_events": []}', None))["reasons"] == []
    with pytest.raises(ValueError, match="must be JSON"):
        with_reasons_json("not json", "[]")
    with pytest.raises(ValueError, match="JSON object"):
        with_reasons_json("[1]", "[]")


def test_anomaly_reasons_in_sql_needs_no_model(con):
    udf.register(con)
    rows = [item(1, "cart", 0), item(2, "cart", 1)]
    explanation = json.dumps({"top_events": [{"position": 1, "events": 2, "delta": 1.0,
                                              "event": "cart x2"}]})
    got = con.execute("select anomaly_reasons(?, ?), anomaly_reasons(null, ?)",
                      [explanation, json.dumps(rows), "[]"]).fetchone()
    assert json.loads(got[0])["reasons"] == [
        "added a samsung smartphone at 812 to the cart twice within 1 s"]
    assert got[1] is None
