"""The UDF package: everything a DuckDB connection needs to call anomaly_score() and friends.

`udf.register(con)` puts the SQL surface on a connection; `udf.dbt_plugin` does it for every
connection of a dbt run. Artifact loading, tokenizer, encoder and heads, device and precision,
scorer and caches, explanations. It imports neither `training` nor `duckbert`. Heavy libraries
(torch, transformers) load only when a function is first called.
"""


def register(con, model=None):
    """Register the duckbert SQL functions on `con`; see udf.sql_functions.register."""
    from udf.sql_functions import register as _register

    return _register(con, model=model)


__all__ = ["register"]
