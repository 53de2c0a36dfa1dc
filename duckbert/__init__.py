"""duckbert: BERT anomaly detection for e-commerce sessions, inside a DuckDB warehouse.

The product around the two libraries: the `duckbert` command line, loading raw files, dbt
runs, the demo, report, export, labels, batch scoring (local and Ray), the synthetic data
generator and the benchmarks. `udf` is the runtime a DuckDB connection needs to call
anomaly_score(); `training` fits the models it serves. Imports run duckbert -> training -> udf.
"""

__version__ = "0.1.0"


def register(con, model=None):
    """Register the SQL functions (anomaly_score and friends) on `con`: `udf.register`."""
    import udf

    return udf.register(con, model=model)


__all__ = ["register", "__version__"]
