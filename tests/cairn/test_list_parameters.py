"""List parameters (``cairn.db.Among``, ``cairn.db.in_values``) reach the database as they are."""
from __future__ import annotations

from collections.abc import Iterable

import pytest
from sqlalchemy import Integer, String, bindparam, column, func, select, table, text
from sqlalchemy.dialects.postgresql import ARRAY

from cairn import db


@pytest.mark.parametrize("values", [
    [], ["plain"], ["with,comma", 'with"quote', "with\\backslash", "{braces}", "NULL", " spaced "],
    ["é ü 漢字", "x" * 300],
])
def test_list_parameters_reach_the_server_as_they_are(db_session, values) -> None:
    """``Among``'s lists (sent in the binary array format on PostgreSQL) match exactly their values."""
    dialect = db_session.get_bind().dialect.name
    rows = [{"v": v} for v in ["plain", "with,comma", 'with"quote', "with\\backslash", "{braces}", "NULL",
                               " spaced ", "é ü 漢字", "x" * 300, "other"]]
    name = "among_probe"
    db_session.execute(text(f"CREATE TEMPORARY TABLE {name} (v varchar(400))"))
    db_session.execute(text(f"INSERT INTO {name} (v) VALUES (:v)"), rows)
    probe = table(name, column("v", String))
    among = db.Among(dialect)
    found = db_session.scalars(select(probe.c.v).where(among(probe.c.v)), {"ids": values}).all()
    assert sorted(found) == sorted(values)
    looked_up = db_session.execute(select(among.rows(probe.c.v, key=probe.c.v)),
                                   {"ids": values}).scalars().all()
    assert sorted(looked_up) == sorted(values)
    if dialect == "postgresql":  # integers too (SQLite has no arrays: its lists are expanded IN lists)
        numbers = db_session.scalars(select(func.unnest(bindparam("n", type_=ARRAY(Integer)))),
                                     {"n": [1, 2**31 - 1, -5]}).all()
        assert numbers == [1, 2**31 - 1, -5]


@pytest.mark.parametrize("kind", ["integers", "strings"])
def test_in_values_is_one_parameter_past_what_a_statement_takes(db_session, few_sqlite_parameters,
                                                                  kind) -> None:
    """``in_values``: past the parameters a statement takes (PostgreSQL 65,535; SQLite 999 here), one
    parameter: an array on PostgreSQL, JSON on SQLite, whose values come back with their types."""
    name = "in_values_probe"
    db_session.execute(text(f"CREATE TEMPORARY TABLE {name} (n integer, s varchar(40))"))
    db_session.execute(text(f"INSERT INTO {name} (n, s) VALUES (:n, :s)"),
                       [{"n": n, "s": f"v{n}"} for n in (1, 7, 10**6 + 5, 2**31 - 1)])
    probe = table(name, column("n", Integer), column("s", String))
    many = range(10**6, 10**6 + few_sqlite_parameters + 1)
    picked = probe.c.n if kind == "integers" else probe.c.s

    def found(values: list) -> list:
        return sorted(db_session.scalars(select(probe.c.n).where(db.in_values(picked, values))))

    def of(numbers: Iterable[int]) -> list:
        return list(numbers) if kind == "integers" else [f"v{n}" for n in numbers]

    assert found(of([*many, 7, 2**31 - 1])) == [7, 10**6 + 5, 2**31 - 1]
    assert found(of([1, 1, 7])) == [1, 7]  # the same statement again, other values (its cached form)
    assert found([]) == []
    assert found(of([*many])) == [10**6 + 5]
