"""Alembic environment: one history for the whole database (cairn, lrs, pathways, lti)."""
from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from cairn.models import metadata

config = context.config


def run_migrations(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(connection=connection, target_metadata=metadata,
                      render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run_migrations(connection)
else:
    from cairn.db import make_engine
    url = config.get_main_option("sqlalchemy.url")
    engine = make_engine(url) if url else create_engine("sqlite://")
    with engine.begin() as conn:
        run_migrations(conn)
