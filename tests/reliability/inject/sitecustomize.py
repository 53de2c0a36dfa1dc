"""Fault injection for the child processes of tests/reliability (never on a user's path).

Python imports `sitecustomize` at start-up from the first folder on sys.path that has one;
the reliability tests put this folder on PYTHONPATH of the processes they start, so the dbt
process that `duckbert build` spawns gets the hook too. It does nothing unless
DUCKBERT_FAULT_AFTER_BATCHES is set; then, after that many encoder batches of the scorer,
it writes its pid to DUCKBERT_FAULT_MARKER, waits (up to a minute) for the file
DUCKBERT_FAULT_GO when that is set, and SIGKILLs its process group (DUCKBERT_FAULT_KILL=group,
as `kill -9 -PGID` or a container stop would) or only itself (=self, as the OOM killer takes
the process that holds the model).
"""

import os

if os.environ.get("DUCKBERT_FAULT_AFTER_BATCHES"):

    def _fault():
        import signal
        import time
        from pathlib import Path

        Path(os.environ["DUCKBERT_FAULT_MARKER"]).write_text(str(os.getpid()))
        go = os.environ.get("DUCKBERT_FAULT_GO")
        deadline = time.monotonic() + 60
        while go and not Path(go).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        if os.environ.get("DUCKBERT_FAULT_KILL", "group") == "group":
            os.killpg(os.getpgid(0), signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)

    def _install(after: int):
        import udf.scorer

        real = udf.scorer.Scorer._forward_batches
        done = [0]

        def forward_batches(self, ids):
            for batch in real(self, ids):
                yield batch
                done[0] += 1
                if done[0] >= after:
                    _fault()

        udf.scorer.Scorer._forward_batches = forward_batches

    _install(int(os.environ["DUCKBERT_FAULT_AFTER_BATCHES"]))
