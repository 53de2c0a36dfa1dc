"""Assemble the report page from ReportData: one HTML file, inline CSS and SVG only."""

from __future__ import annotations

import datetime as dt
import os
from html import escape
from pathlib import Path

from duckbert.report import charts
from duckbert.report.queries import BINS, ReportData, load_report_data

STYLE = """
body { font-family: system-ui, sans-serif; margin: 24px auto; max-width: 1180px; color: #222; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 16px; margin: 8px 0; }
.meta { color: #555; font-size: 13px; margin-bottom: 16px; }
.grid { display: grid; grid-template-columns: repeat(2, 1fr); gap: 16px; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: 12px; background: #fff; }
.kpis { display: flex; gap: 24px; margin: 12px 0 20px; }
.kpi b { display: block; font-size: 22px; } .kpi span { color: #555; font-size: 12px; }
table { border-collapse: collapse; width: 100%; font-size: 12px; }
th, td { border-bottom: 1px solid #eee; padding: 4px 6px; text-align: left; }
th { background: #f6f6f6; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num, td.when { white-space: nowrap; }
svg.chart { width: 100%; height: auto; display: block; }
.warn { background: #fff4e5; border: 1px solid #f0c36d; padding: 8px; border-radius: 4px; }
"""


def _kpi(value: str, label: str) -> str:
    return f'<div class="kpi"><b>{escape(value)}</b><span>{escape(label)}</span></div>'


def _metric(model: dict, key: str):
    return (model.get("metrics") or {}).get("test", {}).get(key)


def _users_table(users: list[dict]) -> str:
    if not users:
        return "<p>No flagged users.</p>"
    head = ("<tr><th>user</th><th>flagged</th><th>sessions</th><th>max score</th>"
            "<th>mean score</th><th>last flagged</th><th>top reasons</th></tr>")
    rows = [
        "<tr>"
        f"<td>{escape(str(u['user_id']))}</td>"
        f"<td class=num>{u['sessions_flagged']}</td>"
        f"<td class=num>{u['sessions_total']}</td>"
        f"<td class=num>{u['max_score']:.3f}</td>"
        f"<td class=num>{u['mean_score']:.3f}</td>"
        f"<td class=when>{escape(str(u['last_flagged_at'])[:16])}</td>"
        f"<td>{escape(str(u['top_reasons'] or ''))}</td>"
        "</tr>"
        for u in users
    ]
    return f"<table>{head}{''.join(rows)}</table>"


def render(data: ReportData, db_path: str) -> str:
    """The whole page as a string."""
    model = data.model
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts = ["<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
             "<title>duckbert report</title>", f"<style>{STYLE}</style></head><body>",
             "<h1>duckbert — flagged sessions and users</h1>",
             f'<div class="meta">warehouse {escape(str(db_path))} · generated {now}</div>']
    for warning in data.warnings:
        parts.append(f'<p class="warn">{escape(warning)}</p>')
    if model is not None:
        parts.append(
            f'<div class="meta">model {escape(model["name"])}@{escape(model["version"])} · '
            f'{escape(str(model["mode"]))} on {escape(str(model["base_model"]))} · threshold '
            f'{model["threshold"]:.4f} ({escape(str(model["threshold_policy"]))})</div>')
        pr_auc = _metric(model, "pr_auc")
        parts.append('<div class="kpis">' + "".join([
            _kpi(f"{data.n_scored:,}", "sessions scored"),
            _kpi(f"{data.n_flagged:,}", "sessions flagged"),
            _kpi(f"{data.n_users:,}", "users flagged"),
            _kpi("-" if pr_auc is None else f"{pr_auc:.3f}", "test PR-AUC"),
            _kpi("-" if _metric(model, "precision") is None else
                 f"{_metric(model, 'precision'):.2f} / {_metric(model, 'recall'):.2f}",
                 "test precision / recall at threshold"),
        ]) + "</div>")
        curve = _metric(model, "pr_curve") or []
        precision, recall = _metric(model, "precision"), _metric(model, "recall")
        operating = None if precision is None or recall is None else (recall, precision)
        days = [d for d, _ in data.per_day]
        weekly = len(days) > 1 and (dt.date.fromisoformat(days[1]) -
                                    dt.date.fromisoformat(days[0])).days == 7
        one_year = len({d[:4] for d in days}) == 1
        day_labels = [d[5:] if one_year else d for d in days]  # MM-DD within one year
        span = f" ({days[0]} to {days[-1]}, UTC)" if days else ""
        grid = [
            charts.histogram("Score distribution", data.score_bins, 0.0, 1.0,
                             model["threshold"], "anomaly score"),
            charts.line("Precision-recall curve (test split)", [tuple(p) for p in curve],
                        "recall", "precision",
                        note="" if pr_auc is None else f"PR-AUC {pr_auc:.3f}",
                        point=operating, steps=True,
                        point_label=f"at the threshold: precision {precision:.2f}, recall "
                                    f"{recall:.2f}" if operating else ""),
            charts.bars("Flagged sessions per day", day_labels,
                        [n for _, n in data.per_day],
                        ("week from" if weekly else "day") + span, "flagged sessions"),
            charts.horizontal_bars("Event patterns that drove flags",
                                   [p for p, _ in data.patterns],
                                   [n for _, n in data.patterns],
                                   "times among the top events of a flagged session"),
        ]
        titles = [f"Score distribution (current model, {BINS} bins)",
                  "Precision-recall curve of the current model",
                  f"Flagged sessions per {'week' if weekly else 'day'}",
                  "Top event patterns among flagged sessions"]
        parts.append('<div class="grid">' + "".join(
            f'<div class="card"><h2>{escape(t)}</h2>{c}</div>'
            for t, c in zip(titles, grid, strict=True)) + "</div>")
        parts.append('<div class="card" style="margin-top:16px"><h2>Flagged users '
                     f"(top {len(data.users)} by max score)</h2>{_users_table(data.users)}"
                     "</div>")
    parts.append("</body></html>")
    return "\n".join(parts)


def build_report(db_path: str, out_path: str) -> dict:
    """Write the report for `db_path` to `out_path` atomically; returns what it counted."""
    from udf.connect import connect_warehouse

    con = connect_warehouse(db_path, read_only=True)
    try:
        data = load_report_data(con)
    finally:
        con.close()
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    tmp.write_text(render(data, db_path), encoding="utf-8")
    os.replace(tmp, out)
    return {"path": str(out), "scored": data.n_scored, "flagged": data.n_flagged,
            "users": data.n_users, "warnings": data.warnings}
