"""``cairn.db.read_built``: a built-once read run on the driver's cursor (PostgreSQL) or by ``execute``."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import func, literal, select
from sqlalchemy.exc import DBAPIError

from cairn.db import Among, read_built
from pathways.models import ProgressFact
from tests.sql_seen import statements_run

WHEN = datetime(2026, 3, 1, 12, 30, tzinfo=timezone(timedelta(hours=2)))


def _facts(among: Among) -> Any:
    return select(ProgressFact.statement_id, ProgressFact.timestamp, ProgressFact.score_scaled,
                  ProgressFact.success, literal("fact").label("kind")) \
        .where(among(ProgressFact.statement_id)).order_by(ProgressFact.sequence)


def _failing(among: Among) -> Any:
    return select(func.cast(ProgressFact.verb, ProgressFact.sequence.type)) \
        .where(among(ProgressFact.statement_id))


def _expanding(among: Among) -> Any:
    return select(ProgressFact.statement_id).where(ProgressFact.statement_id.in_(["a", "b"]))


def _fact(statement_id: str, sequence: int, score: float | None) -> ProgressFact:
    return ProgressFact(statement_id=statement_id, sequence=sequence, identity_kind="mbox",
                        identity_value="mailto:a@example.org", verb="https://v.example/done",
                        activity_iri="https://a.example/1", timestamp=WHEN, score_scaled=score,
                        success=score is not None)


def test_rows_come_by_position_and_by_name_with_the_columns_types(db_session) -> None:
    db_session.add_all([_fact("s-1", 1, 0.75), _fact("s-2", 2, None), _fact("s-3", 3, 1.0)])
    # Not flushed: the read flushes first, as an ORM execute does.
    rows = read_built(db_session, _facts, {"ids": ["s-2", "s-1", "s-9"]})
    assert [tuple(row) for row in rows] == [("s-1", WHEN, 0.75, True, "fact"),
                                            ("s-2", WHEN, None, False, "fact")]
    first = rows[0]
    assert first.statement_id == "s-1" and first.kind == "fact" and first[2] == 0.75
    assert first.timestamp.tzinfo is not None and first.timestamp.astimezone(UTC) == WHEN
    assert isinstance(first.score_scaled, float)
    assert read_built(db_session, _facts, {"ids": []}) == []


def test_the_connections_cursor_events_hear_it(db_session) -> None:
    db_session.add(_fact("s-1", 1, 0.5))
    db_session.flush()
    seen, _ = statements_run(db_session, lambda: read_built(db_session, _facts, {"ids": ["s-1"]}))
    assert len(seen) == 1 and "progress_facts" in seen[0]


def test_a_failing_read_raises_sqlalchemys_error(db_session) -> None:
    db_session.add(_fact("s-1", 1, 0.5))
    db_session.flush()
    if db_session.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite casts any text to an integer")
    savepoint = db_session.begin_nested()
    with pytest.raises(DBAPIError) as raised:
        read_built(db_session, _failing, {"ids": ["s-1"]})
    assert "invalid input syntax" in str(raised.value)
    savepoint.rollback()


def test_an_expanding_list_is_refused_on_postgresql(db_session) -> None:
    if db_session.get_bind().dialect.name != "postgresql":
        pytest.skip("on SQLite read_built is execute, which expands lists")
    with pytest.raises(ValueError, match="Among"):
        read_built(db_session, _expanding, {})
