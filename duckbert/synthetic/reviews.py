"""Review texts: honest ones name concrete aspects of the product and match the rating;
fake ones are generic and promotional, and ring posts are near-duplicates across accounts."""

from duckbert.synthetic import review_words as words

# J-shaped, as on real marketplaces: mostly 5s, a bump of angry 1s.
HONEST_RATINGS = (1, 2, 3, 4, 5)
HONEST_CUM = (0.12, 0.19, 0.30, 0.55, 1.0)


def honest_rating(rng):
    u = rng.random()
    for rating, edge in zip(HONEST_RATINGS, HONEST_CUM, strict=True):
        if u < edge:
            return rating
    return 5


def _fill(rng, text, catalog, product):
    spec = catalog.specs[catalog.cat[product]]
    brand = catalog.brand[product] or "this brand"
    others = [b for b in spec.brands if b != catalog.brand[product]]
    return text.format(
        d=rng.randint(2, 5), h=rng.randint(3, 12), w=rng.randint(2, 8), m=rng.randint(15, 90),
        noun=spec.noun, NOUN=spec.noun.upper(), brand=brand, who=rng.choice(words.WHO),
        other=rng.choice(others) if others else "old one",
    )


def sentence(clause):
    """A clause as a sentence: capitalised, ending in a full stop unless it has one."""
    clause = clause.strip()
    if not clause:
        return ""
    clause = clause[0].upper() + clause[1:]
    return clause if clause[-1] in ".!?" else clause + "."


def honest(rng, catalog, product, rating):
    """A review that talks about this product's own aspects, in the tone of its rating."""
    if rng.random() < 0.15:
        return _fill(rng, rng.choice(words.SHORT[rating]), catalog, product)
    aspects = words.ASPECTS[catalog.specs[catalog.cat[product]].aspects]
    picked = rng.sample(aspects, min(len(aspects), rng.choice((1, 2, 2, 3))))
    parts = [rng.choice(words.OPENERS[rating])]
    if rng.random() < 0.35:
        parts.append(rng.choice(words.CONTEXT))
    for k, (pos, neg) in enumerate(picked):
        good = _polarity(rng, rating, k)
        clause = rng.choice(pos if good else neg)
        if k and rng.random() < 0.4:
            joiner = "but" if good != _polarity(rng, rating, 0) else "and"
            parts[-1] = parts[-1].rstrip(".") + f", {joiner} {clause}."
        else:
            parts.append(sentence(clause))
    parts.append(rng.choice(words.CLOSERS[rating]))
    text = " ".join(p for p in parts if p)
    if rng.random() < 0.2:
        text = text.lower()
    return _fill(rng, text, catalog, product)


def _polarity(rng, rating, k):
    if rating == 5:
        return True
    if rating == 4:
        return k == 0 or rng.random() < 0.7
    if rating == 3:
        return k % 2 == 0
    if rating == 2:
        return k > 0 and rng.random() < 0.4
    return False


def promotional(rng, catalog, product, mimicry):
    """A fake 5-star review that varies: generic praise and a push to buy, no product detail.

    The more it mimics, the fewer exclamation marks and the more vague quality claims it
    borrows, but it never names a concrete aspect of the product.
    """
    n = rng.choice((2, 3, 3, 4))
    parts = rng.sample(words.PROMO, n)
    if rng.random() < mimicry:
        parts[rng.randrange(n)] = sentence(rng.choice(words.VAGUE))
    if rng.random() < mimicry * 0.6:
        parts = [p.replace("!", ".") for p in parts]
    text = " ".join(parts)
    if rng.random() < 0.15:
        text = text.lower()
    return _fill(rng, text, catalog, product)


def ring(rng, base, catalog, product):
    """A near-duplicate of a ring's campaign text: same words, small edits per account."""
    out = []
    for token in base.split(" "):
        key = token.strip("!.,").lower()
        if key in words.RING_SWAPS and rng.random() < 0.25:
            token = token.lower().replace(key, words.RING_SWAPS[key])
        out.append(token)
    text = " ".join(out)
    if rng.random() < 0.3:
        text = text.replace("!!!", "!!")
    if rng.random() < 0.2:
        text += " " + rng.choice(("Thanks!", ":)", "A+++", "Recommended!"))
    return _fill(rng, text, catalog, product)


def brushing(rng, catalog, product):
    """The short confirmation a brushing buyer leaves for an order that was never real."""
    return _fill(rng, rng.choice(words.BRUSH), catalog, product)


REVIEW_STYLES = ("realistic", "short")


class Writer:
    """The review texts of one data set.

    `realistic` (the default): duckbert.synthetic.voices, long-tailed lengths, genuine voices
    and deceptive reviews that imitate them. `short`: the phrase banks above (one or two
    sentences, promotional fakes), the generator of the st1 benchmarks.
    """

    def __init__(self, style="realistic"):
        if style not in REVIEW_STYLES:
            raise ValueError(f"reviews must be one of {', '.join(REVIEW_STYLES)}, got {style!r}")
        self.style = style
        self.realistic = style == "realistic"

    def honest(self, rng, catalog, product, rating):
        if self.realistic:
            from duckbert.synthetic.voices import genuine

            return genuine(rng, catalog, product, rating)
        return honest(rng, catalog, product, rating)

    def fake(self, rng, catalog, product, mimicry):
        """(rating, text) of a subtle fake review; realistic: copied from a genuine review of
        another kind of product with probability `mimicry`, else a deceptive imitation."""
        if self.realistic:
            from duckbert.synthetic.voices import copied, deceptive, deceptive_rating

            rating = deceptive_rating(rng)
            if rng.random() < mimicry:
                return rating, copied(rng, catalog, product, rating)
            return rating, deceptive(rng, catalog, product, rating)
        rating = 4 if rng.random() < 0.2 * mimicry else 5
        return rating, promotional(rng, catalog, product, mimicry)

    def novel(self, rng, catalog, product):
        """(rating, text) of the novel fake variant (words of no other abuse bank)."""
        from duckbert.synthetic.voices import deceptive_rating, novel

        return deceptive_rating(rng), novel(rng, catalog, product)

    def ring_bases(self, rng, n):
        """n ring campaign texts ({noun}/{brand} placeholders); realistic: None, see ring_base."""
        return rng.sample(words.RING, n) if not self.realistic else [None] * n

    def ring_base(self, rng, catalog, product):
        """A realistic ring's campaign text, a deceptive review aimed at `product`'s group."""
        from duckbert.synthetic.voices import deceptive_template

        return deceptive_template(rng, catalog, product, 5)
