"""SQL names and literals that come from users: the one place they are validated and quoted.

Table and column names given as options are validated, then quoted (`quote_identifier`,
`quote_table`); names read from data (file headers) and string values are escaped
(`quote_name`, `quote_literal`).
"""

from __future__ import annotations

import re

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_QUALIFIED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,2}$")


def quote_identifier(name: str) -> str:
    """`name` as a double-quoted DuckDB identifier; refuses anything but [A-Za-z0-9_]."""
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        raise ValueError(
            f"invalid SQL identifier {name!r}: use letters, digits and underscores only"
        )
    return f'"{name}"'


def quote_name(name: str) -> str:
    """Any name (e.g. a column of a user's file header) as a DuckDB identifier: "" escaped.

    For names that are data, not commands: nothing is refused, everything is quoted.
    """
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """`text` as a SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def quote_table(name: str) -> str:
    """A table name, optionally schema- or catalog-qualified (a.b.c), each part quoted."""
    if not isinstance(name, str) or not _QUALIFIED.match(name) or len(name) > 255:
        raise ValueError(
            f"invalid table name {name!r}: use [catalog.][schema.]table with letters, digits "
            "and underscores"
        )
    return ".".join(f'"{part}"' for part in name.split("."))
