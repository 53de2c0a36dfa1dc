"""What the review page accepts: same-origin requests with the page's token, checked input.

The server listens on 127.0.0.1, but any web page the analyst opens could still send
requests there. So a label needs: a Host header naming this server (no DNS rebinding), a JSON
body (a cross-site form cannot send one without a CORS preflight, which this server never
answers), the per-process CSRF token that only the served page carries, and, where the
browser says, a same-origin Origin / Sec-Fetch-Site. Every value is then validated; the HTML
side is escaped by Jinja's autoescape (pages.py), and a strict Content-Security-Policy allows
no inline script and nothing from another origin.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
import secrets
from dataclasses import dataclass

from duckbert.labels import MAX_NOTE

MAX_SESSION_ID = 300
MAX_BODY = 16_384  # bytes
VERDICTS = ("anomaly", "normal", "skip")
# open: no analyst verdict yet (labels loaded from files are training data, not a review)
STATUSES = ("open", "unlabelled", "reviewed", "all")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
                               "img-src 'self'; connect-src 'self'; form-action 'self'; "
                               "base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


class BadRequest(ValueError):
    """Input the page refuses, with the reason it shows."""


def new_token() -> str:
    return secrets.token_urlsafe(32)


def check_origin(headers, token: str, allowed_hosts: set[str]) -> None:
    """Refuse a state-changing request that is not from this server's own page."""
    host = headers.get("host", "")
    if host not in allowed_hosts:
        raise BadRequest(f"unexpected Host {host!r}")
    if not hmac.compare_digest(headers.get("x-csrf-token", ""), token):
        raise BadRequest("missing or wrong CSRF token: reload the page")
    origin = headers.get("origin")
    if origin is not None and origin not in {f"http://{h}" for h in allowed_hosts}:
        raise BadRequest(f"cross-origin request from {origin!r}")
    if headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        raise BadRequest("cross-site request")
    if headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise BadRequest("labels are sent as application/json")


def session_id(value) -> str:
    """A session id as the warehouse writes them: text, short, no control characters."""
    if not isinstance(value, str) or not value.strip():
        raise BadRequest("session_id must be a non-empty string")
    if len(value) > MAX_SESSION_ID or _CONTROL.search(value):
        raise BadRequest("session_id is too long or has control characters")
    return value


def verdict(value) -> str:
    if value not in VERDICTS:
        raise BadRequest(f"verdict must be one of {', '.join(VERDICTS)}")
    return value


def note(value) -> str | None:
    """An optional note: text up to MAX_NOTE characters, no control characters but newlines."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest("note must be text")
    value = value.strip()
    if len(value) > MAX_NOTE:
        raise BadRequest(f"note is longer than {MAX_NOTE} characters")
    if _CONTROL.search(value):
        raise BadRequest("note has control characters")
    return value or None


@dataclass
class QueueQuery:
    """The page's query string, parsed: filters and the selected session."""

    user: str = ""
    min_score: float | None = None
    max_score: float | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    status: str = "open"
    selected: str | None = None
    errors: tuple[str, ...] = ()


def queue_query(params) -> QueueQuery:
    """Filters from the query string; a bad value is ignored and reported, never trusted."""
    errors = []

    def number(name):
        raw = (params.get(name) or "").strip()
        if not raw:
            return None
        try:
            value = float(raw)
        except ValueError:
            errors.append(f"{name} must be a number")
            return None
        if not 0.0 <= value <= 1.0:
            errors.append(f"{name} must be between 0 and 1")
            return None
        return value

    def day(name):
        raw = (params.get(name) or "").strip()
        if not raw:
            return None
        try:
            return dt.date.fromisoformat(raw)
        except ValueError:
            errors.append(f"{name} must be a date (YYYY-MM-DD)")
            return None

    user = (params.get("user") or "").strip()
    if len(user) > MAX_SESSION_ID or _CONTROL.search(user):
        errors.append("user is too long or has control characters")
        user = ""
    status = params.get("status") or "open"
    if status not in STATUSES:
        errors.append(f"status must be one of {', '.join(STATUSES)}")
        status = "open"
    selected = params.get("s") or None
    if selected is not None:
        try:
            selected = session_id(selected)
        except BadRequest as exc:
            errors.append(str(exc))
            selected = None
    return QueueQuery(user, number("min"), number("max"), day("from"), day("to"), status,
                      selected, tuple(errors))
