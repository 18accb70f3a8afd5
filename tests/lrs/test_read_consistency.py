"""A statement query reads without the write lock (SQLite), and what it says is consistent stays true."""
from __future__ import annotations

import sqlite3
import threading
import time
from datetime import datetime

import pytest
from sqlalchemy import select

from cairn.db import get_session
from lrs import services
from lrs.http import read_only_request
from lrs.models import Statement
from tests.conftest import POSTGRES_URL, fresh_database_url, make_test_app, reset_database

sqlite_only = pytest.mark.skipif(bool(POSTGRES_URL), reason="SQLite's write lock; PostgreSQL has none")


@pytest.fixture
def sqlite_app(tmp_path):
    engine = reset_database(fresh_database_url(tmp_path, "reads"))
    path = engine.url.database
    engine.dispose()
    app = make_test_app(f"sqlite:///{path}")
    yield app, path
    app.extensions["cairn.db"].dispose()


@pytest.fixture
def any_app(tmp_path):
    engine = reset_database(fresh_database_url(tmp_path, "consistent"))
    app = make_test_app(engine.url.render_as_string(hide_password=False))
    yield app
    app.extensions["cairn.db"].dispose()
    engine.dispose()


def _can_write_meanwhile(path: str) -> bool:
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc)
        return False
    finally:
        other.close()


@sqlite_only
def test_a_read_only_request_leaves_the_write_lock_free(sqlite_app) -> None:
    app, path = sqlite_app
    with app.test_request_context("/xapi/statements"):
        read_only_request()
        get_session().scalars(select(Statement.sequence).limit(1)).all()  # its transaction has begun
        assert _can_write_meanwhile(path)


@sqlite_only
def test_any_other_request_takes_the_write_lock_when_it_begins(sqlite_app) -> None:
    app, path = sqlite_app
    with app.test_request_context("/xapi/statements", method="POST"):
        get_session().scalars(select(Statement.sequence).limit(1)).all()
        assert not _can_write_meanwhile(path)


AUTHORITY = {"objectType": "Agent", "mbox": "mailto:authority@example.org"}


def _statement(n: int) -> dict:
    return {"actor": {"mbox": f"mailto:learner{n}@example.org"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
            "object": {"id": f"http://example.org/activity/{n}"}}


def test_no_statement_stored_up_to_consistent_through_is_missing_from_the_answer(any_app) -> None:
    """X-Experience-API-Consistent-Through (xAPI 1.0.3 Communication 2.1.3) with a store in flight:
    PostgreSQL answers without it and a moment before it; SQLite waits for it, then reads it."""
    app = any_app
    factory = app.extensions["cairn.db"].session_factory()
    with app.app_context(), factory() as session:
        first = services.store_statements(session, [_statement(1)], authority=AUTHORITY)[0]
        session.commit()
    in_flight: dict[str, object] = {}
    read: dict[str, object] = {}
    stored, release = threading.Event(), threading.Event()

    def store() -> None:
        with app.app_context(), factory() as writer:
            in_flight["statement"] = services.store_statements(writer, [_statement(2)],
                                                               authority=AUTHORITY)[0]
            stored.set()
            release.wait(30)
            writer.commit()

    def query() -> None:
        with app.test_request_context("/xapi/statements"):
            read_only_request()
            session = get_session()
            read["ids"] = set(session.scalars(select(Statement.statement_id)).all())
            read["moment"] = services.consistent_through(session)

    writer, reader = threading.Thread(target=store), threading.Thread(target=query)
    writer.start()
    try:
        assert stored.wait(30)
        reader.start()
        time.sleep(0.5)  # the query reads (PostgreSQL) or waits for the store (SQLite) meanwhile
    finally:
        release.set()
        writer.join(30)
        reader.join(30)
    second = in_flight["statement"]
    moment = read["moment"]
    assert isinstance(moment, datetime)
    assert first.id in read["ids"]
    assert second.id in read["ids"] or moment < second.stored
    if POSTGRES_URL:
        assert second.id not in read["ids"]
    else:
        assert second.id in read["ids"]


def test_consistent_through_passes_every_statement_once_no_store_is_in_flight(any_app) -> None:
    """Clients (the ADL conformance suite among them) wait for the header to pass what they stored."""
    app = any_app
    factory = app.extensions["cairn.db"].session_factory()
    with app.app_context(), factory() as session:
        last = services.store_statements(session, [_statement(1), _statement(2)], authority=AUTHORITY)[-1]
        session.commit()
    time.sleep(0.002)  # stored has millisecond precision; the header is the millisecond before its moment
    with app.test_request_context("/xapi/statements"):
        read_only_request()
        assert services.consistent_through(get_session()) >= last.stored
