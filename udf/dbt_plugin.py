"""dbt-duckdb plugin: every connection and thread a dbt run opens can call anomaly_score().

Declared in profiles/profiles.yml:

    plugins:
      - module: udf.dbt_plugin
        config: {model: optional model dir or name}
"""

from __future__ import annotations

from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin


class Plugin(BasePlugin):
    """Registers the duckbert functions on the connection and its macros on each cursor."""

    def initialize(self, plugin_config: dict[str, Any]):
        from dbt.adapters.events.logging import AdapterLogger

        from udf.progress import set_sink

        self.model = plugin_config.get("model") or None
        # Scoring progress goes to dbt's own log: the log file and the terminal.
        set_sink(AdapterLogger("duckbert").info)

    def configure_connection(self, conn):
        from udf.sql_functions import register

        register(conn, model=self.model)

    def configure_cursor(self, cursor):
        from udf.sql_functions import create_macros

        create_macros(cursor)
