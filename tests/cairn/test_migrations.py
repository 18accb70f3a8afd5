from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from cairn import migrate
from cairn.models import metadata


def test_models_and_migrations_agree(engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        diff = compare_metadata(context, metadata)
    assert diff == [], f"models and migrations differ: {diff}"


def test_migrations_bring_an_empty_database_to_head(engine) -> None:
    with engine.connect() as connection:
        assert migrate.current_revision(connection) == migrate.head_revision()
        assert {"users", "user_identities", "web_sessions"} <= set(inspect(connection).get_table_names())


def test_every_migration_downgrades_and_upgrades_again(tmp_path) -> None:
    from tests.conftest import fresh_database_url, reset_database
    url = fresh_database_url(tmp_path, "roundtrip")
    engine = reset_database(url)
    try:
        with engine.begin() as connection:
            migrate.downgrade(connection, "base")
        with engine.connect() as connection:
            assert "users" not in inspect(connection).get_table_names()
        migrate.upgrade(engine)
        with engine.connect() as connection:
            assert migrate.current_revision(connection) == migrate.head_revision()
    finally:
        engine.dispose()
