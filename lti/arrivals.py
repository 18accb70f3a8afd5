"""What a valid launch does: the learner, their context and role, the resource link and where it
leads, the services the platform offers (AGS, NRPS), and a ``Launch`` row for what follows."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cairn.accounts.models import User
from cairn.db import utcnow
from lti import catalogue, classes, learners
from lti.launches import ValidLaunch
from lti.models import Context, ContextMember, Launch, Platform, ResourceLink

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
DL_SETTINGS_CLAIM = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
# The custom parameter Cairn's Deep Linking puts on the links it creates: "pathway:ID", "step:ID".
TARGET_PARAMETER = "cairn_target"
TARGET_KINDS = ("pathway", "step", "catalogue")
LAUNCH_LIFETIME = timedelta(hours=2)
# Two first launches into the same new course (or by the same new learner) race to create the same
# rows; the loser's unique violation is retried, and then finds the winner's committed rows.
ACCEPT_ATTEMPTS = 3


@dataclass(frozen=True)
class Arrival:
    launch: Launch
    user: User
    context: Context | None
    resource_link: ResourceLink | None
    role: str

    @property
    def is_deep_linking(self) -> bool:
        return self.launch.message_type == "LtiDeepLinkingRequest"


def parse_target(value: str | None) -> tuple[str, str | None]:
    """``("pathway", "12")`` from ``"pathway:12"``; the catalogue when absent or unknown."""
    kind, _, target_id = (value or "").partition(":")
    if kind in ("pathway", "step") and target_id:
        return kind, target_id
    return "catalogue", None


def accept(session: Session, valid: ValidLaunch, *, base_url: str) -> Arrival:
    """Turn a validated launch into a known learner in a known class, with a ``launched`` statement,
    and remember the launch. Instructors and administrators of the context manage its class.

    Runs in a SAVEPOINT: when another worker created the same learner, context, class or link at
    the same moment (a unique violation), only this launch's own work is undone and done again,
    now finding the other's rows. The nonce, already spent by ``validate_launch``, stays spent.
    """
    for attempt in range(1, ACCEPT_ATTEMPTS + 1):
        try:
            with session.begin_nested():
                return _accept(session, valid, base_url=base_url)
        except IntegrityError:
            if attempt == ACCEPT_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def _accept(session: Session, valid: ValidLaunch, *, base_url: str) -> Arrival:
    claims, platform = valid.claims, valid.platform
    user = learners.find_or_create_learner(session, platform.issuer, claims)
    roles = [str(r) for r in claims.get(LTI + "roles") or []]
    role = learners.class_role(roles)
    deployment_id = str(claims[LTI + "deployment_id"])
    context = None
    if isinstance(claims.get(LTI + "context"), dict) and claims[LTI + "context"].get("id"):
        context = learners.upsert_context(session, platform, claims[LTI + "context"], deployment_id)
        learners.set_member(session, context, user, str(claims["sub"]), roles)
        classes.join_class(session, platform, context, user, role)
        _remember_services(context, claims)
    link = None
    if isinstance(claims.get(LTI + "resource_link"), dict):
        link = _upsert_resource_link(session, platform, context, claims)
    tool_platform = (claims.get(LTI + "tool_platform")
                     if isinstance(claims.get(LTI + "tool_platform"), dict) else {})
    classes.record_launch(session, platform=platform, user=user, sub=str(claims["sub"]), context=context,
                          link=link, deployment_id=deployment_id,
                          platform_name=str(tool_platform.get("name") or ""), base_url=base_url)
    message_type = str(claims[LTI + "message_type"])
    destination = f"{link.target_kind}:{link.target_id or ''}" if link else "catalogue:"
    settings = claims.get(DL_SETTINGS_CLAIM) if message_type == "LtiDeepLinkingRequest" else None
    launch = Launch(token=secrets.token_urlsafe(32), platform_id=platform.id, deployment_id=deployment_id,
                    user_id=user.id, context_id=context.id if context else None,
                    resource_link_id=link.id if link else None, message_type=message_type,
                    destination=destination, deep_linking_settings=settings,
                    expires_at=utcnow() + LAUNCH_LIFETIME)
    session.add(launch)
    session.flush()
    return Arrival(launch=launch, user=user, context=context, resource_link=link, role=role)


def _remember_services(context: Context, claims: dict) -> None:
    nrps = claims.get(NRPS_CLAIM)
    if isinstance(nrps, dict) and nrps.get("context_memberships_url"):
        context.memberships_url = str(nrps["context_memberships_url"])
    ags = claims.get(AGS_CLAIM)
    if isinstance(ags, dict):
        context.lineitems_url = ags.get("lineitems") or context.lineitems_url
        context.ags_scopes = list(ags.get("scope") or [])


def _upsert_resource_link(session: Session, platform: Platform, context: Context | None,
                          claims: dict) -> ResourceLink:
    claim = claims[LTI + "resource_link"]
    link = session.scalar(select(ResourceLink).where(ResourceLink.platform_id == platform.id,
                                                     ResourceLink.resource_link_id == str(claim["id"])))
    if link is None:
        link = ResourceLink(platform_id=platform.id, resource_link_id=str(claim["id"]), ags_scopes=[])
        session.add(link)
    link.context_id = context.id if context else None
    link.title = str(claim.get("title") or "")[:500]
    custom = claims.get(LTI + "custom") or {}
    link.target_kind, link.target_id = parse_target(
        custom.get(TARGET_PARAMETER) if isinstance(custom, dict) else None)
    ags = claims.get(AGS_CLAIM)
    if isinstance(ags, dict):
        link.lineitem_url = ags.get("lineitem") or link.lineitem_url
        link.lineitems_url = ags.get("lineitems") or link.lineitems_url
        link.ags_scopes = list(ags.get("scope") or [])
    session.flush()
    return link


@dataclass(frozen=True)
class Destination:
    kind: str  # pathway, step or catalogue
    pathway_id: int | None = None  # the published version's id, for the portal's pages
    step_id: int | None = None


def destination(session: Session, launch: Launch) -> Destination:
    """Where a launch leads now: its pathway or step in the currently published version (the
    catalogue when that is gone)."""
    kind, target_id = parse_target(launch.destination)
    entry = catalogue.entry_for(session, kind, target_id)
    return Destination(kind=entry.kind, pathway_id=entry.pathway_id, step_id=entry.step_id)


def launch_by_token(session: Session, token: str) -> Launch | None:
    """The unexpired launch with this secret token."""
    if not token:
        return None
    launch = session.scalar(select(Launch).where(Launch.token == token))
    if launch is None or launch.expires_at <= utcnow():
        return None
    return launch


def continue_launch(session: Session, token: str) -> Launch | None:
    """Use a launch's one-time "continue in a new window" sign-in; None if unknown, expired or used."""
    launch = launch_by_token(session, token)
    if launch is None or launch.continued_at is not None:
        return None
    launch.continued_at = utcnow()
    session.flush()
    return launch


def summary(session: Session, launch: Launch) -> dict:
    """What a launch was, for the page that shows it."""
    platform = session.get(Platform, launch.platform_id)
    context = session.get(Context, launch.context_id) if launch.context_id else None
    link = session.get(ResourceLink, launch.resource_link_id) if launch.resource_link_id else None
    kind, target_id = parse_target(launch.destination)
    member_role = None
    if context is not None:
        member = session.scalar(select(ContextMember).where(ContextMember.context_id == context.id,
                                                            ContextMember.user_id == launch.user_id))
        member_role = member.role if member else None
    return {"platform": platform.name if platform else "", "context": context.title if context else None,
            "role": member_role, "link": link.title if link else None, "kind": kind, "target_id": target_id,
            "message_type": launch.message_type}
