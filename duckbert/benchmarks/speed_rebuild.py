"""Incremental rebuild of the scoring marts after 1% new sessions, against a full one.

On a copy of the warehouse, with DUCKBERT_MODEL set to the benchmark's model:
1. full: `dbt build -s session_scores+ --full-refresh` scores (and explains) every session;
2. no-op: `dbt build -s session_scores+` right after, nothing new: the fixed cost of a run
   (dbt start, model load, the marts' tests);
3. 1% new sessions arrive (copies of existing sessions' events under new session ids, a day
   later) and `dbt run -s +sessions` refreshes the sessions mart (not timed);
4. incremental: `dbt build -s session_scores+` scores only the new sessions.
Each step is one dbt process, timed from start to exit, as a scheduler would see it.
"""

from __future__ import annotations

import math
import shutil
import time
from pathlib import Path

SELECT = ["session_scores+"]


def _dbt(command: str, db: Path, env: dict, log: Path, **options) -> float:
    from duckbert.dbt_runner import run_dbt

    start = time.perf_counter()
    with open(log, "a", encoding="utf-8") as out:
        out.write(f"\n=== dbt {command} {options}\n")
        out.flush()
        result = run_dbt(command, db, out=out, env=env, colors=False, **options)
    seconds = time.perf_counter() - start
    if not result.ok:
        raise RuntimeError(f"dbt {command} failed during the rebuild benchmark (log: {log}):\n"
                           + "\n".join(result.tail[-12:]))
    return seconds


def _scores_state(db: Path) -> tuple[int, int]:
    from udf.connect import connect_warehouse

    con = connect_warehouse(db, read_only=True)
    try:
        return tuple(con.execute(
            "select count(*), count(*) filter (where explanation is not null) "
            "from session_scores").fetchall()[0])
    finally:
        con.close()


def _add_new_sessions(db: Path, share: float) -> int:
    """Copy the events of `share` of the sessions that have a user_session id (a day later,
    under new ids) into raw_events; returns how many sessions were added."""
    from udf.connect import connect_warehouse

    con = connect_warehouse(db)
    try:
        sessions = con.execute(
            "select count(distinct user_session) from raw_events where user_session is not null"
        ).fetchall()[0][0]
        total = con.execute("select count(*) from sessions").fetchall()[0][0]
        n = max(1, math.ceil(share * total))
        n = min(n, sessions)
        con.execute(f"""
            create temp table bench_new as
            select user_session from (select distinct user_session from raw_events
                                      where user_session is not null)
            order by hash(user_session) limit {n}""")
        columns = [r[0] for r in con.execute("describe raw_events").fetchall()]
        replaced = {
            "user_session": "'bench-new-' || e.user_session",
            "event_time": "e.event_time + interval 1 day",
            "source_file": "'bench-incremental'",
        }
        select = ", ".join(replaced.get(c, f"e.{c}") for c in columns)
        con.execute(f"insert into raw_events select {select} from raw_events e "
                    f"join bench_new using (user_session)")
        return n
    finally:
        con.close()


def rebuild_ratio(db: Path, model_dir: Path, work_dir: Path, env: dict,
                  share: float = 0.01, log=print) -> dict:
    """Seconds of a full, a no-op and an incremental rebuild of session_scores+, and ratios."""
    from udf.connect import connect_warehouse

    copy = work_dir / "rebuild.duckdb"
    shutil.copy2(db, copy)
    con = connect_warehouse(copy)
    try:  # a model recorded in the copied warehouse would take precedence over DUCKBERT_MODEL
        if con.execute("select count(*) from information_schema.tables "
                       "where table_name = 'duckbert_models'").fetchall()[0][0]:
            con.execute("update duckbert_models set is_current = false")
    finally:
        con.close()
    dbt_log = work_dir / "rebuild_dbt.log"
    dbt_log.write_text("")
    env = {**env, "DUCKBERT_MODEL": str(model_dir)}
    full = _dbt("build", copy, env, dbt_log, select=SELECT, full_refresh=True)
    scored_full, explained_full = _scores_state(copy)
    log(f"  full rebuild: {full:.1f}s ({scored_full} sessions scored, {explained_full} "
        "explained)")
    noop = _dbt("build", copy, env, dbt_log, select=SELECT)
    added = _add_new_sessions(copy, share)
    refresh = _dbt("run", copy, env, dbt_log, select=["+sessions"])
    incremental = _dbt("build", copy, env, dbt_log, select=SELECT)
    scored_after, _ = _scores_state(copy)
    log(f"  no-op rebuild {noop:.1f}s; {added} new sessions; incremental {incremental:.1f}s")
    return {
        "sessions": scored_full, "explained_full": explained_full,
        "new_sessions": added, "new_rows_scored": scored_after - scored_full,
        "full_s": full, "noop_s": noop, "incremental_s": incremental,
        "refresh_sessions_s": refresh,
        "incremental_over_full": incremental / full,
        "scoring_share": (incremental - noop) / max(full - noop, 1e-9),
        "dbt_log": str(dbt_log),
    }
