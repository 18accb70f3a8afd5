"""Storing a batch costs a bounded number of SQL statements, not one per statement (issue 8)."""
from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import Session

from benchmarks.generator import VOIDED, StatementGenerator
from lrs import services
from tests.lrs.conftest import AUTHORITY


def _count_selects(session: Session, work) -> tuple[int, object]:
    selects: list[str] = []
    connection = session.connection()

    def count(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append(statement)

    event.listen(connection, "before_cursor_execute", count)
    try:
        result = work()
    finally:
        event.remove(connection, "before_cursor_execute", count)
    return len(selects), result


def test_storing_100_statements_reads_back_none_of_them_one_by_one(db_session: Session) -> None:
    batch = StatementGenerator(seed=11).statements(0, 100)
    selects, stored = _count_selects(db_session, lambda: services.store_statements(
        db_session, batch, authority=AUTHORITY))
    assert [s.id for s in stored] == [s["id"] for s in batch]
    assert selects < 20, f"{selects} SELECTs to store 100 statements"


def test_without_a_reload_the_stored_batch_still_reports_what_voiding_did(db_session: Session) -> None:
    gen = StatementGenerator(seed=12)
    target, other = gen.statement(1), gen.statement(2)
    void = {"actor": target["actor"], "verb": {"id": VOIDED}, "object": {"objectType": "StatementRef",
                                                                          "id": other["id"]}}
    services.store_statements(db_session, [void], authority=AUTHORITY)
    # ``other`` arrives after the statement voiding it: voided from the start, and reported so.
    stored = services.store_statements(db_session, [target, other], authority=AUTHORITY)
    assert [s.voided for s in stored] == [False, True]
    assert services.get_statement(db_session, other["id"]) is None
    assert services.get_statement(db_session, other["id"], voided=True) is not None
