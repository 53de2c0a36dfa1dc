"""One review server's state: its snapshot, its labels on their way, and the retry loop."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from duckbert import label_queue
from duckbert.labels import Label
from duckbert.review import queries
from duckbert.review.security import new_token
from duckbert.review.snapshot import Snapshot
from duckbert.writer_lock import holder

RETRY_S = 2.0


@dataclass
class Verdict:
    """A label this server took: the Label, and whether it reached raw_labels yet."""

    label: Label
    written: bool = False


@dataclass
class ReviewState:
    db: Path
    source: str = "analyst"
    token: str = field(default_factory=new_token)
    allowed_hosts: set[str] = field(default_factory=set)
    retry_s: float = RETRY_S

    def __post_init__(self):
        self.db = Path(self.db).resolve()
        # one process-wide guard: the snapshot copy closes descriptors of the warehouse file,
        # which would drop the POSIX lock of a label write running in this same process
        self.guard = threading.Lock()
        self.snapshot = Snapshot(self.db, prepare=queries.prepare, guard=self.guard)
        self.verdicts: dict[str, Verdict] = {}  # session_id -> this server's latest label
        self.skipped: set[str] = set()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_flush: label_queue.FlushResult | None = None

    # -- labels -------------------------------------------------------------------------

    def record(self, session_id: str, verdict: str, note: str | None) -> str:
        """Take a verdict: "skipped", "saved" (in the side queue, the writer wakes up to
        put it into raw_labels), or "queued" (saved, but a process holds the warehouse).

        The page never waits for the warehouse: the side queue is durable, and the writer
        thread batches what arrives while it writes.
        """
        if verdict == "skip":
            self.skipped.add(session_id)
            return "skipped"
        label = Label(session_id, verdict == "anomaly", note=note, source=self.source)
        label_queue.enqueue(self.db, label)  # durable before anything else is tried
        self.skipped.discard(session_id)
        self.verdicts[session_id] = Verdict(label)
        self._wake.set()
        return "queued" if holder(self.db) is not None else "saved"

    def flush(self) -> label_queue.FlushResult:
        """Write what is queued if the warehouse is free now; mark what arrived."""
        with self.guard:
            result = label_queue.flush(self.db, wait=False)
        if result.written:
            self.snapshot.seen()
        waiting = {e["label"].label_id for e in label_queue.pending(self.db) if "label" in e}
        for v in self.verdicts.values():
            v.written = v.label.label_id not in waiting
        self.last_flush = result
        return result

    def queued(self) -> list[dict]:
        return label_queue.pending(self.db)

    # -- the retry loop -----------------------------------------------------------------

    def start(self) -> None:
        """Write queued labels when woken by a verdict, else every retry_s s, until stop()."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="duckbert-review-labels",
                                            daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.retry_s)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                if any("label" in e and not e.get("held") for e in self.queued()):
                    self.flush()
            except Exception as exc:  # keep retrying; the page shows the last failure
                self.last_flush = label_queue.FlushResult(busy=f"{type(exc).__name__}: {exc}")

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.snapshot.close()
