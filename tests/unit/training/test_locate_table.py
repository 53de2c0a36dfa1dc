"""`locate_table`: training reads training_sessions wherever a dbt build put it."""

from __future__ import annotations

import pytest

from training.labelled import TrainingDataError, locate_table


def test_a_table_in_the_default_schema_is_used_as_named(con):
    con.execute("create table training_sessions as select 1 as x")
    con.execute("create schema analytics")
    con.execute("create table analytics.training_sessions as select 2 as x")
    assert locate_table(con, "training_sessions") == "training_sessions"


def test_a_table_only_in_another_schema_is_found_there(con):
    con.execute("create schema analytics")
    con.execute("create table analytics.training_sessions as select 2 as x")
    assert locate_table(con, "training_sessions") == "memory.analytics.training_sessions"
    assert locate_table(con, "analytics.training_sessions") == "analytics.training_sessions"


def test_several_candidates_are_an_error_that_lists_them(con):
    for schema in ("analytics", "staging"):
        con.execute(f"create schema {schema}")
        con.execute(f"create table {schema}.training_sessions as select 1 as x")
    with pytest.raises(TrainingDataError, match=(
            r"several tables are named 'training_sessions' \(memory.analytics.training_sessions, "
            r"memory.staging.training_sessions\); pass --table")):
        locate_table(con, "training_sessions")


def test_a_missing_table_is_left_for_read_sessions_to_name(con):
    assert locate_table(con, "training_sessions") == "training_sessions"


@pytest.mark.parametrize("name", ["x; drop table t", 'a"b', "a.b.c.d"])
def test_names_are_validated_before_any_sql(con, name):
    with pytest.raises(ValueError, match="invalid table name"):
        locate_table(con, name)
