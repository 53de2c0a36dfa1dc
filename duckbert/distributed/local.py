"""engine="local": stream record batches through one in-process Scorer, in bounded memory.

Memory is a few record batches (pyarrow reads ahead one fragment and one batch) plus the
scorer's cache: never the whole input. Output files roll every `rows_per_file` rows.
"""

from __future__ import annotations

from pathlib import Path

from duckbert.distributed.output import output_schema, score_table


def run_local(dataset, staging: Path, model_dir: str, version: str, scored_at, *,
              id_col: str, text_col: str, batch_size: int, rows_per_file: int,
              device: str | None = None, precision: str | None = None) -> dict:
    """Score `dataset` (a pyarrow dataset) into Parquet files under `staging`."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from udf.scorer import get_scorer

    scorer = get_scorer(model_dir, device=device, precision=precision)
    if scorer.version != version:
        raise RuntimeError(f"{model_dir} changed while starting: version {scorer.version}, "
                           f"expected {version}")
    schema = output_schema(dataset.schema.field(id_col))
    scanner = dataset.scanner(columns=[id_col, text_col], batch_size=batch_size,
                              batch_readahead=1, fragment_readahead=1)
    writer = None
    part = rows_in_file = 0
    try:
        for batch in scanner.to_batches():
            if batch.num_rows == 0:
                continue
            table = score_table(scorer, pa.Table.from_batches([batch]), id_col, text_col,
                                version, scored_at)
            if writer is None:
                writer = pq.ParquetWriter(staging / f"part-{part:05d}.parquet", schema)
            writer.write_table(table)
            rows_in_file += table.num_rows
            if rows_in_file >= rows_per_file:
                writer.close()
                writer, part, rows_in_file = None, part + 1, 0
    finally:
        if writer is not None:
            writer.close()
    return {"workers": 1, "device": scorer.device, "precision": scorer.precision}
