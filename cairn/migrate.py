"""Alembic, driven from code: upgrade, and tell whether a database is at head."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(connection: Connection | None = None, url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def is_up_to_date(engine: Engine) -> bool:
    with engine.connect() as connection:
        return current_revision(connection) == head_revision()


def upgrade(engine_or_connection: Engine | Connection, revision: str = "head") -> None:
    """Bring the database to ``revision`` (head by default)."""
    if isinstance(engine_or_connection, Engine):
        with engine_or_connection.begin() as connection:
            command.upgrade(alembic_config(connection), revision)
    else:
        command.upgrade(alembic_config(engine_or_connection), revision)


def downgrade(connection: Connection, revision: str) -> None:
    command.downgrade(alembic_config(connection), revision)
