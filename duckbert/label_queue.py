"""Labels that wait for the warehouse: a side store that nothing can lose.

The review queue cannot write raw_labels while a dbt build or a training run holds the
warehouse (DuckDB has one writer). Each verdict is therefore first appended, fsynced, to
`<db>.labels-queue.jsonl` beside the warehouse, and then moved into raw_labels by `flush`,
through the same `add_label_rows` as `duckbert label`, whenever the file is free: at once by
the review server when it can, later by its retry loop, and at the start of `duckbert build`
and `duckbert train` (the next writers anyway). A label leaves the file only after its row is
committed; its label_id makes a repeated flush harmless. A label for a session that no longer
exists stays in the file with the reason, and `pending` reports it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from duckbert.labels import Label, add_label_rows, unknown_sessions
from duckbert.writer_lock import holder, writer_turn

REVIEW_SOURCE_FILE = "duckbert review"


def queue_path(db_path: str | os.PathLike) -> Path:
    db = Path(db_path)
    return db.with_name(db.name + ".labels-queue.jsonl")


@dataclass
class FlushResult:
    written: int = 0  # new rows in raw_labels
    waiting: int = 0  # still in the queue (warehouse busy, or held for a reason)
    held: dict[str, str] = field(default_factory=dict)  # label_id -> why it cannot be written
    busy: str | None = None  # why nothing could be written now

    def line(self) -> str:
        parts = [f"{self.written} queued label(s) written to raw_labels"]
        if self.waiting:
            parts.append(f"{self.waiting} still queued" + (f" ({self.busy})" if self.busy else ""))
        return ", ".join(parts)


@contextlib.contextmanager
def _locked(path: Path):
    """The queue file's own lock: appends and rewrites never interleave across processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def enqueue(db_path: str | os.PathLike, label: Label) -> None:
    """Append one label durably (fsync) before anything tries the warehouse."""
    path = queue_path(db_path)
    line = json.dumps({"label": label.as_dict()}) + "\n"
    with _locked(path):
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)


def _read(path: Path) -> list[dict]:
    if not path.exists():
        return []
    entries = []
    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            entry = json.loads(raw)
            entry["label"] = Label(**entry["label"])
        except (ValueError, TypeError, KeyError) as exc:  # a torn last line of a crash
            entry = {"raw": raw, "held": f"line {n} is not a label ({exc})"}
        entries.append(entry)
    return entries


def _rewrite(path: Path, entries: list[dict]) -> None:
    """Replace the queue with `entries` atomically (temporary file, fsync, rename)."""
    if not entries:
        path.unlink(missing_ok=True)
        return
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for entry in entries:
            if "raw" in entry:
                fh.write(json.dumps({"raw": entry["raw"], "held": entry["held"]}) + "\n")
            else:
                out = {"label": entry["label"].as_dict()}
                if entry.get("held"):
                    out["held"] = entry["held"]
                fh.write(json.dumps(out) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def pending(db_path: str | os.PathLike) -> list[dict]:
    """The queued entries: {"label": Label, "held": reason or absent} (or a bad "raw" line)."""
    path = queue_path(db_path)
    with _locked(path):
        entries = _read(path)
    for entry in entries:
        if "raw" in entry:
            entry.setdefault("held", "not a label")
    return entries


def flush(db_path: str | os.PathLike, con=None, wait: bool = False) -> FlushResult:
    """Move queued labels into raw_labels when the warehouse can be written now.

    `con`: an open read-write connection of a caller that is the writer already (build,
    train); otherwise this opens one briefly, only when no process holds the file and
    duckbert's writer turn is free (wait=False: give up at once, the caller retries later).
    """
    path = queue_path(db_path)
    with _locked(path):
        entries = _read(path)
        labels = [e for e in entries if "label" in e]
        result = FlushResult(waiting=len(entries))
        if not labels:
            return result
        if con is not None:
            return _write(con, path, entries, result)
        with writer_turn(db_path, exclusive=True, wait=wait) as turn:
            if not turn:
                result.busy = "a duckbert build, training or label run is writing"
                return result
            pid = holder(db_path)
            if pid is not None:
                result.busy = f"the warehouse is held by process {pid}"
                return result
            from udf.connect import WarehouseLockedError, connect_warehouse

            try:
                own = connect_warehouse(db_path, must_exist=True)
            except WarehouseLockedError as exc:
                result.busy = str(exc).split(". ")[0]
                return result
            try:
                return _write(own, path, entries, result)
            finally:
                own.close()


def _write(con, path: Path, entries: list[dict], result: FlushResult) -> FlushResult:
    labels = [e["label"] for e in entries if "label" in e]
    gone = set(unknown_sessions(con, [label.session_id for label in labels]))
    ready = [label for label in labels if label.session_id not in gone]
    result.written = add_label_rows(con, ready, source_file=REVIEW_SOURCE_FILE)
    keep = []
    for entry in entries:
        label = entry.get("label")
        if label is not None and label.session_id in gone:
            entry["held"] = (f"session {label.session_id!r} is not in the sessions table any "
                             "more (rebuilt from other events?)")
        if label is None or label.session_id in gone:
            keep.append(entry)
            result.held[getattr(label, "label_id", entry.get("raw", ""))] = entry["held"]
    _rewrite(path, keep)
    result.waiting = len(keep)
    return result


def pick_up(db_path: str | os.PathLike, echo=print) -> FlushResult | None:
    """For a writer about to start (build, train): write the queue with its own connection."""
    if not queue_path(db_path).exists() or not Path(db_path).exists():
        return None
    from udf.connect import connect_warehouse

    con = connect_warehouse(db_path, must_exist=True)
    try:
        result = flush(db_path, con=con)
    finally:
        con.close()
    if result.written or result.waiting:
        echo(f"review queue: {result.line()}")
    return result


def stale_training_labels(con) -> int:
    """Labels in raw_labels (through stg_labels) that training_sessions does not show yet."""
    from udf.registry import table_exists

    if not (table_exists(con, "training_sessions") and table_exists(con, "stg_labels")):
        return 0
    return con.execute(
        "select count(*) from stg_labels as l inner join training_sessions as t "
        "on l.session_id = t.session_id where t.is_anomaly is distinct from l.is_anomaly "
        "or t.labelled_at is distinct from l.labelled_at").fetchall()[0][0]


def refresh_training_labels(db_path: str | os.PathLike, echo=print) -> int:
    """Before training on training_sessions: bring in the labels that arrived since the build.

    Writes the review queue, then, when raw_labels holds verdicts that training_sessions does
    not show yet, reruns just `stg_labels` and `training_sessions` (dbt run; seconds), so
    `duckbert train --resume` learns from labels made after the last build. Returns that count.
    """
    if not Path(db_path).exists():
        return 0  # training says what is missing
    pick_up(db_path, echo)
    from udf.connect import connect_warehouse

    con = connect_warehouse(db_path, read_only=True)
    try:
        stale = stale_training_labels(con)
    finally:
        con.close()
    if not stale:
        return 0
    from duckbert.dbt_runner import run_dbt

    echo(f"training_sessions: {stale} label(s) arrived since the last build; refreshing it "
         "(dbt run --select stg_labels training_sessions)")
    result = run_dbt("run", db_path, out=None, select=["stg_labels", "training_sessions"])
    if not result.ok:
        echo("  could not refresh training_sessions; run `duckbert build` first:\n  " +
             "\n  ".join(result.tail[-5:]))
        return 0
    return stale
