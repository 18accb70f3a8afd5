"""LRS fixtures: credentials and an xAPI client that sends the version header and Basic auth."""
from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from lrs import services

AUTHORITY = {"objectType": "Agent", "name": "Test client", "mbox": "mailto:client@example.org"}


def basic(key: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()


class XAPIClient:
    """The Flask test client with xAPI headers; ``version=None`` leaves the version header out."""

    def __init__(self, client: FlaskClient, key: str, secret: str, version: str | None = "1.0.3") -> None:
        self.client = client
        self.auth = basic(key, secret)
        self.version = version

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Authorization": self.auth}
        if self.version:
            headers["X-Experience-API-Version"] = self.version
        headers.update(extra or {})
        return headers

    def request(self, method: str, path: str, *, json_body: Any = None, headers: dict[str, str] | None = None,
                **kwargs: Any) -> Any:
        if json_body is not None:
            kwargs["data"] = json.dumps(json_body)
            kwargs.setdefault("content_type", "application/json")
        return self.client.open(f"/xapi{path}", method=method, headers=self.headers(headers), **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Any:
        return self.request("PUT", path, **kwargs)


def make_credential(db_session: Session, scopes: tuple[str, ...] = ("all",), authority: dict | None = None
                    ) -> tuple[services.CredentialInfo, str]:
    info, secret = services.create_credential(db_session, name="test", scopes=list(scopes),
                                              authority=authority or AUTHORITY)
    db_session.commit()
    return info, secret


@pytest.fixture()
def xapi(client: FlaskClient, db_session: Session) -> XAPIClient:
    info, secret = make_credential(db_session)
    return XAPIClient(client, info.key, secret)


def statement(**overrides: Any) -> dict:
    """A minimal valid statement (a fresh id unless ``id=None``)."""
    body: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "actor": {"objectType": "Agent", "name": "Ann", "mbox": "mailto:ann@example.org"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced", "display": {"en-US": "experienced"}},
        "object": {"objectType": "Activity", "id": "http://example.org/activities/intro",
                   "definition": {"name": {"en-US": "Intro", "fr": "Intro FR"}}},
    }
    for key, value in overrides.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return body
