"""``cairn.db.copy_rows``: the COPY stream both the store and the projection write through (PostgreSQL)."""
from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from cairn.db import copy_rows
from pathways.models import ProgressVoid

COPY_VOIDS = "COPY progress_voids (target_id, voiding_id) FROM STDIN"


@pytest.fixture
def pg(db_session):
    if db_session.get_bind().dialect.name != "postgresql":
        pytest.skip("COPY is PostgreSQL's")
    return db_session.connection()


def _voids(db_session) -> list[tuple[str, str]]:
    return [tuple(row) for row in db_session.execute(
        select(ProgressVoid.target_id, ProgressVoid.voiding_id).order_by(ProgressVoid.target_id))]


def test_rows_are_written_in_text_or_binary_form(db_session, pg) -> None:
    copy_rows(pg, COPY_VOIDS, iter([("a", "x"), ("b", "y")]))
    copy_rows(pg, f"{COPY_VOIDS} (FORMAT BINARY)", [("c", "z")], types=("varchar", "varchar"))
    assert _voids(db_session) == [("a", "x"), ("b", "y"), ("c", "z")]


def test_a_failed_copy_raises_sqlalchemys_error_as_an_execute_would(db_session, pg) -> None:
    copy_rows(pg, COPY_VOIDS, [("a", "x")])
    savepoint = db_session.begin_nested()
    with pytest.raises(IntegrityError) as raised:
        copy_rows(db_session.connection(), COPY_VOIDS, [("b", "y"), ("a", "again")])
    assert "pk_progress_voids" in str(raised.value) and raised.value.statement == COPY_VOIDS
    savepoint.rollback()
    assert _voids(db_session) == [("a", "x")]  # nothing of the failed stream was kept
