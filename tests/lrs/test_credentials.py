"""Credentials: hashed secrets, scopes, revocation, expiry and launch restrictions (issue 3,
Communication 4.0)."""
from __future__ import annotations

import hashlib
import json
import uuid
from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from cairn.db import utcnow
from lrs import services
from lrs.models import Credential
from tests.lrs.conftest import AUTHORITY, XAPIClient, statement

LEARNER = {"objectType": "Agent", "mbox": "mailto:learner@example.org"}
ACTIVITY = "http://example.org/courses/launched"


def test_secret_is_stored_only_as_sha256(db_session: Session) -> None:
    info, secret = services.create_credential(db_session, name="c", scopes=["all"], authority=AUTHORITY)
    row = db_session.scalar(select(Credential).where(Credential.key == info.key))
    assert secret not in json.dumps([row.secret_sha256, row.key, row.name])
    assert row.secret_sha256 == hashlib.sha256(secret.encode()).hexdigest()
    assert services.authenticate_credential(db_session, info.key, secret) == info
    assert services.authenticate_credential(db_session, info.key, secret[:-1]) is None
    assert services.authenticate_credential(db_session, "no-such-key", secret) is None


def test_unknown_scope_is_refused(db_session: Session) -> None:
    import pytest

    from lrs.errors import CredentialError
    with pytest.raises(CredentialError, match="unknown scope"):
        services.create_credential(db_session, name="c", scopes=["statements/everything"],
                                   authority=AUTHORITY)


def test_expired_credential_does_not_authenticate(db_session: Session) -> None:
    info, secret = services.create_credential(db_session, name="c", scopes=["all"], authority=AUTHORITY,
                                              expires_at=utcnow() - timedelta(seconds=1))
    assert services.authenticate_credential(db_session, info.key, secret) is None


def _launch(db_session: Session, client: FlaskClient, **kwargs: object) -> tuple[XAPIClient, str]:
    registration = str(uuid.uuid4())
    key, secret = services.issue_launch_credential(db_session, agent=LEARNER, registration=registration,
                                                   activity_id=ACTIVITY, **kwargs)  # type: ignore[arg-type]
    db_session.commit()
    return XAPIClient(client, key, secret), registration


def test_launch_credential_writes_only_its_learner_activity_and_registration(client: FlaskClient,
                                                                            db_session: Session) -> None:
    launched, registration = _launch(db_session, client)
    good = statement(actor=LEARNER, object={"id": ACTIVITY}, context={"registration": registration})
    assert launched.post("/statements", json_body=good).status_code == 200
    other_actor = statement(actor={"mbox": "mailto:someone@example.org"}, object={"id": ACTIVITY},
                            context={"registration": registration})
    assert launched.post("/statements", json_body=other_actor).status_code == 403
    other_registration = statement(actor=LEARNER, object={"id": ACTIVITY},
                                   context={"registration": str(uuid.uuid4())})
    assert launched.post("/statements", json_body=other_registration).status_code == 403
    other_activity = statement(actor=LEARNER, context={"registration": registration})
    assert launched.post("/statements", json_body=other_activity).status_code == 403
    in_context = statement(actor=LEARNER, object={"id": "http://example.org/courses/launched/q1"},
                           context={"registration": registration,
                                    "contextActivities": {"parent": [{"id": ACTIVITY}]}})
    assert launched.post("/statements", json_body=in_context).status_code == 200


def test_launch_credential_reads_only_its_own_statements(client: FlaskClient, db_session: Session,
                                                          xapi: XAPIClient) -> None:
    xapi.post("/statements", json_body=statement(actor=LEARNER, object={"id": ACTIVITY}))
    launched, registration = _launch(db_session, client)
    own = statement(actor=LEARNER, object={"id": ACTIVITY}, context={"registration": registration})
    launched.post("/statements", json_body=own)
    assert [s["id"] for s in launched.get("/statements").json["statements"]] == [own["id"]]


def test_expired_launch_credential_answers_401(client: FlaskClient, db_session: Session) -> None:
    launched, _ = _launch(db_session, client, ttl_seconds=-1)
    assert launched.get("/statements").status_code == 401


def test_cli_creates_lists_and_revokes_credentials(app, db_session: Session) -> None:  # type: ignore[no-untyped-def]
    runner = app.test_cli_runner()
    created = runner.invoke(args=["credentials", "create", "--name", "suite", "--scopes", "all", "--json"])
    assert created.exit_code == 0, created.output
    data = json.loads(created.output)
    assert data["scopes"] == ["all"] and data["endpoint"].endswith("/xapi/")
    listed = runner.invoke(args=["credentials", "list"])
    assert data["key"] in listed.output and data["secret"] not in listed.output
    assert runner.invoke(args=["credentials", "revoke", data["key"]]).exit_code == 0
    assert data["key"] not in runner.invoke(args=["credentials", "list"]).output
    bad = runner.invoke(args=["credentials", "create", "--name", "x", "--scopes", "nope"])
    assert bad.exit_code != 0 and "unknown scope" in bad.output
