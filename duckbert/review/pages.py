"""Server-rendered HTML of the review queue (Jinja2, autoescaped: every value is escaped)."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from urllib.parse import urlencode

from duckbert.review import queries

HERE = Path(__file__).resolve().parent
ITEM_WORDS = {"remove_from_cart": "remove", "cart": "add to cart"}


def _env():
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(loader=FileSystemLoader(HERE / "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True))
    env.filters.update(score=lambda v: "" if v is None else f"{v:.3f}", when=when,
                       gap=gap, money=lambda v: "" if v is None else f"{v:,.2f}")
    return env


_ENV = None


def env():
    global _ENV
    if _ENV is None:
        _ENV = _env()
    return _ENV


def when(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat(sep=" ", timespec="seconds") if isinstance(
            value, dt.datetime) else value.isoformat()
    return str(value)


def gap(seconds) -> str:
    if seconds is None:
        return ""
    s = float(seconds)
    if s < 60:
        return f"+{s:.0f}s"
    if s < 3600:
        return f"+{s / 60:.0f}m"
    return f"+{s / 3600:.1f}h"


def link(q, **changes) -> str:
    """The page URL for QueueQuery `q` with `changes` (s = selected session)."""
    params = {"user": q.user, "min": q.min_score, "max": q.max_score,
              "from": q.date_from, "to": q.date_to, "status": q.status, "s": q.selected}
    params.update(changes)
    keep = {k: v for k, v in params.items() if v not in (None, "") and
            not (k == "status" and v == "open")}
    return "/?" + urlencode(keep) if keep else "/"


def label_word(is_anomaly) -> str:
    return "" if is_anomaly is None else "anomaly" if is_anomaly else "normal"


def queue_rows(state, q) -> list[dict]:
    """The queue after this server's own labels and skips (which the snapshot may not hold)."""
    rows = []
    for row in queries.queue(state.snapshot, q):
        mine = state.verdicts.get(row["session_id"])
        if mine is not None:
            row.update(last_label=mine.label.is_anomaly, reviewed=True,
                       last_label_file="duckbert review")
        row["label"] = label_word(row["last_label"])
        row["loaded"] = row["last_label"] is not None and not row["reviewed"]
        row["skipped"] = row["session_id"] in state.skipped
        keep = {"open": not row["reviewed"] and not row["skipped"],
                "unlabelled": row["last_label"] is None and not row["skipped"],
                "reviewed": row["reviewed"], "all": True}[q.status]
        if keep:
            rows.append(row)
    return rows


def neighbours(rows: list[dict], selected: str | None) -> tuple[str | None, str | None]:
    ids = [r["session_id"] for r in rows]
    if selected not in ids:
        return (ids[0] if ids else None), None
    i = ids.index(selected)
    return (ids[i + 1] if i + 1 < len(ids) else None), (ids[i - 1] if i > 0 else None)


def next_after(state, q, session_id: str) -> str:
    """Where the page goes after a verdict on `session_id`: the next open session."""
    rows = queue_rows(state, q)
    ids = [r["session_id"] for r in rows]
    if session_id in ids:  # still listed (status all/labelled): the one below it
        i = ids.index(session_id)
        nxt = ids[i + 1] if i + 1 < len(ids) else None
    else:
        full = [r["session_id"] for r in queries.queue(state.snapshot, q)]
        later = full[full.index(session_id) + 1:] if session_id in full else full
        nxt = next((s for s in later if s in ids), ids[0] if ids else None)
    return link(q, s=nxt)


def render_queue(state, q) -> str:
    status = state.snapshot.status
    page = {"db": state.db.name, "token": state.token, "q": q, "errors": list(q.errors),
            "busy": status.busy,
            "as_of": time.strftime("%H:%M:%S", time.localtime(status.as_of))
            if status.as_of else None,
            "queued": [e for e in state.queued() if "label" in e],
            "held": [e for e in state.queued() if e.get("held")]}
    if not state.snapshot.ready:
        return env().get_template("waiting.html").render(**page)
    if not queries.has_queue(state.snapshot):
        return env().get_template("waiting.html").render(
            **page, empty="no flagged sessions yet: run `duckbert train` and "
                          "`duckbert build` first")
    rows = queue_rows(state, q)
    selected = q.selected if q.selected else (rows[0]["session_id"] if rows else None)
    detail = queries.session(state.snapshot, selected) if selected else None
    if detail is not None:
        mine = state.verdicts.get(selected)
        detail["mine"] = mine
        highlighted = set()
        for reason in detail["reasons"][:3]:
            start = int(reason["position"] or 0)
            highlighted.update(range(start, start + int(reason["events"])))
        detail["highlighted"] = highlighted
    q_sel = type(q)(**{**q.__dict__, "selected": selected})
    nxt, prev = neighbours(rows, selected)
    return env().get_template("queue.html").render(
        **page, rows=rows[:queries.QUEUE_LIMIT], total=len(rows), detail=detail,
        selected=selected, next_url=link(q_sel, s=nxt) if nxt else "",
        prev_url=link(q_sel, s=prev) if prev else "", link=lambda **c: link(q_sel, **c),
        item_words=ITEM_WORDS, label_word=label_word)
