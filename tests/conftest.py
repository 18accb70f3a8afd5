"""Test fixtures: the real migrations once per session, a savepoint per test.

SQLite by default; PostgreSQL when ``CAIRN_TEST_DATABASE_URL`` is set (``.ci/run`` runs the whole
suite once on each). Tests that start real Cairn processes use ``live_database_url``: a separate,
freshly migrated database that they may commit to.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from cairn import create_app, migrate
from cairn.db import make_engine

POSTGRES_URL = os.environ.get("CAIRN_TEST_DATABASE_URL")


def _postgres_admin(url: str) -> tuple[Engine, str]:
    from sqlalchemy.engine import make_url
    parsed = make_url(url)
    admin = make_engine(parsed.set(database="postgres").render_as_string(hide_password=False),
                        isolation_level="AUTOCOMMIT")
    return admin, str(parsed.database)


def reset_database(url: str) -> Engine:
    """An engine on an empty, freshly migrated database at ``url`` (created if missing)."""
    if url.startswith("postgresql"):
        admin, name = _postgres_admin(url)
        with admin.connect() as connection:
            exists = connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                        {"n": name}).first()
            if not exists:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    migrate.upgrade(engine)
    return engine


def fresh_database_url(tmp_dir: Path, name: str) -> str:
    """A URL for a new empty database named ``name``, of the kind this run tests."""
    if POSTGRES_URL:
        from sqlalchemy.engine import make_url
        admin, base_name = _postgres_admin(POSTGRES_URL)
        database = f"{base_name}_{name}"
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{database}"'))
        admin.dispose()
        return make_url(POSTGRES_URL).set(database=database).render_as_string(hide_password=False)
    return f"sqlite:///{(tmp_dir / f'{name}.db').as_posix()}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return POSTGRES_URL or f"sqlite:///{(tmp_path_factory.mktemp('db') / 'test.db').as_posix()}"


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = reset_database(database_url)
    yield engine
    engine.dispose()


@pytest.fixture()
def connection(engine: Engine) -> Iterator[Connection]:
    """A connection whose outer transaction is rolled back after the test."""
    connection = engine.connect()
    transaction = connection.begin()
    yield connection
    transaction.rollback()
    if connection.dialect.name == "postgresql":
        # The numbers and the newest ``stored`` handed out are kept in sequences, which no rollback
        # undoes: the next test would start after a gap (which the projection reads back), or at the
        # time a test moved ahead (a clock stepping back).
        connection.execute(text("SELECT setval('lrs_statement_numbers', 1, false), "
                                "setval('lrs_stored_clock', 0)"))
        connection.commit()
    connection.close()


def make_test_app(database_url: str, **overrides: Any) -> Flask:
    config = {"DATABASE_URL": database_url, "SECRET_KEY": "test-secret", "TESTING": True, "ENV": "test",
              "AUTO_UPGRADE": False, "SKIP_SCHEMA_CHECK": True, "BASE_URL": "http://localhost",
              "WTF_CSRF_ENABLED": True}
    config.update(overrides)
    return create_app(config)


@pytest.fixture()
def app(database_url: str, connection: Connection) -> Flask:
    app = make_test_app(database_url)
    app.extensions["cairn.db"].bind_to(connection)
    return app


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture()
def db_session(app: Flask) -> Iterator[Session]:
    """A session on the test's connection (commit releases a savepoint).

    It pushes no app context: one left pushed would be shared by the test client's requests,
    and with it ``g``.
    """
    session = app.extensions["cairn.db"].session_factory()()
    yield session
    session.close()


@pytest.fixture()
def dialect(engine: Engine) -> str:
    return engine.dialect.name


@pytest.fixture()
def few_sqlite_parameters(connection: Connection) -> Iterator[int]:
    """On SQLite, the test's connection takes only 999 parameters a statement, as older builds do
    (others take 32,766 or 250,000); yields the most any database here takes in one statement
    (PostgreSQL: 65,535), so that a test can go past it."""
    if connection.dialect.name != "sqlite":
        yield 65_535
        return
    import sqlite3
    raw = connection.connection.driver_connection
    before = raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    raw.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)
    yield 999
    raw.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, before)
