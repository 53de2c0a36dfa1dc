"""SQL identifiers that come from users (table and column names) are validated, then quoted."""

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


def quote_table(name: str) -> str:
    """A table name, optionally schema- or catalog-qualified (a.b.c), each part quoted."""
    if not isinstance(name, str) or not _QUALIFIED.match(name) or len(name) > 255:
        raise ValueError(
            f"invalid table name {name!r}: use [catalog.][schema.]table with letters, digits "
            "and underscores"
        )
    return ".".join(f'"{part}"' for part in name.split("."))
