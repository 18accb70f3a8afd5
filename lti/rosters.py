"""NRPS 2.0 roster sync: the context's members and roles, every page; members who left become
inactive, never deleted (their records stay theirs)."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from cairn.db import utcnow
from lti import keys, learners, platforms
from lti.adapter import ServiceCallFailed, roster_pages
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


def sync_context(session: Session, context_pk: int) -> RosterSync:
    """Fetch the context's roster from the platform and bring its members up to date."""
    context = session.get(Context, context_pk)
    if context is None:
        raise LtiError(f"no LTI context with id {context_pk}", status=404, code="context_not_found")
    if not context.memberships_url:
        raise LtiError("the platform offered no Names and Role Provisioning Service for this context",
                       status=409, code="nrps_unavailable")
    platform = platforms.get_platform(session, context.platform_id)
    try:
        pages = roster_pages(platforms.platform_config(platform), keys.signing_key(session), context.memberships_url)
    except ServiceCallFailed as exc:
        raise LtiError(f"the roster could not be read from the platform: {exc}", status=502,
                       code="nrps_failed") from exc
    present: set[int] = set()
    active = 0
    for member in (m for page in pages for m in page):
        if not member.get("user_id"):
            continue
        user = learners.find_or_create_learner(session, platform.issuer, member)
        is_active = str(member.get("status", "Active")) == "Active"
        learners.set_member(session, context, user, str(member["user_id"]),
                            [str(r) for r in member.get("roles") or []], active=is_active)
        present.add(user.id)
        active += int(is_active)
    inactive = 0
    for member in learners.members_of(session, context):
        if member.user_id not in present and member.active:
            member.active = False
            member.updated_at = utcnow()
        inactive += int(not member.active)
    context.roster_synced_at = utcnow()
    session.flush()
    return RosterSync(context_id=context.context_id, active=active, inactive=inactive, pages=len(pages))


def is_stale(context: Context) -> bool:
    return context.memberships_url is not None and (
        context.roster_synced_at is None or context.roster_synced_at < utcnow() - STALE_AFTER)


def sync_if_stale(session: Session, context: Context) -> RosterSync | None:
    """Sync on launch when the roster is older than an hour; a platform error never fails the launch."""
    if not is_stale(context):
        return None
    try:
        with session.begin_nested():
            return sync_context(session, context.id)
    except LtiError as exc:
        log.warning("roster sync of context %s failed: %s", context.context_id, exc.message)
        return None
