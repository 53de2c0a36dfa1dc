"""Optional steps of a training run: their failure is a warning, never the end of the run.

The model, its threshold and its test metrics are what a run is for. The peers, the
precision check and the drift baselines only add to them: when one of them fails (a peer's
library breaks on an odd feature, memory runs short), the run logs a warning that names the
step and the cause, carries on without that step's output, and records the step as skipped
in the artifact (`skipped_steps`), the summary and the exit status of `duckbert train` (3).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

PEERS = "peers"
PRECISION_CHECK = "precision check"
DEVICE_CHECK = "device precision check"
DRIFT_BASELINES = "drift baselines"
STEPS = (PEERS, PRECISION_CHECK, DEVICE_CHECK, DRIFT_BASELINES)


class OptionalSteps:
    """Runs optional steps and remembers the ones that failed."""

    def __init__(self, log=print):
        self.log = log
        self.skipped: list[dict] = []

    def run(self, step: str, fn: Callable[[], T], default: T) -> T:
        """`fn()`, or `default` with a warning when it raises (KeyboardInterrupt and
        SystemExit still stop the run)."""
        try:
            return fn()
        except Exception as exc:  # an optional step may fail in any library it calls
            cause = f"{type(exc).__name__}: {exc}".strip()
            self.skipped.append({"step": step, "cause": cause})
            self.log(f"warning: {step} skipped ({cause}); the model is kept without it")
            return default
