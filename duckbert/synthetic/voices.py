"""Realistic review texts: long-tailed lengths, genuine reviews in several voices, deceptive
reviews that imitate them.

- Length: each review draws a target word count from a log-normal (a few words to several
  hundred) and adds sentences until it reaches it, so length alone separates little: genuine
  and deceptive reviews draw from overlapping distributions.
- Genuine voices: terse, plain, detailed, story, technical. The longer voices carry evidence
  of use (numbers, durations, who uses it and where, another brand compared, a complaint
  next to the praise, an update weeks later).
- Deceptive reviews borrow the genuine openers, the product's aspect nouns and 4-5 star
  ratings, but say nothing checkable: superlatives, first person, the brand repeated,
  templates paraphrased by synonyms.
- Copied: a subtle fake pasted from a genuine review of another kind of product (the
  copy-paste of review farms), as often as mimicry says. Its words and voice are a real
  review's; only its meaning, aspects that the reviewed product does not have, gives it away.
- `novel`: a deceptive variant in words no other abuse bank uses (telegraphic praise).
"""

import math

from duckbert.synthetic import review_words as short
from duckbert.synthetic import voice_words as words
from duckbert.synthetic.reviews import sentence as _sentence

VOICES = (("terse", 0.16), ("plain", 0.34), ("detailed", 0.25), ("story", 0.13),
          ("technical", 0.12))
# Median and sigma of the target word count per voice (log-normal), and a hard cap.
LENGTH = {"plain": (35, 0.45), "detailed": (110, 0.5), "story": (170, 0.55),
          "technical": (120, 0.5), "deceptive": (45, 0.9)}
MAX_WORDS = 600


def _target(rng, kind):
    median, sigma = LENGTH[kind]
    return max(8, min(MAX_WORDS, round(rng.lognormvariate(math.log(median), sigma))))


def _group(catalog, product):
    return catalog.specs[catalog.cat[product]].aspects


def _aspects(rng, text, catalog, product):
    """{aspect}, {aspect2} and {super} filled; the placeholders of review_words stay."""
    nouns = words.ASPECT_NOUNS[_group(catalog, product)]
    while "{aspect}" in text or "{aspect2}" in text:
        a, b = rng.sample(nouns, 2)
        text = text.replace("{aspect}", a, 1).replace("{aspect2}", b, 1)
    while "{super}" in text:
        text = text.replace("{super}", rng.choice(words.SUPER), 1)
    return text


def _fill(rng, text, catalog, product):
    return _base_fill(rng, _aspects(rng, text, catalog, product), catalog, product)


def _base_fill(rng, text, catalog, product):
    from duckbert.synthetic.reviews import _fill as fill

    return fill(rng, text, catalog, product)


def _n_words(parts):
    return sum(len(p.split()) for p in parts)


def _clauses(rng, catalog, product, rating):
    """(clause, is positive) of every aspect of the product's group, in random order."""
    from duckbert.synthetic.reviews import _polarity

    out = []
    aspects = list(short.ASPECTS[_group(catalog, product)])
    rng.shuffle(aspects)
    for k, (pos, neg) in enumerate(aspects):
        good = _polarity(rng, rating, k)
        out.append((rng.choice(pos if good else neg), good))
        out.append((rng.choice(neg if good else pos), not good))
    return out


def genuine(rng, catalog, product, rating):
    """A genuine review in one of the voices, in the tone of its rating."""
    voice = rng.choices([v for v, _ in VOICES], weights=[w for _, w in VOICES])[0]
    if voice == "terse":
        return _fill(rng, rng.choice(words.TERSE[rating]), catalog, product)
    target = _target(rng, voice)
    clauses = _clauses(rng, catalog, product, rating)
    main = [c for c, good in clauses[::2]]
    other = [c for c, good in clauses[1::2]]
    said = list(main)  # what COMPARE and UPDATE may refer back to
    parts = []
    if voice == "story":
        parts.append(rng.choice(words.STORY_OPEN))
    elif voice == "technical":
        parts.append(rng.choice(words.TECH_OPEN))
    parts.append(rng.choice(short.OPENERS[rating]))
    # (kind, sentence maker, times it may be used): a long review elaborates, it does not
    # repeat itself
    extras = [
        (lambda: rng.choice(words.USAGE), 2),
        (lambda: rng.choice(short.CONTEXT), 1),
        (lambda: rng.choice(words.ELABORATE), 3),
        (lambda: rng.choice(words.COMPARE).format(other="{other}", clause=rng.choice(said)), 1),
        (lambda: rng.choice(words.LOGISTICS), 1),
    ]
    if voice != "plain":
        extras += [(lambda: rng.choice(words.MIXED).format(clause=rng.choice(other or said)), 2),
                   (lambda: rng.choice(words.UPDATE).format(w="{w}", clause=rng.choice(said)),
                    1)]
    for bank, voiced in ((words.NARRATIVE, "story"), (words.TECH_NOTES, "technical")):
        if voice in (voiced, "detailed"):
            pool = list(bank)
            rng.shuffle(pool)
            extras.append((pool.pop, len(pool) if voice == voiced else 2))
    left = [n for _, n in extras]
    seen = set()
    while _n_words(parts) < target:
        if main and (rng.random() < 0.5 or not any(left)):
            clause = main.pop(0)
            hedge = rng.choice(words.HEDGES) + " " if rng.random() < 0.2 else ""
            parts.append(_sentence(hedge + clause))
            continue
        if not any(left):
            break
        k = rng.choices(range(len(extras)), weights=left)[0]
        left[k] -= 1
        extra = _sentence(extras[k][0]())
        if extra not in seen:
            seen.add(extra)
            parts.append(extra)
    parts.append(rng.choice(short.CLOSERS[rating]))
    text = " ".join(p for p in parts if p)
    if voice == "plain" and rng.random() < 0.25:
        text = text.lower()
    return _fill(rng, text, catalog, product)


def deceptive_rating(rng):
    """4-5 stars, like most genuine reviews (a fake never needs the 1-3 star tone)."""
    return 5 if rng.random() < 0.7 else 4


def _paraphrase(rng, text):
    out = []
    for token in text.split(" "):
        key = token.strip(".,!").lower()
        if key in words.PARAPHRASE and rng.random() < 0.5:
            token = token.lower().replace(key, rng.choice(words.PARAPHRASE[key]))
        out.append(token)
    return " ".join(out)


def deceptive(rng, catalog, product, rating):
    """A fake review that borrows genuine openers and aspect nouns but says nothing checkable."""
    return _base_fill(rng, deceptive_template(rng, catalog, product, rating), catalog, product)


def deceptive_template(rng, catalog, product, rating):
    """deceptive() before {noun}, {brand} ... are filled: a ring's campaign text."""
    target = _target(rng, "deceptive")
    parts = []
    if rng.random() < 0.5:
        parts.append(rng.choice(short.OPENERS[rating]))
    pool = list(words.DECEPTIVE)
    rng.shuffle(pool)
    while _n_words(parts) < target and pool:
        parts.append(_paraphrase(rng, pool.pop()))
        if rng.random() < 0.1:
            parts.append(_sentence(rng.choice(short.VAGUE)))
    if rng.random() < 0.4:
        parts.append(rng.choice(short.CLOSERS[rating]))
    text = " ".join(p for p in parts if p)
    if rng.random() < 0.15:
        text = text.lower()
    return _aspects(rng, text, catalog, product)


def copied(rng, catalog, product, rating):
    """A genuine review of a product of another aspect group, posted on `product`."""
    group = _group(catalog, product)
    others = [c for c, spec in enumerate(catalog.specs) if spec.aspects != group]
    source = catalog.pick(rng, rng.choice(others)) if others else product
    return genuine(rng, catalog, source, rating)


def novel(rng, catalog, product):
    """The novel deceptive variant: telegraphic praise in words no other abuse bank has."""
    n = max(2, min(len(words.NOVEL_FAKE), round(rng.lognormvariate(math.log(6), 0.5))))
    return _fill(rng, " ".join(rng.sample(words.NOVEL_FAKE, n)), catalog, product)
