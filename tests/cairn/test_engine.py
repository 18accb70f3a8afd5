"""The engine's pool (PostgreSQL): a connection is checked before use only after it sat idle."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from cairn import db


@pytest.fixture
def engine(db_session):
    if db_session.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite's connections are files: there is no server to lose")
    url = db_session.get_bind().engine.url.render_as_string(hide_password=False)
    engine = db.make_engine(url, pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


def _pings(engine, monkeypatch) -> list[int]:
    pings: list[int] = []
    original = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda connection: pings.append(1) or original(connection))
    return pings


def _backend(engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(text("SELECT pg_backend_pid()"))


def test_a_connection_used_a_moment_ago_is_not_pinged_again(engine, monkeypatch) -> None:
    pings = _pings(engine, monkeypatch)
    first = _backend(engine)  # a new connection: it has just connected
    assert [_backend(engine) for _ in range(3)] == [first] * 3
    assert pings == []


def test_an_idle_connection_whose_server_side_ended_is_replaced_before_use(engine, monkeypatch) -> None:
    pings = _pings(engine, monkeypatch)
    first = _backend(engine)
    with db.make_engine(engine.url.render_as_string(hide_password=False)).connect() as other:
        other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)  # as if it had sat idle
    second = _backend(engine)  # no error: the ping failed and the pool connected anew
    assert second != first and len(pings) >= 1
