"""The tool's RSA keys: the signing key, the published JWKS and rotation.

Rotation never surprises a platform that caches our JWKS: a new key is published at once but signs
only from ``activates_at``; the key it replaces keeps signing until then, and stays published until
every token it signed has expired (``expires_at``).
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import or_, select, text
from sqlalchemy.orm import Session

from cairn.db import utcnow
from lti.adapter import ToolKeyPair, generate_key_pair
from lti.models import ToolKey

# Our longest-lived signed token is a Deep Linking response (10 minutes); keep a margin.
DEFAULT_KEEP_OLD = timedelta(hours=1)
DEFAULT_PUBLISH_AHEAD = timedelta(hours=1)


def _new_key(session: Session, activates_at: object) -> ToolKey:
    pair, public_jwk = generate_key_pair()
    key = ToolKey(kid=pair.kid, private_pem=pair.private_pem, public_jwk=public_jwk,
                  activates_at=activates_at)
    session.add(key)
    session.flush()
    return key


def signing_key(session: Session) -> ToolKeyPair:
    """The key that signs now (the newest active one), created on first use.

    Two workers signing for the first time at once made a key each, and both were published. The
    first use now takes a lock (PostgreSQL; SQLite's writers are serialised already) and looks
    again: the second worker waits for the first one's transaction and signs with its key.
    """
    key = _active_key(session)
    if key is None:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": FIRST_KEY_LOCK})
            key = _active_key(session)
        if key is None:
            key = _new_key(session, utcnow())
    return ToolKeyPair(kid=key.kid, private_pem=key.private_pem)


FIRST_KEY_LOCK = 0x4C54_494B_4559  # "LTIKEY": making the tool's first signing key


def _active_key(session: Session) -> ToolKey | None:
    now = utcnow()
    return session.scalar(select(ToolKey).where(ToolKey.activates_at <= now,
                                                or_(ToolKey.retired_at.is_(None), ToolKey.retired_at > now))
                          .order_by(ToolKey.activates_at.desc(), ToolKey.id.desc()).limit(1))


def published_jwks(session: Session) -> dict:
    """The JWKS to serve: every key not yet expired, including keys that will sign soon."""
    now = utcnow()
    keys = list(session.scalars(select(ToolKey).where(or_(ToolKey.expires_at.is_(None),
                                                          ToolKey.expires_at > now))
                                .order_by(ToolKey.id)))
    if not keys:
        signing_key(session)
        return published_jwks(session)
    return {"keys": [dict(k.public_jwk) for k in keys]}


def rotate(session: Session, *, publish_ahead: timedelta = DEFAULT_PUBLISH_AHEAD,
           keep_old: timedelta = DEFAULT_KEEP_OLD) -> ToolKey:
    """Add a key that signs from ``now + publish_ahead``; the keys it replaces stop signing then and
    are unpublished ``keep_old`` later."""
    signing_key(session)  # there is always a key to replace
    now = utcnow()
    activates_at = now + publish_ahead
    for old in session.scalars(select(ToolKey).where(ToolKey.retired_at.is_(None))):
        old.retired_at = activates_at
        old.expires_at = activates_at + keep_old
    return _new_key(session, activates_at)


def list_keys(session: Session) -> list[ToolKey]:
    """Every key, oldest first."""
    return list(session.scalars(select(ToolKey).order_by(ToolKey.id)))
