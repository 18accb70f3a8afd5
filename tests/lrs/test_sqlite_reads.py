"""SQLite: a statement query reads without the write lock, so it does not hold up the stores."""
from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import select

from cairn.db import get_session
from lrs.http import read_only_request
from lrs.models import Statement
from tests.conftest import POSTGRES_URL, fresh_database_url, make_test_app, reset_database

pytestmark = pytest.mark.skipif(bool(POSTGRES_URL), reason="SQLite's write lock; PostgreSQL has none")


@pytest.fixture
def sqlite_app(tmp_path):
    engine = reset_database(fresh_database_url(tmp_path, "reads"))
    path = engine.url.database
    engine.dispose()
    app = make_test_app(f"sqlite:///{path}")
    yield app, path
    app.extensions["cairn.db"].dispose()


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


def test_a_read_only_request_leaves_the_write_lock_free(sqlite_app) -> None:
    app, path = sqlite_app
    with app.test_request_context("/xapi/statements"):
        read_only_request()
        get_session().scalars(select(Statement.sequence).limit(1)).all()  # its transaction has begun
        assert _can_write_meanwhile(path)


def test_any_other_request_takes_the_write_lock_when_it_begins(sqlite_app) -> None:
    app, path = sqlite_app
    with app.test_request_context("/xapi/statements", method="POST"):
        get_session().scalars(select(Statement.sequence).limit(1)).all()
        assert not _can_write_meanwhile(path)
