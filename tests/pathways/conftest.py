"""Fixtures for pathways tests: small builders that go through the service functions."""
from __future__ import annotations

import uuid as _uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from lrs import services as lrs_services
from pathways import services
from pathways.projection import system_authority


def make_pathway(session: Session, *, steps: int = 2, publish: bool = True, **fields: Any):
    """A pathway with ``steps`` xAPI content steps (required), published unless told otherwise."""
    fields.setdefault("title", "Safety basics")
    fields.setdefault("outcome_kind", "training_attendance")
    pathway = services.create_pathway(session, **fields)
    for n in range(steps):
        services.add_step(session, pathway.id, kind="xapi", title=f"Module {n + 1}",
                          launch_url=f"https://content.example.org/m{n + 1}/index.html",
                          activity_iri=f"https://content.example.org/{pathway.lineage}/m{n + 1}")
    if publish:
        services.publish_pathway(session, pathway.id)
    return services.get_pathway(session, pathway.id)


@pytest.fixture()
def pathway_factory(db_session):
    return lambda **kw: make_pathway(db_session, **kw)


T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def xapi(actor_email: str | None = None, verb: str = "http://adlnet.gov/expapi/verbs/completed",
         activity: str = "https://content.example.org/a", *, at: datetime | None = None, minutes: float = 0,
         actor: dict | None = None, registration: str | None = None, scaled: float | None = None,
         statement_id: str | None = None) -> dict:
    """An xAPI statement about a learner (by email, or any agent) doing ``verb`` on ``activity``."""
    statement: dict = {
        "id": statement_id or str(_uuid.uuid4()),
        "actor": actor or {"objectType": "Agent", "mbox": f"mailto:{actor_email}"},
        "verb": {"id": verb},
        "object": {"objectType": "Activity", "id": activity},
        "timestamp": ((at or T0) + timedelta(minutes=minutes)).isoformat(),
    }
    if registration:
        statement["context"] = {"registration": registration}
    if scaled is not None:
        statement["result"] = {"score": {"scaled": scaled}}
    return statement


def voiding(target_id: str) -> dict:
    return {"id": str(_uuid.uuid4()), "actor": {"objectType": "Agent", "mbox": "mailto:admin@example.org"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
            "object": {"objectType": "StatementRef", "id": target_id}}


@pytest.fixture()
def store(app, db_session):
    """Store statements through the LRS service inside an app context, so subscribers run as in a request."""
    def _store(*statements: dict):
        with app.app_context():
            return lrs_services.store_statements(db_session, list(statements), authority=system_authority())
    return _store
