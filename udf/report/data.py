"""What the report shows, read from the warehouse's BI marts (read-only, no Python UDFs)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from udf.catalog import table_exists

BINS = 40
TOP_USERS = 25
TOP_PATTERNS = 12


@dataclass
class ReportData:
    model: dict | None = None
    score_bins: list[int] = field(default_factory=list)
    n_scored: int = 0
    n_flagged: int = 0
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


def _pattern(event: str) -> str:
    """An explanation's event segment reduced to its pattern: the event kind and category."""
    words = event.split()
    return " ".join(words[:2]) if words else event


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
        data.per_day = [(str(day), n) for day, n in _rows(
            con, "select cast(date_trunc('day', session_start) as date) as day, count(*) "
                 "from flagged_sessions group by day order by day")]
        events = _rows(con, "select json_extract_string(e, '$.event') from ("
                            "select unnest(json_extract(explanation, '$.top_events[*]')) as e "
                            "from flagged_sessions)")
        counts: dict[str, int] = {}
        for (event,) in events:
            if event:
                key = _pattern(event)
                counts[key] = counts.get(key, 0) + 1
        data.patterns = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_PATTERNS]
    if table_exists(con, "flagged_users"):
        columns = ["user_id", "sessions_flagged", "sessions_total", "max_score",
                   "mean_score", "last_flagged_at", "top_reasons"]
        data.users = [dict(zip(columns, row, strict=True)) for row in _rows(
            con, f"select {', '.join(columns)} from flagged_users "
                 f"order by max_score desc, sessions_flagged desc limit {TOP_USERS}")]
    return data
