"""Run the duckbert command line with a SIGKILL planted at one point (fault injection).

    python tests/reliability/killpoint.py POINT duckbert-args...

POINT is where the process kills itself, as `kill -9` or the OOM killer would at that moment:
  save    inside udf.artifact.save_model, after the weights are written to the hidden
          temporary directory and before duckbert.json and the rename
  record  inside udf.registry.record_run's transaction, after the previous model was marked
          superseded and before the new row is inserted and committed
  none    nothing planted (the plain command)

Nothing else about the run changes: the hooks wrap one function each and then kill.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path


def _die(point: str) -> None:
    print(f"KILLPOINT {point}", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


def plant(point: str) -> None:
    if point == "save":
        import udf.artifact as artifact

        real = artifact.file_sha256

        def file_sha256(path, *args, **kwargs):
            if ".tmp-" in Path(path).parent.name:
                _die(point)
            return real(path, *args, **kwargs)

        artifact.file_sha256 = file_sha256
    elif point == "record":
        import training.record as record

        real_connect = record.open_warehouse

        class Connection:
            def __init__(self, con):
                self._con = con

            def execute(self, sql, *args, **kwargs):
                if sql.lstrip().lower().startswith("insert into duckbert_models"):
                    _die(point)
                return self._con.execute(sql, *args, **kwargs)

            def __getattr__(self, name):
                return getattr(self._con, name)

        def connect(db_path, read_only):
            con = real_connect(db_path, read_only)
            return con if read_only else Connection(con)

        record.open_warehouse = connect
    elif point != "none":
        raise SystemExit(f"unknown kill point {point!r}")


if __name__ == "__main__":
    plant(sys.argv[1])
    from duckbert.cli import main

    main(sys.argv[2:], prog_name="duckbert")
