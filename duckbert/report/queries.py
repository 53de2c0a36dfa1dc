"""What the report shows, read from the warehouse's BI marts (read-only, no Python UDFs)."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field

from udf.registry import table_exists

BINS = 40
TOP_USERS = 25
TOP_PATTERNS = 12


@dataclass
class ReportData:
    model: dict | None = None
    score_bins: list[int] = field(default_factory=list)
    n_scored: int = 0
    n_flagged: int = 0
    n_users: int = 0
    per_day: list[tuple[str, int]] = field(default_factory=list)
    users: list[dict] = field(default_factory=list)
    patterns: list[tuple[str, int]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _rows(con, sql: str, params=None) -> list[tuple]:
    return con.execute(sql, params or []).fetchall()


def _model(con) -> dict | None:
    if not table_exists(con, "duckbert_models"):
        return None
    rows = _rows(con, "select name, version, training_mode, base_model, threshold, "
                      "threshold_policy, created_at, metrics from duckbert_models "
                      "where is_current")
    if not rows:
        return None
    name, version, mode, base, threshold, policy, created, metrics = rows[0]
    return {"name": name, "version": version, "mode": mode, "base_model": base,
            "threshold": threshold, "threshold_policy": policy, "created_at": created,
            "metrics": json.loads(metrics) if metrics else {}}


EVENT_KINDS = {"view", "click", "cart", "remove", "purchase", "review"}
PRICE_BANDS = {"tiny", "cheap", "low", "mid", "high", "luxury"}
GAP = re.compile(r"^\d+[smhd]$")
RUN = re.compile(r"^x\d+$")
SUMMARY = re.compile(r"^\d+ more:")  # the folded middle of a long session
GROUP_JOINER = " + "  # udf.explain joins the events it occluded together with this
MAX_DAYS = 120  # longer spans are charted per week


def patterns(event: str) -> list[str]:
    """The patterns in an explanation's `event` (one segment, or several joined by " + ").

    A segment (docs/SESSION_TEXT.md) reduces to what recurs across sessions: its kind, then
    `same` / `next` product, price band, review rating and `verified`, and `repeated` for a
    run (`x5`); the gap, category and brand are left out. "2s purchase c339 tiny x4" becomes
    "purchase tiny repeated"; the summary of a long session's middle is "summarized middle";
    anything else is kept as it is.
    """
    out = []
    for segment in event.split(GROUP_JOINER):
        if SUMMARY.match(segment.strip()):
            out.append("summarized middle")
            continue
        words = segment.split()
        if words and GAP.match(words[0]):
            words = words[1:]
        if not words or words[0] not in EVENT_KINDS:
            if segment.strip():
                out.append(segment.strip())
            continue
        kind, rest = words[0], words[1:]
        if kind == "review":
            keep = [w for w in rest[:2] if w.isdigit() or w == "verified"]
        else:
            keep = [w for w in rest if w in ("same", "next") or w in PRICE_BANDS]
        if any(RUN.match(w) for w in rest):
            keep.append("repeated")
        out.append(" ".join([kind, *keep]))
    return out


def _fill_days(rows: list[tuple[dt.date, int]]) -> list[tuple[str, int]]:
    """Counts for every day from the first to the last (zeros included), or per week
    (labelled by its Monday) when that spans more than MAX_DAYS days."""
    if not rows:
        return []
    counts = dict(rows)
    first, last = min(counts), max(counts)
    if (last - first).days >= MAX_DAYS:
        weeks: dict[dt.date, int] = {}
        for day, n in counts.items():
            monday = day - dt.timedelta(days=day.weekday())
            weeks[monday] = weeks.get(monday, 0) + n
        counts, step = weeks, 7
        first = min(weeks)
    else:
        step = 1
    out = []
    day = first
    while day <= last:
        out.append((day.isoformat(), counts.get(day, 0)))
        day += dt.timedelta(days=step)
    return out


def load_report_data(con) -> ReportData:
    data = ReportData(model=_model(con))
    if data.model is None:
        data.warnings.append("no current model: run `duckbert train`, then `duckbert build`")
        return data
    version = data.model["version"]
    if not table_exists(con, "session_scores"):
        data.warnings.append("no session_scores table: run `duckbert build`")
        return data
    rows = _rows(con, f"select least(cast(floor(anomaly_score * {BINS}) as integer), "
                      f"{BINS - 1}) as bin, count(*) from session_scores "
                      "where model_version = ? and anomaly_score is not null group by bin",
                 [version])
    data.score_bins = [0] * BINS
    for b, count in rows:
        data.score_bins[b] = count
    data.n_scored = sum(data.score_bins)
    if data.n_scored == 0:
        data.warnings.append(f"no sessions scored by {version} yet: run `duckbert build`")
    if table_exists(con, "flagged_sessions"):
        data.n_flagged = _rows(con, "select count(*) from flagged_sessions")[0][0]
        data.per_day = _fill_days(_rows(
            con, "select cast(date_trunc('day', session_start) as date) as day, count(*) "
                 "from flagged_sessions group by day order by day"))
        events = _rows(con, "select json_extract_string(e, '$.event') from ("
                            "select unnest(json_extract(explanation, '$.top_events[*]')) as e "
                            "from flagged_sessions)")
        counts: dict[str, int] = {}
        for (event,) in events:
            for key in patterns(event or ""):
                counts[key] = counts.get(key, 0) + 1
        data.patterns = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_PATTERNS]
    if table_exists(con, "flagged_users"):
        data.n_users = _rows(con, "select count(*) from flagged_users")[0][0]
        columns = ["user_id", "sessions_flagged", "sessions_total", "max_score",
                   "mean_score", "last_flagged_at", "top_reasons"]
        data.users = [dict(zip(columns, row, strict=True)) for row in _rows(
            con, f"select {', '.join(columns)} from flagged_users "
                 f"order by max_score desc, sessions_flagged desc limit {TOP_USERS}")]
    return data
