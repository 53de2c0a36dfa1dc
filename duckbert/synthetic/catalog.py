"""Product catalogue: REES46-style categories, brands, product ids and log-normal prices.

Product ids are consecutive inside a category and sorted by (brand, price), as in a real
catalogue export; that order is what a crawler walks when it enumerates ids.

Two catalogues exist: `standard` and `shifted`. The shifted one shares no category, brand,
product id or category id with the standard one (a unit test checks it): a benchmark trains on
users of one and tests on users of the other (catalogue shift).
"""

import bisect
import hashlib
import math
import random
from dataclasses import dataclass


@dataclass(frozen=True)
class CategorySpec:
    code: str
    median_price: float
    sigma: float
    size: int
    traffic: float
    noun: str
    aspects: str
    brands: tuple[str, ...]


CATEGORIES = (
    CategorySpec("electronics.smartphone", 260, 0.7, 220, 9.0, "phone", "phone",
                 ("samsung", "apple", "xiaomi", "huawei", "oppo", "realme", "honor", "nokia",
                  "vivo", "motorola")),
    CategorySpec("electronics.audio.headphone", 45, 0.9, 160, 4.0, "headset", "audio",
                 ("sony", "jbl", "apple", "samsung", "xiaomi", "sennheiser", "marshall",
                  "edifier", "beats")),
    CategorySpec("electronics.video.tv", 420, 0.6, 120, 3.5, "tv", "tv",
                 ("samsung", "lg", "sony", "hisense", "tcl", "philips", "xiaomi", "haier")),
    CategorySpec("electronics.clocks", 120, 0.8, 120, 2.5, "watch", "watch",
                 ("apple", "samsung", "garmin", "casio", "xiaomi", "amazfit", "huawei", "fossil")),
    CategorySpec("electronics.tablet", 300, 0.6, 80, 2.0, "tablet", "phone",
                 ("apple", "samsung", "lenovo", "huawei", "xiaomi")),
    CategorySpec("electronics.video.console", 430, 0.35, 24, 1.5, "console", "console",
                 ("sony", "microsoft", "nintendo", "valve")),
    CategorySpec("computers.notebook", 720, 0.5, 140, 4.0, "laptop", "laptop",
                 ("lenovo", "hp", "asus", "acer", "apple", "dell", "msi", "huawei")),
    CategorySpec("computers.components.videocards", 520, 0.6, 60, 1.5, "graphics card", "gpu",
                 ("msi", "gigabyte", "asus", "palit", "zotac", "sapphire")),
    CategorySpec("computers.peripherals.mouse", 22, 0.8, 90, 2.0, "mouse", "mouse",
                 ("logitech", "razer", "a4tech", "defender", "hp", "steelseries")),
    CategorySpec("appliances.kitchen.refrigerators", 620, 0.5, 100, 2.5, "fridge", "appliance",
                 ("samsung", "lg", "bosch", "indesit", "beko", "atlant", "haier")),
    CategorySpec("appliances.kitchen.washer", 420, 0.45, 100, 2.5, "washing machine",
                 "appliance", ("lg", "samsung", "bosch", "beko", "indesit", "electrolux", "candy")),
    CategorySpec("appliances.environment.vacuum", 140, 0.7, 100, 2.5, "vacuum", "vacuum",
                 ("xiaomi", "dyson", "samsung", "philips", "bosch", "karcher", "polaris")),
    CategorySpec("appliances.kitchen.kettle", 28, 0.6, 80, 1.5, "kettle", "kettle",
                 ("tefal", "philips", "bosch", "polaris", "xiaomi", "redmond")),
    CategorySpec("apparel.shoes", 75, 0.6, 200, 4.0, "pair of shoes", "apparel",
                 ("nike", "adidas", "puma", "reebok", "asics", "newbalance", "skechers",
                  "salomon")),
    CategorySpec("apparel.costume", 45, 0.7, 120, 2.0, "outfit", "apparel",
                 ("zara", "mango", "adidas", "nike", "levis", "tommy")),
    CategorySpec("furniture.living_room.sofa", 480, 0.6, 60, 1.2, "sofa", "furniture",
                 ("ikea", "askona", "hoff", "divan", "lazurit")),
    CategorySpec("furniture.bedroom.bed", 320, 0.6, 60, 1.0, "bed", "furniture",
                 ("ikea", "askona", "ormatek", "hoff", "lazurit")),
    CategorySpec("kids.toys", 25, 0.9, 160, 3.0, "toy", "toys",
                 ("lego", "hasbro", "mattel", "playmobil", "hotwheels", "barbie")),
    CategorySpec("sport.bicycle", 380, 0.6, 60, 1.2, "bike", "bike",
                 ("stels", "merida", "trek", "giant", "forward", "cube")),
    CategorySpec("auto.accessories.player", 60, 0.7, 60, 1.0, "car stereo", "car",
                 ("pioneer", "kenwood", "sony", "jvc", "alpine")),
    CategorySpec("construction.tools.drill", 90, 0.7, 80, 1.5, "drill", "tools",
                 ("bosch", "makita", "dewalt", "metabo", "interskol", "hammer")),
    CategorySpec("accessories.bag", 50, 0.8, 100, 1.5, "bag", "bag",
                 ("samsonite", "xiaomi", "tigernu", "wenger", "rivacase")),
    CategorySpec("stationery.cartrige", 20, 0.6, 60, 1.0, "cartridge", "printing",
                 ("hp", "canon", "epson", "brother")),
)

SHIFTED_CATEGORIES = (
    CategorySpec("garden.tools.lawnmower", 240, 0.5, 100, 2.5, "lawn mower", "tools",
                 ("husqvarna", "greenworks", "stiga", "gardena", "worx", "ryobi")),
    CategorySpec("appliances.kitchen.coffee_machine", 190, 0.7, 140, 3.5, "coffee machine",
                 "appliance", ("delonghi", "krups", "jura", "saeco", "melitta", "nespresso")),
    CategorySpec("beauty.hair.dryer", 45, 0.7, 120, 3.0, "hair dryer", "kettle",
                 ("babyliss", "remington", "rowenta", "valera", "ghd")),
    CategorySpec("music.instruments.guitar", 210, 0.8, 90, 1.5, "guitar", "furniture",
                 ("yamaha", "fender", "gibson", "ibanez", "cort", "epiphone")),
    CategorySpec("sport.fitness.treadmill", 520, 0.5, 60, 1.2, "treadmill", "bike",
                 ("torneo", "kettler", "nordictrack", "proform", "horizon")),
    CategorySpec("electronics.camera.photo", 480, 0.7, 110, 2.5, "camera", "phone",
                 ("nikon", "fujifilm", "olympus", "pentax", "leica", "ricoh")),
    CategorySpec("pets.accessories.feeder", 35, 0.6, 80, 1.5, "pet feeder", "toys",
                 ("petsafe", "trixie", "ferplast", "catit")),
    CategorySpec("electronics.audio.speaker", 90, 0.8, 120, 3.0, "speaker", "audio",
                 ("bose", "harman", "ultimate", "tribit", "anker", "bang")),
    CategorySpec("computers.peripherals.keyboard", 60, 0.7, 100, 2.0, "keyboard", "mouse",
                 ("keychron", "ducky", "cherry", "corsair", "roccat")),
    CategorySpec("kids.stroller", 320, 0.5, 60, 1.2, "stroller", "bag",
                 ("cybex", "bugaboo", "chicco", "peg", "joie")),
)

# Marketplace white-label brands: few, unpopular products; what brushing rings promote.
WHITE_LABEL = ("vexa", "kinglux", "nordmax", "zentrio", "orvix", "lumora")
SHIFTED_WHITE_LABEL = ("quenta", "brivo", "tessar", "olvin", "marqo")
PREMIUM = {"apple": 1.7, "dyson": 1.8, "sennheiser": 1.5, "garmin": 1.4, "marshall": 1.3,
           "bosch": 1.2, "sony": 1.25, "samsung": 1.15, "trek": 1.5, "makita": 1.3,
           "samsonite": 1.6, "lego": 1.4, "salomon": 1.3, "razer": 1.4, "msi": 1.1}
BUDGET = {"defender": 0.6, "a4tech": 0.7, "realme": 0.7, "redmond": 0.7, "polaris": 0.75,
          "stels": 0.6, "interskol": 0.7, "candy": 0.8, "tcl": 0.8, "haier": 0.85,
          "atlant": 0.8, "hammer": 0.7}
LIMITED_CODES = {"electronics.video.console": 3, "computers.components.videocards": 3,
                 "apparel.shoes": 3, "sport.fitness.treadmill": 3,
                 "electronics.camera.photo": 3, "music.instruments.guitar": 3}
EMPTY_BRAND_SHARE = 0.12
LEGACY_CODE_SHARE = 0.15
FIRST_PRODUCT_ID = 1_000_000


@dataclass(frozen=True)
class CatalogueKind:
    """One catalogue: its categories, white labels, product id start and user id range."""

    categories: tuple[CategorySpec, ...]
    white_label: tuple[str, ...]
    first_product_id: int
    user_ids: tuple[int, int]


CATALOGUES = {
    "standard": CatalogueKind(CATEGORIES, WHITE_LABEL, FIRST_PRODUCT_ID,
                              (500_000_000, 700_000_000)),
    "shifted": CatalogueKind(SHIFTED_CATEGORIES, SHIFTED_WHITE_LABEL, 9_000_000,
                             (700_000_000, 900_000_000)),
}


def stable_id(text, base=2_053_013_550_000_000_000, span=10**10):
    """A deterministic 19-digit REES46-like id for a text (no use of Python's salted hash)."""
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return base + int.from_bytes(digest, "big") % span


class Catalog:
    """Products as parallel lists (fast to index) plus per-category lookups for sampling."""

    def __init__(self, rng: random.Random, kind: str = "standard"):
        if kind not in CATALOGUES:
            raise ValueError(f"catalogue must be one of {sorted(CATALOGUES)}, got {kind!r}")
        self.kind = CATALOGUES[kind]
        self.specs = self.kind.categories
        self.pid, self.cat, self.category_id, self.code = [], [], [], []
        self.brand, self.price, self.limited, self.white = [], [], [], []
        self.by_cat = []  # product indices of a category in id order
        self.by_price = []  # same, sorted by price
        self._cum = []  # popularity cumulative weights per category
        self._cheap_cum = []  # popularity over the cheapest 40% per category
        self.brand_items = {}  # (category, brand) -> product indices
        next_id = self.kind.first_product_id
        for c, spec in enumerate(self.specs):
            rows = self._category_rows(rng, spec)
            coded, legacy = stable_id(spec.code), stable_id(spec.code + "#legacy")
            members = []
            for brand, price, white in rows:
                i = len(self.pid)
                members.append(i)
                self.pid.append(next_id)
                next_id += 1 if rng.random() < 0.8 else rng.randint(2, 4)
                self.cat.append(c)
                legacy_row = rng.random() < LEGACY_CODE_SHARE
                self.category_id.append(legacy if legacy_row else coded)
                self.code.append("" if legacy_row else spec.code)
                self.brand.append(brand)
                self.price.append(price)
                self.white.append(white)
                self.limited.append(False)
                if brand:
                    self.brand_items.setdefault((c, brand), []).append(i)
            next_id += rng.randint(500, 5000)
            self._index_category(rng, spec, members)

    def _category_rows(self, rng, spec):
        mult = {b: PREMIUM.get(b, BUDGET.get(b, math.exp(rng.gauss(0, 0.15))))
                for b in spec.brands}
        rows = []
        n_white = max(2, spec.size // 25)
        for k in range(spec.size):
            white = k < n_white
            if white:
                brand = rng.choice(self.kind.white_label)
                factor = 0.6
            else:
                brand = spec.brands[min(int(rng.paretovariate(1.2)) - 1, len(spec.brands) - 1)]
                brand = rng.choice(spec.brands) if rng.random() < 0.4 else brand
                factor = mult[brand]
            price = spec.median_price * factor * math.exp(rng.gauss(0, spec.sigma))
            price = max(0.79, round(price, 2))
            if rng.random() < 0.3:
                price = max(0.99, math.floor(price) + 0.99)
            if not white and rng.random() < EMPTY_BRAND_SHARE:
                brand = ""
            rows.append((brand, price, white))
        rows.sort(key=lambda r: (r[0] == "", r[0], r[1]))
        return rows

    def _index_category(self, rng, spec, members):
        self.by_cat.append(members)
        self.by_price.append(sorted(members, key=lambda i: self.price[i]))
        order = members[:]
        rng.shuffle(order)
        weight = {}
        for rank, i in enumerate(order, 1):
            w = rank**-0.9
            weight[i] = w * (0.05 if self.white[i] else 1.0)
        n_limited = LIMITED_CODES.get(spec.code, 0)
        if n_limited:
            # Drops: the most popular branded items, priced at the top of the range.
            hot = [i for i in order if self.brand[i] and not self.white[i]][:n_limited]
            for i in hot:
                self.limited[i] = True
                self.price[i] = round(self.price[i] * 1.3 + spec.median_price * 0.4, 2)
                weight[i] *= 3.0
            self.by_price[-1].sort(key=lambda i: self.price[i])
        self._cum.append(_cumulative([weight[i] for i in members]))
        cheap = self.by_price[-1][: max(3, len(members) * 2 // 5)]
        self._cheap_cum.append((cheap, _cumulative([weight[i] for i in cheap])))

    def __len__(self):
        return len(self.pid)

    @property
    def n_categories(self):
        return len(self.specs)

    def traffic(self):
        return [s.traffic for s in self.specs]

    def pick(self, rng, c, cheap=False):
        """A product of category c, popularity-weighted (optionally among the cheaper ones)."""
        if cheap:
            items, cum = self._cheap_cum[c]
        else:
            items, cum = self.by_cat[c], self._cum[c]
        return items[bisect.bisect(cum, rng.random() * cum[-1])]

    def pick_price_band(self, rng, c, lo, hi):
        """A product of category c whose price rank (0..1) lies in [lo, hi)."""
        items = self.by_price[c]
        a = min(int(lo * len(items)), len(items) - 1)
        b = max(a + 1, int(hi * len(items)))
        return items[rng.randrange(a, b)]

    def limited_items(self):
        return [i for i, flag in enumerate(self.limited) if flag]

    def white_label_items(self, c):
        return [i for i in self.by_cat[c] if self.white[i]]

    def brands_of(self, c):
        return sorted({self.brand[i] for i in self.by_cat[c] if self.brand[i]})


def _cumulative(weights):
    total, out = 0.0, []
    for w in weights:
        total += w
        out.append(total)
    return out
