"""Normal human behaviour: personas, users, and a step-wise browser that writes sessions.

Several personas are hard negatives on purpose: power shoppers buy a lot, bargain hunters
cycle items through the cart and sort by price, heavy reviewers write many reviews, long
browsers view 50-150 pages, gift buyers buy outside their usual categories, brand fans click
one brand over and over. Abuse has to be told apart by its order, timing and words.
"""

import math
from dataclasses import dataclass, field

from duckbert.synthetic import reviews
from duckbert.synthetic.clock import dwell
from duckbert.synthetic.session import CART, CLICK, PURCHASE, REMOVE, VIEW, Session


@dataclass(frozen=True)
class Persona:
    name: str
    weight: float
    sessions: tuple = (1, 3)
    views: tuple = (6.0, 0.7)  # log-normal median and sigma of views per session
    view_range: tuple = (1, 60)
    dwell: float = 25.0  # median seconds on a product page
    p_click: float = 0.25  # a listing click before a product view
    p_cart: float = 0.08
    p_remove: float = 0.25  # a carted item is removed later
    p_readd: float = 0.1  # a removed item is added again
    p_buy: float = 0.5  # the cart is checked out at the end
    p_mid_checkout: float = 0.08  # checkout right after a cart add, then browse on
    p_buy_now: float = 0.006
    p_review: float = 0.03
    reviews: tuple = (1, 1)
    p_switch: float = 0.08
    revisit: float = 0.12
    cheap: float = 0.0  # share of sessions spent among the cheaper items
    price_sort: float = 0.0  # share of sessions browsing a category sorted by price
    brand_focus: float = 0.0
    homes: tuple = (1, 3)


PERSONAS = (
    Persona("casual", 0.26, (1, 3), (5.0, 0.7), p_cart=0.05, p_buy=0.35, p_review=0.04),
    Persona("goal_buyer", 0.13, (1, 3), (5.0, 0.5), dwell=35, p_cart=0.22, p_buy=0.85,
            p_review=0.05, p_switch=0.03, homes=(1, 2), p_buy_now=0.02),
    Persona("power_shopper", 0.05, (5, 12), (12.0, 0.6), p_cart=0.25, p_buy=0.85,
            p_mid_checkout=0.3, p_buy_now=0.03, p_review=0.08, p_switch=0.15),
    Persona("bargain_hunter", 0.10, (2, 6), (20.0, 0.5), dwell=15, p_cart=0.15, p_remove=0.55,
            p_readd=0.35, p_buy=0.45, p_mid_checkout=0.2, cheap=0.9, price_sort=0.4),
    Persona("heavy_reviewer", 0.06, (3, 8), (6.0, 0.6), p_review=0.75, reviews=(1, 4),
            p_cart=0.1, p_buy=0.6),
    Persona("long_browser", 0.06, (1, 4), (85.0, 0.3), (50, 150), dwell=30, p_cart=0.02,
            p_buy=0.3, p_switch=0.1),
    Persona("gift_buyer", 0.05, (2, 4), (7.0, 0.5), p_cart=0.15, p_buy=0.6),
    Persona("brand_fan", 0.05, (2, 6), (10.0, 0.6), p_click=0.45, brand_focus=0.7, revisit=0.25),
    Persona("returning", 0.24, (4, 10), (6.0, 0.7), p_cart=0.1, p_buy=0.5, p_review=0.06),
)
PERSONA = {p.name: p for p in PERSONAS}
GIFT = Persona("gift", 0.0, views=(7.0, 0.4), view_range=(3, 20), dwell=35, p_cart=0.2,
               p_buy=0.9, p_switch=0.0, revisit=0.2)


@dataclass
class User:
    idx: int
    persona: str
    homes: list
    home_cum: list
    fav_brand: tuple | None = None
    purchased: list = field(default_factory=list)
    sessions: list = field(default_factory=list)
    human_hours: bool = True
    uid: str = ""

    def next_category(self, rng, catalog):
        if rng.random() < 0.85:
            u = rng.random() * self.home_cum[-1]
            return self.homes[next(k for k, c in enumerate(self.home_cum) if c >= u)]
        return rng.choices(range(catalog.n_categories), weights=catalog.traffic())[0]

    def stranger_category(self, rng, catalog):
        """A category this user never has as a home (gifts, hijacked accounts)."""
        others = [c for c in range(catalog.n_categories) if c not in self.homes]
        return rng.choice(others)


def make_user(rng, catalog, idx, persona):
    want = rng.randint(*persona.homes)
    homes = []
    traffic = catalog.traffic()
    while len(homes) < want:
        c = rng.choices(range(catalog.n_categories), weights=traffic)[0]
        if c not in homes:
            homes.append(c)
    cum, total = [], 0.0
    for k in range(len(homes)):
        total += 0.6**k
        cum.append(total)
    fav = None
    if persona.brand_focus:
        c = homes[0]
        brands = catalog.brands_of(c)
        fav = (c, rng.choice(brands[: max(1, len(brands) // 2)]))
    return User(idx, persona.name, homes, cum, fav)


def view_count(rng, persona):
    median, sigma = persona.views
    lo, hi = persona.view_range
    return max(lo, min(hi, round(rng.lognormvariate(math.log(median), sigma))))


class Browser:
    """Human browsing, one product view per step; abuse variants interleave their own steps."""

    def __init__(self, rng, catalog, session, user, persona, category, cheap=False,
                 price_sort=False):
        self.rng, self.catalog, self.s, self.user, self.p = rng, catalog, session, user, persona
        self.category = category
        self.cheap = cheap
        self.sorted_at = 0 if price_sort else None
        self.viewed, self.cart, self.removed, self.pending = [], [], [], []
        self.steps = 0

    def _choose(self):
        rng, cat, p = self.rng, self.catalog, self.p
        if self.viewed and rng.random() < p.revisit:
            return rng.choice(self.viewed[-8:])
        if self.sorted_at is not None:
            items = cat.by_price[self.category]
            self.sorted_at = min(len(items) - 1, self.sorted_at + 1 + int(rng.expovariate(0.5)))
            return items[self.sorted_at]
        fav = self.user.fav_brand
        if fav and rng.random() < p.brand_focus:
            return rng.choice(cat.brand_items.get(fav, cat.by_cat[fav[0]]))
        return cat.pick(rng, self.category, cheap=self.cheap)

    def step(self, product=None):
        """One page: maybe a listing click, the view, the dwell, maybe cart actions."""
        rng, s, p = self.rng, self.s, self.p
        prod = self._choose() if product is None else product
        if rng.random() < p.p_click:
            s.emit(CLICK, prod)
            s.wait(rng.lognormvariate(0.7, 0.5))
        s.emit(VIEW, prod)
        self.viewed.append(prod)
        s.wait(dwell(rng, p.dwell))
        self.steps += 1
        self._cart_actions(prod)
        if rng.random() < p.p_switch and self.sorted_at is None:
            self.category = self.user.next_category(rng, self.catalog)
        return prod

    def _cart_actions(self, prod):
        rng, p = self.rng, self.p
        if rng.random() < p.p_buy_now:
            self.checkout([prod])
            return
        if prod not in self.cart and rng.random() < p.p_cart:
            self.add(prod)
            if rng.random() < p.p_remove:
                self.pending.append((self.steps + rng.randint(1, 4), prod))
            elif rng.random() < p.p_mid_checkout:
                self.checkout(self.cart)
                return
        for due, item in list(self.pending):
            if due <= self.steps:
                self.pending.remove((due, item))
                if item in self.cart:
                    self.remove(item)
        if self.removed and rng.random() < p.p_readd * 0.3:
            self.add(self.removed.pop(rng.randrange(len(self.removed))))

    def add(self, prod):
        self.s.emit(CART, prod)
        self.cart.append(prod)
        self.s.wait(dwell(self.rng, 6.0, 0.6, 0.0))

    def remove(self, prod):
        self.s.emit(REMOVE, prod)
        self.cart.remove(prod)
        self.removed.append(prod)
        self.s.wait(dwell(self.rng, 5.0, 0.6, 0.0))

    def checkout(self, items, median=70.0):
        """Cart page, address and payment, then all items bought within a few seconds."""
        rng, s = self.rng, self.s
        items = list(items)
        s.wait(rng.lognormvariate(math.log(median), 0.6))
        for it in items:
            s.emit(PURCHASE, it)
            s.wait(rng.uniform(0.0, 2.0))
            self.user.purchased.append(it)
        self.cart = [c for c in self.cart if c not in items]
        self.pending = [(d, i) for d, i in self.pending if i not in items]
        s.wait(dwell(rng, 20.0, 0.7, 0.0))

    def finish(self):
        if self.cart and self.rng.random() < self.p.p_buy:
            self.checkout(self.cart)


# Share of honest reviews of something bought elsewhere (in a store, as a gift), which the
# shop cannot mark verified: without it every genuine review is verified and an unverified
# fake gives itself away by the badge alone.
BOUGHT_ELSEWHERE = 0.15


def write_reviews(rng, catalog, s, user, count, writer=None):
    """A person revisits products bought before (or seen now), or one of their kind bought
    elsewhere, and reviews them honestly."""
    writer = writer or reviews.Writer("short")
    for _ in range(count):
        if rng.random() < BOUGHT_ELSEWHERE:
            product = catalog.pick(rng, user.next_category(rng, catalog))
        else:
            pool = user.purchased[-12:] or s.products(VIEW)
            if not pool:
                return
            product = rng.choice(pool)
        s.emit(VIEW, product)
        s.wait(dwell(rng, 15.0, 0.6, 0.0))
        s.wait(rng.lognormvariate(math.log(80.0), 0.6))
        rating = reviews.honest_rating(rng)
        s.review(product, rating, writer.honest(rng, catalog, product, rating))
        s.wait(dwell(rng, 10.0, 0.5, 0.0))


def human_session(rng, catalog, user, persona, category=None, gift=False, writer=None,
                  review_rate=1.0):
    """One normal session of a user: reviews first when the persona writes them, then browsing.

    `review_rate` multiplies the persona's chance of writing reviews (capped at 0.9)."""
    s = Session(user.idx)
    if gift:
        persona, category = GIFT, user.stranger_category(rng, catalog)
    category = user.next_category(rng, catalog) if category is None else category
    lo, hi = persona.reviews
    p_review = min(0.9, persona.p_review * review_rate)
    if rng.random() < p_review:
        write_reviews(rng, catalog, s, user, rng.randint(lo, hi), writer)
    b = Browser(rng, catalog, s, user, persona, category,
                cheap=rng.random() < persona.cheap,
                price_sort=rng.random() < persona.price_sort)
    for _ in range(view_count(rng, persona)):
        b.step(catalog.pick_price_band(rng, category, 0.4, 0.97) if gift else None)
    b.finish()
    if not s.reviews and user.purchased and rng.random() < p_review * 0.3:
        write_reviews(rng, catalog, s, user, 1, writer)
        b.step()
    return s


def normal_user(rng, catalog, idx, writer=None, review_rate=1.0):
    """A normal user and all of their sessions, in time order."""
    persona = rng.choices(PERSONAS, weights=[p.weight for p in PERSONAS])[0]
    user = make_user(rng, catalog, idx, persona)
    n = rng.randint(*persona.sessions)
    gift_at = rng.randrange(n) if persona.name == "gift_buyer" else -1
    for k in range(n):
        user.sessions.append(human_session(rng, catalog, user, persona, gift=k == gift_at,
                                           writer=writer, review_rate=review_rate))
    return user
