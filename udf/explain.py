"""Explain a score by occlusion: remove one event at a time and see how far the score falls.

A session text is a header followed by events, separated by " | " (docs/SESSION_TEXT.md);
in format st2 the reviews' words follow after " || ", and occluding a review's timeline
segment also takes its words out.
A session of n events is explained by scoring it without each event: n + 1 forward passes.
Past MAX_OCCLUSIONS events, neighbouring events are occluded together in MAX_OCCLUSIONS
contiguous groups, so a session never costs more than MAX_OCCLUSIONS + 1 passes. All the
variants of a batch of sessions are scored in one call (length-sorted, cached, deduplicated).
An event's `delta` is how far the score's log-odds fall without it (`score_without` is the
probability), so events still rank when the score is close to 1.
"""

from __future__ import annotations

import json
import math
import re

from udf.text_format import REVIEWS_SEPARATOR

SEPARATOR = " | "
GROUP_JOINER = " + "
TOP_EVENTS = 5
MAX_OCCLUSIONS = 10
_EPS = 1e-15  # probabilities are clipped here before the log-odds


def split_events(text: str) -> tuple[str, list[str]]:
    """(header, events) of a session text; a text without separators is all header.

    st2: the timeline's events only (the reviews part after " || " is not an event)."""
    parts = text.split(REVIEWS_SEPARATOR, 1)[0].split(SEPARATOR)
    return parts[0], parts[1:]


_REVIEWS_IN = re.compile(r"^(?:\d+[smhd] )?review [1-5](?: verified)?(?: x(\d+))?$")
_SUMMARY_REVIEWS = re.compile(r"^\d+ more:.* (\d+) review( |$)")


def reviews_in(segment: str) -> int:
    """How many reviews an st2 timeline segment stands for (a run xN, a summarized middle)."""
    match = _REVIEWS_IN.match(segment)
    if match:
        return int(match.group(1) or 1)
    match = _SUMMARY_REVIEWS.match(segment)
    return int(match.group(1)) if match else 0


def _st2_occlusions(text: str, groups):
    """st2: an occluded timeline segment takes its reviews' words out of the reviews part."""
    timeline, reviews_text = text.split(REVIEWS_SEPARATOR, 1)
    header, *events = timeline.split(SEPARATOR)
    reviews = reviews_text.split(SEPARATOR)
    first = [0]
    for event in events:
        first.append(first[-1] + reviews_in(event))
    out = []
    for g in groups:
        kept = reviews[: first[g.start]] + reviews[first[g.stop] :]
        body = SEPARATOR.join([header, *events[: g.start], *events[g.stop :]])
        out.append(body + (REVIEWS_SEPARATOR + SEPARATOR.join(kept) if kept else ""))
    return out


def occlusion_groups(n_events: int, max_groups: int = MAX_OCCLUSIONS) -> list[range]:
    """Contiguous groups of event indices: one per event, or `max_groups` near-equal ones."""
    if n_events <= max_groups:
        return [range(i, i + 1) for i in range(n_events)]
    bounds = [round(k * n_events / max_groups) for k in range(max_groups + 1)]
    return [range(bounds[k], bounds[k + 1]) for k in range(max_groups)]


def occlusions(text: str) -> tuple[list[tuple[range, str]], list[str]]:
    """The occluded groups (index range, their text) and the text without each of them."""
    header, events = split_events(text)
    groups = occlusion_groups(len(events))
    if REVIEWS_SEPARATOR in text:
        variants = _st2_occlusions(text, groups)
    else:
        variants = [
            SEPARATOR.join([header, *events[: g.start], *events[g.stop :]]) for g in groups
        ]
    labels = [(g, GROUP_JOINER.join(events[g.start : g.stop])) for g in groups]
    return labels, variants


def _log_odds(p: float) -> float:
    p = min(max(p, _EPS), 1.0 - _EPS)
    return math.log(p / (1.0 - p))


def _summary(scorer, base: float, groups, without: list[float], top: int) -> dict:
    # The fall is measured in log-odds: near a score of 1.0 every removal moves the
    # probability by less than the rounding, so a blatant session would have no reasons.
    drivers = [
        {"position": g.start + 1, "events": len(g), "event": label,
         "delta": round(_log_odds(base) - _log_odds(score), 4),
         "score_without": round(score, 4)}
        for (g, label), score in zip(groups, without, strict=True)
    ]
    drivers.sort(key=lambda d: (-d["delta"], d["position"]))
    return {
        "score": round(base, 4),
        "threshold": scorer.threshold,
        "flagged": base >= scorer.threshold,
        "model_version": scorer.version,
        "method": "occlusion",
        "events_scored": sum(len(g) for g, _ in groups),
        "top_events": [d for d in drivers[:top] if d["delta"] > 0],
    }


def explain_many(scorer, texts: list[str | None], top: int = TOP_EVENTS) -> list[dict | None]:
    """Explanations aligned with `texts` (None for None), scoring every variant at once."""
    plans, batch = [], []
    for text in texts:
        if text is None:
            plans.append(None)
            continue
        groups, variants = occlusions(text)
        plans.append((len(batch), groups))
        batch.extend([text, *variants])
    scores = scorer.score(batch, count=False)
    out = []
    for plan in plans:
        if plan is None:
            out.append(None)
            continue
        start, groups = plan
        base = scores[start]
        out.append(_summary(scorer, base, groups, scores[start + 1 : start + 1 + len(groups)],
                            top))
    return out


def explain(scorer, text: str, top: int = TOP_EVENTS) -> dict:
    """Score, and the events whose removal lowers it most (delta: the fall in log-odds)."""
    return explain_many(scorer, [text], top=top)[0]


def explain_json(scorer, text: str, top: int = TOP_EVENTS) -> str:
    return json.dumps(explain(scorer, text, top=top))
