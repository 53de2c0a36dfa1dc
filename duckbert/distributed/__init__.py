"""Batch scoring of Parquet session exports, on one machine or on a Ray cluster.

`score_dataset(input_glob, output_dir, ...)` reads Parquet files with a session id and a
session text, scores every row with the same `Scorer` the SQL function uses, and writes
Parquet (id, anomaly_score, model_version, scored_at, text_hash) into `output_dir`
atomically. `engine="local"` streams record batches through one in-process scorer;
`engine="ray"` runs a Ray Data actor pool with one model load per actor. See
docs/DISTRIBUTED.md for the warehouse round trip (dbt export -> score -> merge).
"""

from duckbert.distributed.api import DistributedScoringError, score_dataset

__all__ = ["DistributedScoringError", "score_dataset"]
