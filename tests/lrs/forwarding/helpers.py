"""Statements for forwarding, export and import tests, stored through the real LRS service."""
from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from lrs.services import StoredStatement, store_statements

AUTHORITY = {"objectType": "Agent", "name": "Tests",
             "account": {"homePage": "http://localhost", "name": "tests"}}
COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
EXPERIENCED = "http://adlnet.gov/expapi/verbs/experienced"
VOIDED = "http://adlnet.gov/expapi/verbs/voided"


def statement(email: str = "learner@example.org", verb: str = COMPLETED,
              activity: str = "http://example.org/activities/a", registration: str | None = None,
              **extra: object) -> dict:
    result: dict = {
        "id": str(uuid.uuid4()),
        "actor": {"objectType": "Agent", "mbox": f"mailto:{email}", "name": email.split("@")[0]},
        "verb": {"id": verb, "display": {"en-US": verb.rsplit("/", 1)[-1]}},
        "object": {"objectType": "Activity", "id": activity,
                   "definition": {"name": {"en-US": activity.rsplit("/", 1)[-1]}}},
        "timestamp": "2026-11-28T10:00:00.000Z",
    }
    if registration:
        result["context"] = {"registration": registration}
    result.update(extra)
    return result


def voiding(target_id: str, email: str = "admin@example.org") -> dict:
    return {"id": str(uuid.uuid4()), "actor": {"mbox": f"mailto:{email}"},
            "verb": {"id": VOIDED, "display": {"en-US": "voided"}},
            "object": {"objectType": "StatementRef", "id": target_id}}


def store(session: Session, *statements: dict) -> list[StoredStatement]:
    stored = store_statements(session, list(statements), authority=AUTHORITY)
    session.flush()
    return stored
