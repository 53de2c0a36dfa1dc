"""duckbert runtime: score e-commerce sessions with a fine-tuned BERT from DuckDB SQL.

`udf.register(con)` puts the SQL surface (anomaly_score and friends) on a DuckDB connection.
Heavy libraries (torch, transformers) load only when a function is first called.
"""

__version__ = "0.1.0"


def register(con, model=None):
    """Register the duckbert SQL functions on `con`; see udf.sql_functions.register."""
    from udf.sql_functions import register as _register

    return _register(con, model=model)


__all__ = ["register", "__version__"]
