"""NRPS 2.0 roster sync: the context's members and roles, every page; members who left become
inactive, never deleted (their records stay theirs)."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from cairn.accounts.models import User
from cairn.db import utcnow
from lti import classes, keys, learners, platforms
from lti.adapter import PlatformConfig, ServiceCallFailed, ToolKeyPair, roster_pages
from lti.errors import LtiError
from lti.models import Context

log = logging.getLogger(__name__)

STALE_AFTER = timedelta(hours=1)


@dataclass(frozen=True)
class RosterSync:
    context_id: str
    active: int
    inactive: int
    pages: int


@dataclass(frozen=True)
class _RosterCall:
    config: PlatformConfig
    key: ToolKeyPair
    url: str


def _prepare(session: Session, context_pk: int) -> _RosterCall:
    context = session.get(Context, context_pk)
    if context is None:
        raise LtiError(f"no LTI context with id {context_pk}", status=404, code="context_not_found")
    if not context.memberships_url:
        raise LtiError("the platform offered no Names and Role Provisioning Service for this context",
                       status=409, code="nrps_unavailable")
    platform = platforms.get_platform(session, context.platform_id)
    return _RosterCall(platforms.platform_config(platform), keys.signing_key(session),
                       context.memberships_url)


def sync_now(factory: sessionmaker[Session], context_pk: int) -> RosterSync:
    """Fetch the context's roster from the platform (every page) and bring its members and its
    class up to date.

    No transaction is open while the platform is called: platforms fetch our JWKS when we ask for
    a token, and on SQLite an open transaction would hold the write lock that request waits for.
    """
    with factory() as session, session.begin():
        call = _prepare(session, context_pk)
    try:
        pages = roster_pages(call.config, call.key, call.url)
    except ServiceCallFailed as exc:
        raise LtiError(f"the roster could not be read from the platform: {exc}", status=502,
                       code="nrps_failed") from exc
    with factory() as session, session.begin():
        return apply_roster(session, context_pk, pages)


def apply_roster(session: Session, context_pk: int, pages: list[list[dict]]) -> RosterSync:
    """Record a fetched roster: members present (active or not, as the platform says), and members
    no longer listed made inactive."""
    context = session.get(Context, context_pk)
    if context is None:
        raise LtiError(f"no LTI context with id {context_pk}", status=404, code="context_not_found")
    platform = platforms.get_platform(session, context.platform_id)
    present: set[int] = set()
    active = 0
    for member in (m for page in pages for m in page):
        if not member.get("user_id"):
            continue
        user = learners.find_or_create_learner(session, platform.issuer, member)
        is_active = str(member.get("status", "Active")) == "Active"
        row = learners.set_member(session, context, user, str(member["user_id"]),
                                  [str(r) for r in member.get("roles") or []], active=is_active)
        classes.join_class(session, platform, context, user, row.role, active=is_active)
        present.add(user.id)
        active += int(is_active)
    inactive = 0
    for member in learners.members_of(session, context):
        if member.user_id not in present and member.active:
            member.active = False
            member.updated_at = utcnow()
            user = session.get(User, member.user_id)
            if user is not None:
                classes.join_class(session, platform, context, user, member.role, active=False)
        inactive += int(not member.active)
    context.roster_synced_at = utcnow()
    session.flush()
    return RosterSync(context_id=context.context_id, active=active, inactive=inactive, pages=len(pages))


def is_stale(context: Context) -> bool:
    return context.memberships_url is not None and (
        context.roster_synced_at is None or context.roster_synced_at < utcnow() - STALE_AFTER)


def sync_in_background(factory: sessionmaker[Session], context_pk: int) -> RosterSync | None:
    """Sync a stale roster after a launch has been answered (a launch never waits for the roster);
    errors are logged, not raised."""
    with factory() as session:
        context = session.get(Context, context_pk)
        stale = context is not None and is_stale(context)
    if not stale:
        return None
    try:
        return sync_now(factory, context_pk)
    except LtiError as exc:
        log.warning("roster sync of context %s failed: %s", context_pk, exc.message)
        return None
