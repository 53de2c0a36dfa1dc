"""The dbt macro's copy of the raw data contract (macros/raw_relations.sql, duckbert_contract)
is the contract of duckbert/raw_contract.py: same tables, columns, types and required flags."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest

from duckbert.raw_contract import TABLES

MACROS = Path(__file__).resolve().parents[3] / "macros" / "raw_relations.sql"


class _Returned(Exception):
    def __init__(self, value):
        self.value = value


def _return(value):
    raise _Returned(value)


def _call(macro: str, *args):
    """Call one macro of the file with plain Jinja (dbt's `return` emulated)."""
    env = jinja2.Environment(extensions=["jinja2.ext.do"])
    module = env.from_string(MACROS.read_text(), globals={"return": _return}).module
    try:
        getattr(module, macro)(*args)
    except _Returned as returned:
        return returned.value
    raise AssertionError(f"{macro} returned nothing")


@pytest.mark.parametrize("table", sorted(TABLES))
def test_the_macro_contract_is_raw_contract_py(table):
    expected = [(c.name, c.sql_type, c.required) for c in TABLES[table].columns]
    assert [tuple(c) for c in _call("duckbert_contract", table)] == expected
    assert [tuple(g) for g in _call("duckbert_contract_one_of", table)] == list(
        TABLES[table].one_of)


def test_the_macros_folder_is_the_package_folder():
    assert MACROS.resolve().parent == MACROS.parents[1] / "dbt_project" / "macros"
