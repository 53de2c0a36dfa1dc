"""Explain a score by occlusion: remove one event at a time and see how far the score falls.

A session text is a header followed by events, separated by " | " (docs/SESSION_TEXT.md).
For a session of n events this scores n + 1 texts in one batch, so it costs about n + 1
forward passes (the cache absorbs repeats); use it on flagged sessions, not on a whole table.
"""

from __future__ import annotations

import json

SEPARATOR = " | "
TOP_EVENTS = 5


def split_events(text: str) -> tuple[str, list[str]]:
    """(header, events) of a session text; a text without separators is all header."""
    parts = text.split(SEPARATOR)
    return parts[0], parts[1:]


def occlusions(text: str) -> tuple[list[str], list[str]]:
    """The events, and for each one the text with that event removed."""
    header, events = split_events(text)
    variants = [
        SEPARATOR.join([header, *events[:i], *events[i + 1 :]]) for i in range(len(events))
    ]
    return events, variants


def explain(scorer, text: str, top: int = TOP_EVENTS) -> dict:
    """Score, and the events whose removal lowers it most (delta = score - score without)."""
    events, variants = occlusions(text)
    scores = scorer.score([text, *variants])
    base = scores[0]
    drivers = [
        {"position": i + 1, "event": event, "delta": round(base - without, 4)}
        for i, (event, without) in enumerate(zip(events, scores[1:], strict=True))
    ]
    drivers.sort(key=lambda d: d["delta"], reverse=True)
    return {
        "score": round(base, 4),
        "threshold": scorer.threshold,
        "flagged": base >= scorer.threshold,
        "model_version": scorer.version,
        "method": "occlusion",
        "events_scored": len(events),
        "top_events": [d for d in drivers[:top] if d["delta"] > 0],
    }


def explain_json(scorer, text: str, top: int = TOP_EVENTS) -> str:
    return json.dumps(explain(scorer, text, top=top))
