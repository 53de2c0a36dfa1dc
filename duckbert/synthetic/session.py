"""One generated session: events and reviews at offsets from its start, plus its ground truth."""

VIEW, CLICK, CART, REMOVE, PURCHASE = range(5)
EVENT_TYPES = ("view", "click", "cart", "remove_from_cart", "purchase")


class Session:
    """A cursor-based event recorder; offsets are seconds since the session start."""

    __slots__ = ("user", "events", "reviews", "family", "variant", "t", "start", "uuid")

    def __init__(self, user, family="", variant=""):
        self.user = user
        self.family = family
        self.variant = variant
        self.events = []  # (offset_s, event type, product index)
        self.reviews = []  # (offset_s, product index, rating, text)
        self.t = 0.0
        self.start = 0
        self.uuid = ""

    def emit(self, etype, product):
        self.events.append((self.t, etype, product))

    def wait(self, seconds):
        self.t += seconds

    def review(self, product, rating, text):
        self.reviews.append((self.t, product, rating, text))

    @property
    def duration(self):
        return int(self.events[-1][0]) if self.events else 0

    @property
    def is_anomaly(self):
        return bool(self.family)

    def products(self, etype=None):
        return [p for _, e, p in self.events if etype is None or e == etype]
