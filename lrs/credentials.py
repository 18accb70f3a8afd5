"""xAPI client credentials: create, list, revoke, authenticate; short-lived launch credentials.

Secrets are machine-generated with 256 bits of entropy, so a plain SHA-256 is enough to store them
(no dictionary to guess from) and checking one costs microseconds, not a slow password hash per
request. Comparison is constant-time.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from cairn.db import Among, read_built, utcnow
from lrs.errors import CredentialError
from lrs.identities import same_identity
from lrs.models import Credential
from lrs.validation import Validator

SCOPES = ("statements/write", "statements/read", "statements/read/mine", "all/read", "all", "state",
          "define", "profile")
READ_SCOPES = {"statements/read", "statements/read/mine"}
LAUNCH_SCOPES = ("statements/write", "statements/read/mine", "state")
# Hashing an unknown key's secret anyway keeps the timing of "unknown key" and "wrong secret" alike.
_DUMMY_SHA256 = hashlib.sha256(b"cairn-no-such-credential").hexdigest()


@dataclass(frozen=True)
class CredentialInfo:
    """A credential as the HTTP layer and the CLI see it (never the secret)."""

    id: int
    key: str
    name: str
    scopes: tuple[str, ...]
    authority: dict
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    launch_agent: dict | None = None
    launch_activity_id: str | None = None
    launch_registration: str | None = None

    @property
    def is_launch(self) -> bool:
        return self.launch_agent is not None

    def allows(self, *scopes: str) -> bool:
        """True if any of ``scopes`` is granted (``all`` grants everything, ``all/read`` every read)."""
        granted = set(self.scopes)
        if "all" in granted:
            return True
        for scope in scopes:
            if scope in granted:
                return True
            if scope == "all/read" and "all/read" in granted:
                return True
        return False


def _info(row: Any) -> CredentialInfo:
    """The info of a credential: its ORM object, or a row of its columns."""
    return CredentialInfo(id=row.id, key=row.key, name=row.name, scopes=tuple(row.scopes),
                          authority=row.authority, created_at=row.created_at, expires_at=row.expires_at,
                          revoked_at=row.revoked_at, launch_agent=row.launch_agent,
                          launch_activity_id=row.launch_activity_id,
                          launch_registration=row.launch_registration)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _check_scopes(scopes: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise CredentialError(f"unknown scope(s) {', '.join(unknown) or '(none given)'}; "
                              f"choose from {', '.join(SCOPES)}")
    return tuple(dict.fromkeys(scopes))


def create_credential(session: Session, *, name: str, scopes: list[str] | tuple[str, ...], authority: dict,
                      expires_at: datetime | None = None) -> tuple[CredentialInfo, str]:
    """Create a credential; returns it and its secret (shown once, stored only as a SHA-256)."""
    scopes = _check_scopes(scopes)
    Validator().actor(authority, "authority")
    key = secrets.token_hex(16)
    secret = secrets.token_urlsafe(32)
    row = Credential(key=key, secret_sha256=_hash(secret), name=name, scopes=list(scopes),
                     authority=authority,
                     expires_at=expires_at)
    session.add(row)
    session.flush()
    return _info(row), secret


def list_credentials(session: Session, *, include_revoked: bool = False) -> list[CredentialInfo]:
    """Every credential (newest first); revoked ones only when asked."""
    statement = select(Credential).order_by(Credential.id.desc())
    if not include_revoked:
        statement = statement.where(Credential.revoked_at.is_(None))
    return [_info(row) for row in session.scalars(statement)]


def revoke_credential(session: Session, key: str) -> CredentialInfo:
    """Revoke the credential with this key: it authenticates nothing from now on."""
    row = session.scalar(select(Credential).where(Credential.key == key))
    if row is None:
        raise CredentialError(f"no credential with key {key}", status=404, code="not_found")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.flush()
    return _info(row)


# Built once: every xAPI request runs it, and building it cost a fair part of running it. Plain
# columns, not the ORM entity: loading an object into the session cost 15% more (0.81 against
# 0.95 ms a request with its round trips, measured in-process on PostgreSQL).
_BY_KEY = select(*Credential.__table__.c).where(Credential.__table__.c.key == bindparam("key"))


def _by_key(among: Among) -> Any:
    return _BY_KEY


def authenticate_credential(session: Session, key: str, secret: str) -> CredentialInfo | None:
    """The valid (known, unrevoked, unexpired) credential with this key and secret, or None."""
    rows = read_built(session, _by_key, {"key": key})
    row = rows[0] if rows else None
    expected = row.secret_sha256 if row is not None else _DUMMY_SHA256
    matches = hmac.compare_digest(expected, _hash(secret))
    if row is None or not matches or row.revoked_at is not None:
        return None
    if row.expires_at is not None and row.expires_at <= utcnow():
        return None
    return _info(row)


def issue_launch_credential(session: Session, *, agent: dict, registration: str, activity_id: str,
                            ttl_seconds: int = 3600, scopes: tuple[str, ...] = LAUNCH_SCOPES,
                            home_page: str = "urn:cairn") -> tuple[str, str]:
    """A short-lived credential for xAPI content launched for ``agent`` (returns key and secret).

    Use them as HTTP Basic credentials (``Authorization: Basic base64(key:secret)``). The LRS lets
    such a credential write only statements whose actor is ``agent`` about ``activity_id`` (as
    object or context activity) in ``registration``, read only its own statements, and use the
    state of that agent, activity and registration; after ``ttl_seconds`` it answers 401.
    """
    validator = Validator()
    validator.agent(agent, "agent")
    validator.iri(activity_id, "activity_id")
    validator._uuid(registration, "registration")
    scopes = _check_scopes(scopes)
    key = secrets.token_hex(16)
    secret = secrets.token_urlsafe(32)
    # Each launch vouches as itself, so statements/read/mine shows this launch its own statements only.
    authority = {"objectType": "Agent", "name": "Cairn launch",
                 "account": {"homePage": home_page, "name": f"launch-{key}"}}
    row = Credential(key=key, secret_sha256=_hash(secret), name=f"launch {activity_id}", scopes=list(scopes),
                     authority=authority, expires_at=utcnow() + timedelta(seconds=ttl_seconds),
                     launch_agent=agent, launch_activity_id=activity_id,
                     launch_registration=registration.lower())
    session.add(row)
    session.flush()
    return key, secret


def launch_allows_statement(credential: CredentialInfo, statement: dict) -> str | None:
    """Why a launch credential may not write ``statement`` (None when it may)."""
    if not credential.is_launch:
        return None
    # Content writes its own record; withdrawing records is not for it (cmi5 6.3 forbids it outright).
    if (statement.get("verb") or {}).get("id") == "http://adlnet.gov/expapi/verbs/voided":
        return "a launch credential may not void statements"
    if not same_identity(statement.get("actor"), credential.launch_agent):
        return "this launch credential may only write statements whose actor is the launched learner"
    context = statement.get("context") or {}
    if str(context.get("registration", "")).lower() != credential.launch_registration:
        return "this launch credential may only write statements in the launch's registration"
    activity_ids = set()
    obj = statement.get("object") or {}
    if obj.get("objectType", "Activity") == "Activity":
        activity_ids.add(obj.get("id"))
    for value in (context.get("contextActivities") or {}).values():
        for activity in value if isinstance(value, list) else [value]:
            if isinstance(activity, dict):
                activity_ids.add(activity.get("id"))
    if credential.launch_activity_id not in activity_ids:
        return "this launch credential may only write statements about the launched activity"
    return None


def launch_allows_document(credential: CredentialInfo, *, agent: dict | None, activity_id: str | None,
                           registration: str | None) -> str | None:
    """Why a launch credential may not use this state document (None when it may)."""
    if not credential.is_launch:
        return None
    if agent is None or not same_identity(agent, credential.launch_agent):
        return "this launch credential may only use the launched learner's documents"
    if activity_id != credential.launch_activity_id:
        return "this launch credential may only use the launched activity's documents"
    if registration is None or registration.lower() != credential.launch_registration:
        return "this launch credential may only use documents of the launch's registration"
    return None
