"""Batches stored side by side on PostgreSQL still commit in sequence order, and lose nothing.

Each test runs real transactions on their own connections (a thread for each that must wait),
on a database of its own that they commit to.
"""
from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from lrs import services
from lrs.errors import StatementConflict
from lrs.models import Statement
from tests.conftest import POSTGRES_URL, fresh_database_url, make_test_app, reset_database

pytestmark = pytest.mark.skipif(not POSTGRES_URL,
                                reason="SQLite has one writer at a time: nothing side by side")

AUTHORITY = {"objectType": "Agent", "mbox": "mailto:authority@example.org"}
VOIDED = "http://adlnet.gov/expapi/verbs/voided"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    engine = reset_database(fresh_database_url(tmp_path_factory.mktemp("side"), "side_by_side"))
    app = make_test_app(engine.url.render_as_string(hide_password=False))
    yield app
    app.extensions["cairn.db"].dispose()
    engine.dispose()


def _session(app: Flask) -> Session:
    return app.extensions["cairn.db"].session_factory()()


def _statement(**overrides: Any) -> dict:
    statement = {"id": str(uuid.uuid4()), "actor": {"mbox": "mailto:learner@example.org"},
                 "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
                 "object": {"id": f"http://example.org/activity/{uuid.uuid4()}"}}
    statement.update(overrides)
    return statement


def _voiding(target: str) -> dict:
    return _statement(verb={"id": VOIDED}, object={"objectType": "StatementRef", "id": target})


def _side_by_side(session: Session, statements: list[dict]) -> list[services.StoredStatement]:
    """As the xAPI resource stores: its transaction ends with the store."""
    return services.store_statements(session, statements, authority=AUTHORITY, subscribers_after_commit=True)


class _Later(threading.Thread):
    """``work(session)`` and a commit on a connection of its own, in a thread; ``result`` or ``error``."""

    def __init__(self, app: Flask, work: Callable[[Session], Any]) -> None:
        super().__init__(daemon=True)
        self.app, self.work = app, work
        self.result: Any = None
        self.error: BaseException | None = None
        self.pid: int | None = None

    def run(self) -> None:
        with _session(self.app) as session:
            self.pid = session.scalar(text("SELECT pg_backend_pid()"))
            try:
                self.result = self.work(session)
                session.commit()
            except BaseException as exc:  # noqa: BLE001 - reported to the test
                self.error = exc
                try:
                    session.rollback()
                except Exception:  # noqa: BLE001 - a connection the test cut
                    session.invalidate()

    def outcome(self) -> Any:
        self.join(20)
        assert not self.is_alive(), "still waiting"
        if self.error is not None:
            raise self.error
        return self.result


def _waiting(app: Flask, later: _Later, locktype: str = "advisory", timeout: float = 10) -> bool:
    """Whether ``later``'s connection is (or comes to be, within ``timeout``) waiting for a lock of
    ``locktype``: a ticket (advisory), or a row another transaction is inserting (transactionid)."""
    deadline = time.monotonic() + timeout
    with _session(app) as session:
        while time.monotonic() < deadline:
            if later.pid is not None and session.scalar(text(
                    "SELECT count(*) FROM pg_locks WHERE pid = :pid AND NOT granted "
                    "AND locktype = :locktype"), {"pid": later.pid, "locktype": locktype}):
                return True
            session.rollback()
            time.sleep(0.02)
    return False


def _visible(app: Flask, ids: list[str]) -> dict[str, Any]:
    with _session(app) as session:
        rows = session.execute(select(Statement.statement_id, Statement.sequence, Statement.voided)
                               .where(Statement.statement_id.in_(ids))).all()
        return {row.statement_id: row for row in rows}


def test_a_batch_is_written_while_the_one_before_is_in_flight_and_commits_after_it(app: Flask) -> None:
    first_batch = [_statement() for _ in range(3)]
    second_batch = [_statement() for _ in range(3)]
    with _session(app) as first:
        stored_first = _side_by_side(first, first_batch)
        later = _Later(app, lambda s: _side_by_side(s, second_batch))
        later.start()
        # It wrote its rows (nothing of it stands between it and its wait) and waits for the first.
        assert _waiting(app, later)
        assert later.is_alive() and _visible(app, [s["id"] for s in second_batch]) == {}
        first.commit()
    stored_second = later.outcome()
    assert min(s.sequence for s in stored_second) > max(s.sequence for s in stored_first)
    assert min(s.stored for s in stored_second) >= max(s.stored for s in stored_first)
    assert len(_visible(app, [s["id"] for s in first_batch + second_batch])) == 6


def test_a_batch_that_ends_early_does_not_let_a_later_one_commit_before_an_earlier_one(app: Flask) -> None:
    """Each batch waits for every batch numbered before it, not just the one before: that one may
    end without waiting (here its worker's connection is cut while it waits)."""
    batches = [[_statement()] for _ in range(3)]
    with _session(app) as first:
        _side_by_side(first, batches[0])
        second = _Later(app, lambda s: _side_by_side(s, batches[1]))
        second.start()
        assert _waiting(app, second)
        third = _Later(app, lambda s: _side_by_side(s, batches[2]))
        third.start()
        assert _waiting(app, third)
        with _session(app) as admin:
            assert admin.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": second.pid})
        second.join(10)
        assert second.error is not None
        time.sleep(0.3)
        assert third.is_alive(), "the third committed while the first was still in flight"
        first.commit()
    third.outcome()
    ids = [b[0]["id"] for b in batches]
    found = _visible(app, ids)
    assert set(found) == {ids[0], ids[2]} and found[ids[2]].sequence > found[ids[0]].sequence


@pytest.mark.parametrize("target_first", [True, False], ids=["target first", "voiding first"])
def test_a_voiding_statement_stored_beside_its_target_voids_it(app: Flask, target_first: bool) -> None:
    target = _statement()
    voiding = _voiding(target["id"])
    first_batch, second_batch = ([target], [voiding]) if target_first else ([voiding], [target])
    with _session(app) as first:
        _side_by_side(first, first_batch)
        later = _Later(app, lambda s: _side_by_side(s, second_batch))
        later.start()
        assert _waiting(app, later)
        first.commit()
    stored = later.outcome()
    found = _visible(app, [target["id"], voiding["id"]])
    assert found[target["id"]].voided and not found[voiding["id"]].voided
    if not target_first:
        assert stored[0].voided  # as the answer to its request says


def test_the_same_statement_sent_twice_side_by_side_is_stored_once(app: Flask) -> None:
    statement = _statement()
    with _session(app) as first:
        stored_first = _side_by_side(first, [statement])
        later = _Later(app, lambda s: _side_by_side(s, [dict(statement)]))
        later.start()
        assert _waiting(app, later, "transactionid")
        first.commit()
    stored_again = later.outcome()
    assert stored_again[0].sequence == stored_first[0].sequence
    with _session(app) as session:
        assert session.scalar(select(Statement.sequence).where(
            Statement.statement_id == statement["id"])) == stored_first[0].sequence


def test_the_same_id_with_other_content_side_by_side_conflicts(app: Flask) -> None:
    statement = _statement()
    other = {**_statement(), "id": statement["id"]}
    with _session(app) as first:
        _side_by_side(first, [statement])
        later = _Later(app, lambda s: _side_by_side(s, [other]))
        later.start()
        assert _waiting(app, later, "transactionid")  # its insert waits for the first's row
        first.commit()
    with pytest.raises(StatementConflict):
        later.outcome()


def test_a_store_that_is_not_side_by_side_waits_for_the_batches_in_flight_before_it_reads(
        app: Flask) -> None:
    statement = _statement()
    with _session(app) as first:
        _side_by_side(first, [statement])
        # A page's store: it reads what the batch in flight stored, the voiding rule included.
        later = _Later(app, lambda s: services.store_statements(s, [_voiding(statement["id"])],
                                                                authority=AUTHORITY))
        later.start()
        assert _waiting(app, later)
        first.commit()
    later.outcome()
    assert _visible(app, [statement["id"]])[statement["id"]].voided


def test_consistent_through_stays_before_a_batch_in_flight(app: Flask) -> None:
    with _session(app) as first:
        stored = _side_by_side(first, [_statement()])
        with _session(app) as reader:
            assert services.consistent_through(reader) < stored[0].stored
        first.commit()
    with _session(app) as reader:
        assert services.consistent_through(reader) >= stored[0].stored


def test_a_store_cancelled_while_it_waits_leaves_no_lock_on_its_connection(app: Flask) -> None:
    with _session(app) as first:
        _side_by_side(first, [_statement()])
        with _session(app) as cancelled:
            pid = cancelled.scalar(text("SELECT pg_backend_pid()"))
            cancelled.execute(text("SET statement_timeout = 200"))
            # A page's store waits, under the sequence lock, for the batch in flight: cancelled.
            with pytest.raises(Exception, match="statement timeout"):
                services.store_statements(cancelled, [_statement()], authority=AUTHORITY)
            cancelled.rollback()
            held = cancelled.scalar(text("SELECT count(*) FROM pg_locks WHERE pid = :pid AND "
                                         "locktype = 'advisory'"), {"pid": pid})
            assert held == 0
            cancelled.execute(text("SET statement_timeout = 0"))
        first.commit()
    # The next store on any connection takes its numbers at once.
    with _session(app) as session:
        _side_by_side(session, [_statement()])
        session.commit()
