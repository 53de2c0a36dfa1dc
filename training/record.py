"""Record a finished run in the warehouse: its drift baselines, then its `duckbert_models` row.

The row is written in one transaction that also demotes the previous current model
(udf.registry.record_run), and only after the artifact is complete on disk.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from training.baselines import write_baselines
from training.labelled import open_warehouse


def record_model(db_path: str, meta: dict, path: Path, keep: bool,
                 baselines: dict[str, list[tuple]]) -> None:
    """Write the baselines and the catalogue row of the model saved at `path`.

    `keep` makes it the current model; otherwise it is recorded as rejected.
    """
    from udf.registry import record_run

    row = {
        "name": meta["name"], "version": meta["version"], "path": str(path),
        "created_at": dt.datetime.now(dt.timezone.utc),
        "training_mode": meta["training_mode"], "base_model": meta["base_model"],
        "text_format": meta["text_format"], "threshold": meta["threshold"],
        "threshold_policy": meta["threshold_policy"], "training_table": meta[
            "training_table"], "training_fingerprint": meta["training_fingerprint"],
        "n_train": meta["n_train"], "metrics": meta["metrics"],
        "status": "current" if keep else "rejected",
        "note": None if keep else "worse on validation than the current model",
    }
    con = open_warehouse(db_path, read_only=False)
    try:
        # baselines first: a version's bins exist before it can become current
        write_baselines(con, meta["version"], row["created_at"], baselines)
        record_run(con, row, make_current=keep)
    finally:
        con.close()
