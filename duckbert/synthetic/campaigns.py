"""What the abusers of one data set share: campaign targets, ring texts, limited items.

One `Campaigns` object is the context every abuse family in duckbert/synthetic/anomalies.py
builds its sessions from (`ctx`): the random stream, the catalogue, the mimicry knob, the
review writer, and the state that ties an abusive account's sessions together.
"""

from duckbert.synthetic import reviews


class Campaigns:
    """What the abusers of one data set share: targets, ring texts, limited items."""

    def __init__(self, rng, catalog, mimicry, writer=None):
        self.rng, self.catalog, self.mimicry = rng, catalog, mimicry
        self.writer = writer or reviews.Writer()
        branded = sorted({k for k in catalog.brand_items if len(catalog.brand_items[k]) >= 3})
        self.click_targets = rng.sample(branded, 3)
        self.rings = []
        for base in self.writer.ring_bases(rng, 4):
            c = rng.randrange(catalog.n_categories)
            pool = catalog.white_label_items(c) + catalog.by_price[c][:10]
            targets = rng.sample(pool, min(3, len(pool)))
            if base is None:
                base = self.writer.ring_base(rng, catalog, targets[0])
            self.rings.append((base, targets))
        white = [i for i in range(len(catalog)) if catalog.white[i]]
        self.brush_targets = rng.sample(white, 4)
        self.limited = catalog.limited_items()
        prices = sorted(catalog.price)
        floor = prices[len(prices) * 8 // 100]
        self.cheap = [i for i, p in enumerate(catalog.price) if p <= floor]
        self.owed = {}  # fake-review account -> product it bought last session, not yet reviewed
