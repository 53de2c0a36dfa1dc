"""The benchmarks' warehouse: generated data -> `duckbert load` -> `dbt build`, with no model.

One builder for every benchmark. A warehouse may hold several generated parts (say, users of
the standard catalogue and users of the shifted one); each part is generated into its own
folder and loaded as its own files. With `reuse`, a warehouse already built from the same
parts (recorded in `parts.json` next to it) is kept, so a rerun costs no generation, load or
build, and the embedding store next to it stays warm.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path


def build_warehouse_parts(work_dir: Path, parts: list[dict], log=print,
                          reuse: bool = False) -> Path:
    """Build `work_dir/warehouse.duckdb` from `parts` (keyword arguments of
    duckbert.synthetic.generate, each with a `name`); returns the warehouse path."""
    from duckbert.dbt_runner import dbt_build
    from duckbert.loader import load
    from duckbert.synthetic import DEFAULT_DIFFICULTY, generate
    from udf.connect import connect_warehouse

    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    db, record = work_dir / "warehouse.duckdb", work_dir / "parts.json"
    wanted = json.dumps(parts, sort_keys=True)
    if reuse and db.exists() and record.exists() and record.read_text() == wanted:
        log(f"  reusing the warehouse {db} (built from the same generator settings)")
        return db
    for stale in (db, record, work_dir / "warehouse.duckdb.wal"):
        stale.unlink(missing_ok=True)
    con = connect_warehouse(db)
    try:
        for part in parts:
            options = {k: v for k, v in part.items() if k != "name"}
            if options.get("difficulty") is None:
                options["difficulty"] = DEFAULT_DIFFICULTY
            data_dir = work_dir / "data" / part["name"]
            shutil.rmtree(data_dir, ignore_errors=True)
            summary = generate(data_dir, **options)
            log(f"  generated {part['name']}: {summary['sessions']} sessions of "
                f"{summary['users']} users (difficulty {summary['difficulty']}, "
                f"{summary['anomaly_rate']:.1%} anomalous)")
            load(con, events=str(data_dir / "events.csv"),
                 reviews=str(data_dir / "reviews.csv"), labels=str(data_dir / "labels.csv"))
    finally:
        con.close()
    # No model during this build, whatever the caller's environment says.
    with open(work_dir / "dbt_setup.log", "w", encoding="utf-8") as out:
        result = dbt_build(db, out=out, colors=False, env={"DUCKBERT_MODEL": ""})
    if not result.ok:
        raise RuntimeError("dbt build of the benchmark warehouse failed:\n"
                           + "\n".join(result.tail[-15:]))
    record.write_text(wanted)
    return db
