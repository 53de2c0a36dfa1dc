"""What the review queue reads from a warehouse snapshot: the queue, a session, its labels."""

from __future__ import annotations

import json

from udf.registry import table_exists

QUEUE_LIMIT = 500  # rows listed at once; the count says how many match
# verdicts given by analysts (duckbert label, this queue), unlike labels loaded from files
ANALYST_SOURCES = ("duckbert label", "duckbert review")


def prepare(con) -> None:
    """Once per snapshot: the queue's timelines and labels as small tables (schema review)."""
    con.execute("create schema if not exists review")
    if not table_exists(con, "flagged_sessions"):
        return
    con.execute("create or replace table review.timeline as select * from "
                "int_session_timeline where session_id in (select session_id from "
                "flagged_sessions)")
    if table_exists(con, "raw_labels"):
        con.execute("""
            create or replace table review.labels as
            select coalesce(session_id, user_session) as session_id, is_anomaly, label_source,
                   labelled_at, json_extract_string(extra, '$.note') as note,
                   json_extract_string(extra, '$.label_id') as label_id, source_file,
                   loaded_at
            from raw_labels
            where coalesce(session_id, user_session) in (select session_id from
                                                         flagged_sessions)""")


def filter_sql(q) -> tuple[str, list]:
    """The WHERE clause of a QueueQuery (duckbert/review/security.py), with its parameters."""
    where, params = [], []
    for value, clause in ((q.user, "user_id = ?"), (q.min_score, "anomaly_score >= ?"),
                          (q.max_score, "anomaly_score <= ?"),
                          (q.date_from, "cast(session_start as date) >= ?"),
                          (q.date_to, "cast(session_start as date) <= ?")):
        if value is not None and value != "":
            where.append(clause)
            params.append(value)
    return (" where " + " and ".join(where)) if where else "", params


def has_queue(snapshot) -> bool:
    return bool(snapshot.query("select count(*) from information_schema.tables where "
                               "table_schema = 'review' and table_name = 'timeline'")[0][0])


def queue(snapshot, q) -> list[dict]:
    """Flagged sessions matching the QueueQuery `q`, highest score first, with their latest
    label (`last_label`, from `last_label_file`) and whether an analyst gave one (`reviewed`).
    """
    where, params = filter_sql(q)
    if has_labels(snapshot):
        latest = ("(select l.{} from review.labels l where l.session_id = f.session_id "
                  "order by l.labelled_at desc nulls last, l.loaded_at desc limit 1)")
        sources = ", ".join(f"'{s}'" for s in ANALYST_SOURCES)
        labels = (f"{latest.format('is_anomaly')} as last_label, "
                  f"{latest.format('source_file')} as last_label_file, "
                  f"exists (select 1 from review.labels l where l.session_id = f.session_id "
                  f"and l.source_file in ({sources})) as reviewed")
    else:
        labels = ("cast(null as boolean) as last_label, cast(null as varchar) as "
                  "last_label_file, false as reviewed")
    return snapshot.columns(
        f"select f.session_id, f.user_id, f.session_start, f.anomaly_score, f.threshold, "
        f"f.n_events, f.n_reviews, f.model_version, {labels} "
        f"from flagged_sessions f{where} order by f.anomaly_score desc, f.session_id", params)


def has_labels(snapshot) -> bool:
    return bool(snapshot.query("select count(*) from information_schema.tables where "
                               "table_schema = 'review' and table_name = 'labels'")[0][0])


def session(snapshot, session_id: str) -> dict | None:
    """One flagged session: score, threshold, model, reasons, timeline and earlier labels."""
    rows = snapshot.columns("select * from flagged_sessions where session_id = ?", [session_id])
    if not rows:
        return None
    out = rows[0]
    explanation = json.loads(out.get("explanation") or "{}")
    out["reasons"] = [
        {"text": top.get("reason") or top.get("event"), "delta": top.get("delta"),
         "segment": top.get("event"), "position": top.get("position"),
         "events": top.get("events") or 1}
        for top in explanation.get("top_events") or []]
    out["timeline"] = snapshot.columns(
        "select item_seq, item_kind, item_type, item_time, gap_seconds, product_id, "
        "category_code, brand, price, rating, review_text, is_verified_purchase, "
        "text_position from review.timeline where session_id = ? order by item_seq",
        [session_id])
    out["labels"] = snapshot.columns(
        "select is_anomaly, label_source, labelled_at, note, label_id, source_file from "
        "review.labels where session_id = ? order by labelled_at desc nulls last, "
        "loaded_at desc", [session_id]) if has_labels(snapshot) else []
    out["model"] = model(snapshot, out["model_version"])
    return out


def model(snapshot, version: str | None) -> dict | None:
    """The duckbert_models row of `version`: name, base model, mode, when, threshold."""
    if version is None:
        return None
    rows = snapshot.columns(
        "select name, version, base_model, training_mode, created_at, threshold, is_current "
        "from duckbert_models where version = ?", [version])
    return rows[0] if rows else None


def known_session(snapshot, session_id: str) -> bool:
    return bool(snapshot.query("select count(*) from flagged_sessions where session_id = ?",
                               [session_id])[0][0])
