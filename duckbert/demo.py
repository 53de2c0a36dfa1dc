"""`duckbert demo`: the whole job on the embedded default, one stage at a time.

generate -> load -> dbt build -> train (head mode, packaged MiniLM) -> dbt build again
(scores, flags) -> metrics, the top flagged users and their reasons, and the SQL to try next.
Rerunning is safe: files are regenerated identically, loads replace their own rows, builds are
idempotent, and training is skipped when the current model was trained on the same labels.
"""

from __future__ import annotations

import time
from pathlib import Path

DEFAULT_USERS = 1000


class DemoError(RuntimeError):
    """A stage failed; the message names it."""


def _stage(echo, number: int, title: str):
    echo(f"\n[{number}/6] {title}")
    return time.monotonic()


def _done(echo, started: float, detail: str = "") -> None:
    echo(f"      done in {time.monotonic() - started:.0f}s{(' — ' + detail) if detail else ''}")


def _build(db_path: str, echo, log_path: Path) -> None:
    from duckbert.dbt_runner import dbt_build

    with open(log_path, "a", encoding="utf-8") as log:
        result = dbt_build(db_path, out=log, colors=False,
                           progress=lambda line: echo("      " + line))
    summary = [line for line in result.tail if "PASS=" in line or "Completed" in line]
    if not result.ok:
        tail = "\n".join(result.tail[-15:])
        raise DemoError(f"dbt build failed (full log: {log_path}):\n{tail}")
    echo("      " + (summary[-1].strip() if summary else "dbt build ok"))


def _current_fingerprint(db_path: str) -> tuple[str | None, str | None]:
    from udf.connect import connect_warehouse
    from udf.registry import table_exists

    con = connect_warehouse(db_path, read_only=True)
    try:
        if not table_exists(con, "duckbert_models"):
            return None, None
        rows = con.execute("select training_fingerprint, version from duckbert_models "
                           "where is_current").fetchall()
        return rows[0] if rows else (None, None)
    finally:
        con.close()


def run_demo(db_path: str, users: int = DEFAULT_USERS, seed: int = 0, retrain: bool = False,
             echo=print) -> dict:
    """Run every stage; returns the test metrics and the number of flagged users."""
    from duckbert.loader import load
    from duckbert.synthetic import generate
    from udf.connect import connect_warehouse

    db = Path(db_path).expanduser().resolve()
    db.parent.mkdir(parents=True, exist_ok=True)
    data_dir = db.parent / "demo_data"
    log_path = db.parent / "demo_dbt.log"
    log_path.write_text("")
    total = time.monotonic()

    started = _stage(echo, 1, f"generate synthetic e-commerce behaviour ({users} users)")
    summary = generate(data_dir, users=users, seed=seed)
    _done(echo, started, f"{summary.get('sessions', '?')} sessions, "
                         f"{summary.get('events', '?')} events in {data_dir}")

    started = _stage(echo, 2, "load raw CSV files into the warehouse")
    con = connect_warehouse(str(db))
    try:
        report = load(con, events=str(data_dir / "events.csv"),
                      reviews=str(data_dir / "reviews.csv"),
                      labels=str(data_dir / "labels.csv"))
    finally:
        con.close()
    for line in report.lines():
        echo("      " + line)
    _done(echo, started)

    started = _stage(echo, 3, "dbt build: clean, sessionize, render session texts")
    _build(str(db), echo, log_path)
    _done(echo, started)

    started = _stage(echo, 4, "train the BERT head (packaged all-MiniLM-L6-v2, head mode)")
    result = _train(str(db), seed, retrain, echo)
    _done(echo, started)

    started = _stage(echo, 5, "dbt build: score sessions, flag sessions and users")
    _build(str(db), echo, log_path)
    _done(echo, started)

    _stage(echo, 6, "results")
    flagged = _show_results(str(db), echo)
    echo(f"\ndemo finished in {time.monotonic() - total:.0f}s; dbt log: {log_path}")
    echo(f"\nReview the flagged sessions: duckbert review --db {db_path}\n"
         "  then open the address it prints (http://127.0.0.1:8765/ unless that port is "
         "taken);\n  keys a / n / s label anomaly / normal / skip, then: "
         f"duckbert train --db {db_path} --resume")
    return {"test": result, "flagged_users": flagged}


def _train(db_path: str, seed: int, retrain: bool, echo) -> dict:
    from training.config import TrainConfig
    from training.labelled import read_sessions
    from training.summary import train_summary
    from training.trainer import train
    from udf.connect import connect_warehouse

    cfg = TrainConfig(db_path=db_path, mode="head", seed=seed)
    fingerprint, version = _current_fingerprint(db_path)
    if fingerprint and not retrain:
        con = connect_warehouse(db_path, read_only=True)
        try:
            same = read_sessions(con, cfg).fingerprint == fingerprint
        finally:
            con.close()
        if same:
            echo(f"      the current model {version} was trained on these labels; "
                 "skipping (use --retrain to train again)")
            return {}
    result = train(cfg, log=lambda line: echo("      " + line))
    echo(train_summary(result))
    return result.test


def _show_results(db_path: str, echo) -> int:
    from udf.connect import connect_warehouse

    con = connect_warehouse(db_path, read_only=True)
    try:
        n_users, n_sessions = con.execute(
            "select (select count(*) from flagged_users), "
            "(select count(*) from flagged_sessions)").fetchall()[0]
        rows = con.execute(
            "select user_id, sessions_flagged, sessions_total, round(max_score, 3), "
            "top_reasons from flagged_users order by max_score desc, sessions_flagged desc "
            "limit 10").fetchall()
    finally:
        con.close()
    echo(f"{n_sessions} sessions of {n_users} users are flagged. Top flagged users:")
    for user, flagged, total, score, reasons in rows:
        reasons = reasons if len(reasons) <= 110 else reasons[:107] + "..."
        echo(f"  user {user}: {flagged}/{total} sessions flagged, max score {score}")
        echo(f"      reasons: {reasons or '-'}")
    db = db_path
    echo("\nTry next:\n"
         f'  duckbert sql --db {db} "select session_id, anomaly_score(session_text) as score '
         'from sessions order by score desc limit 5"\n'
         f'  duckbert sql --db {db} "select * from flagged_users order by max_score desc '
         'limit 10"\n'
         f"  duckbert report --db {db} --out report.html\n"
         f"  duckbert label --db {db} SESSION_ID --normal   "
         f"# then: duckbert train --db {db} --resume\n"
         f"  BI tools: open {db} read-only (or `duckbert export`) and read flagged_users")
    return int(n_users)
