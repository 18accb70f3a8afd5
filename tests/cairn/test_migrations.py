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


def test_0015_keeps_the_facts_a_pathway_can_read_and_deletes_the_others(tmp_path) -> None:
    """Facts an older version recorded for every statement about an activity: those about a step's
    activity or in a launched registration stay, the others go."""
    import uuid
    from datetime import UTC, datetime

    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from pathways import actions, services
    from pathways.models import ProgressFact
    from tests import factories
    from tests.conftest import fresh_database_url, reset_database
    engine = reset_database(fresh_database_url(tmp_path, "facts_0015"))
    step_activity = "https://content.example.org/step"
    try:
        with Session(engine) as session:
            learner = factories.user(session)
            pathway = services.create_pathway(session, title="P", outcome_kind="onboarding")
            step = services.add_step(session, pathway.id, kind="xapi", title="S", activity_iri=step_activity,
                                     launch_url="https://content.example.org/step/index.html")
            launched = actions.record_step_launch(session, step.id, learner.id)
            facts = [(step_activity, None), ("https://elsewhere.example/a", None),
                     ("https://elsewhere.example/b", launched),
                     ("https://elsewhere.example/c", str(uuid.uuid4()))]
            session.execute(ProgressFact.__table__.insert(), [
                {"statement_id": str(uuid.uuid4()), "sequence": n, "identity_kind": "mbox",
                 "identity_value": f"mailto:{learner.email}", "verb": "http://adlnet.gov/expapi/verbs/completed",
                 "activity_iri": activity, "registration": registration, "timestamp": datetime.now(UTC)}
                for n, (activity, registration) in enumerate(facts)])
            session.commit()
        with engine.begin() as connection:
            migrate.downgrade(connection, "0014")
        migrate.upgrade(engine)
        with Session(engine) as session:
            kept = session.scalars(select(ProgressFact.activity_iri).order_by(ProgressFact.sequence))
            assert list(kept) == [step_activity, "https://elsewhere.example/b"]
    finally:
        engine.dispose()
