"""The output contract and its atomic commit.

Rows: the input id column, `anomaly_score` (DOUBLE, NULL where the text is NULL),
`model_version`, `scored_at` (one UTC timestamp per run) and `text_hash` (md5 hex of the
scored text, equal to DuckDB's `md5(session_text)`, so dbt can tell whether a session's text
changed since it was scored). Files are written into a hidden sibling staging directory and
renamed into place only after the row count has been checked, so readers see either no
output or the whole of it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from pathlib import Path

MANIFEST = "_duckbert_manifest.json"


class OutputError(ValueError):
    """The output directory cannot be used (not empty without overwrite, a file, ...)."""


def output_schema(id_field):
    import pyarrow as pa

    return pa.schema([
        pa.field(id_field.name, id_field.type),
        pa.field("anomaly_score", pa.float64()),
        pa.field("model_version", pa.string()),
        pa.field("scored_at", pa.timestamp("us", tz="UTC")),
        pa.field("text_hash", pa.string()),
    ])


def text_hash(text: str | None) -> str | None:
    return None if text is None else hashlib.md5(text.encode("utf-8")).hexdigest()


def score_table(scorer, table, id_col: str, text_col: str, version: str, scored_at):
    """Score one pyarrow Table (or RecordBatch) into the output schema; both engines use it."""
    import pyarrow as pa

    texts = table.column(text_col).to_pylist()
    scores = scorer.score(texts)
    n = len(texts)
    schema = output_schema(table.schema.field(id_col))
    return pa.table([
        table.column(id_col),
        pa.array(scores, type=pa.float64()),
        pa.array([version] * n, type=pa.string()),
        pa.array([scored_at] * n, type=pa.timestamp("us", tz="UTC")),
        pa.array([text_hash(t) for t in texts], type=pa.string()),
    ], schema=schema)


def check_output_dir(output_dir: str | Path, overwrite: bool) -> Path:
    """Absolute output path, refused early when it exists, is not empty and no overwrite."""
    text = str(output_dir)
    if "://" in text:
        raise OutputError(
            f"output {text} is a URI; write to a local or mounted shared filesystem path "
            "(the atomic commit is a directory rename)"
        )
    path = Path(text).expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise OutputError(f"output {path} exists and is not a directory")
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise OutputError(f"output directory {path} is not empty; pass --overwrite to replace it")
    return path


def new_staging(output_dir: Path) -> Path:
    """A hidden, unique sibling directory (same filesystem, so the final rename is atomic)."""
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = output_dir.parent / f".{output_dir.name}.staging-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    return staging


def parquet_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*.parquet") if p.is_file())


def count_output(directory: Path) -> tuple[int, int]:
    """(rows, NULL scores) of the Parquet files under `directory`, from footers only."""
    import pyarrow.parquet as pq

    rows = nulls = 0
    for path in parquet_files(directory):
        meta = pq.ParquetFile(path).metadata
        rows += meta.num_rows
        index = meta.schema.names.index("anomaly_score")
        stats = [meta.row_group(i).column(index).statistics for i in range(meta.num_row_groups)]
        if all(s is not None and s.has_null_count for s in stats):
            nulls += sum(s.null_count for s in stats)
        else:
            nulls += pq.read_table(path, columns=["anomaly_score"]).column(0).null_count
    return rows, nulls


def write_empty(directory: Path, schema) -> None:
    """One empty file, so `read_parquet('<dir>/*.parquet')` finds the schema, not nothing."""
    import pyarrow.parquet as pq

    pq.write_table(schema.empty_table(), directory / "part-00000.parquet")


def write_manifest(directory: Path, summary: dict) -> None:
    (directory / MANIFEST).write_text(json.dumps(summary, indent=2, sort_keys=True, default=str))


def commit(staging: Path, output_dir: Path, overwrite: bool) -> None:
    """Move the finished staging directory into place (replacing the old output if allowed)."""
    old = None
    if output_dir.exists():
        if not any(output_dir.iterdir()):
            output_dir.rmdir()
        elif overwrite:
            old = output_dir.parent / f".{output_dir.name}.old-{uuid.uuid4().hex[:8]}"
            output_dir.rename(old)
        else:
            raise OutputError(f"output directory {output_dir} is not empty (written meanwhile?)")
    try:
        staging.rename(output_dir)
    except BaseException:
        if old is not None:
            old.rename(output_dir)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def discard(staging: Path) -> None:
    shutil.rmtree(staging, ignore_errors=True)
