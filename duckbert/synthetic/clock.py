"""Calendar and human timing: when sessions start, how long people dwell, how times are written."""

import math
from datetime import datetime, timedelta, timezone

START = datetime(2026, 10, 1, tzinfo=timezone.utc)
START_TS = int(START.timestamp())
SPAN_DAYS = 30
DAY = 86_400
# Sessions of one user are at least this far apart, so an inactivity-gap sessionizer
# (30 minutes by default) finds the same sessions as user_session does.
SESSION_SEPARATION_S = 45 * 60
MAX_GAP_S = 25 * 60

# Local-evening peak, night trough; the weekend is busier (index 0 = Monday).
HOUR_WEIGHTS = (0.6, 0.4, 0.25, 0.18, 0.15, 0.22, 0.4, 0.7, 0.95, 1.05, 1.15, 1.2,
                1.3, 1.25, 1.2, 1.2, 1.3, 1.45, 1.65, 1.85, 1.95, 1.8, 1.4, 1.0)
WEEKDAY_WEIGHTS = (1.0, 0.95, 0.95, 1.0, 1.1, 1.3, 1.25)


def _slot_weights(human):
    weights, total = [], 0.0
    for day in range(SPAN_DAYS):
        weekday = (START + timedelta(days=day)).weekday()
        for hour in range(24):
            total += WEEKDAY_WEIGHTS[weekday] * HOUR_WEIGHTS[hour] if human else 1.0
            weights.append(total)
    return weights


HUMAN_SLOTS = _slot_weights(True)
FLAT_SLOTS = _slot_weights(False)


def start_times(rng, n, human=True, first_day=0):
    """n sorted session start times (epoch seconds) with the daily and weekly rhythm."""
    slots = HUMAN_SLOTS if human else FLAT_SLOTS
    lo = slots[first_day * 24 - 1] if first_day else 0.0
    picks = []
    for _ in range(n):
        u = lo + rng.random() * (slots[-1] - lo)
        slot = _bisect(slots, u)
        picks.append(START_TS + slot * 3600 + rng.randrange(3600))
    picks.sort()
    return picks


def _bisect(cum, u):
    lo, hi = 0, len(cum) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if cum[mid] < u:
            lo = mid + 1
        else:
            hi = mid
    return lo


def dwell(rng, median=25.0, sigma=0.9, pause_p=0.03):
    """Seconds a person spends on a page: log-normal, now and then a long pause."""
    x = math.exp(math.log(median) + sigma * rng.gauss(0.0, 1.0))
    if rng.random() < pause_p:
        x += rng.uniform(120, 900)
    return min(x, MAX_GAP_S)


class TimeText:
    """Fast `YYYY-MM-DD HH:MM:SS UTC` rendering for epoch seconds near the data window."""

    def __init__(self, days=SPAN_DAYS + 40):
        self.days = [(START + timedelta(days=d)).strftime("%Y-%m-%d") for d in range(days)]

    def __call__(self, ts):
        day, rest = divmod(ts - START_TS, DAY)
        if 0 <= day < len(self.days):
            h, rest = divmod(rest, 3600)
            m, s = divmod(rest, 60)
            return f"{self.days[day]} {h:02d}:{m:02d}:{s:02d} UTC"
        when = START + timedelta(seconds=ts - START_TS)
        return when.strftime("%Y-%m-%d %H:%M:%S UTC")
