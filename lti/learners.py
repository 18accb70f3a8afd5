"""Who launched: the learner (an xAPI account identity homePage = issuer, name = sub), the context
they launched from and their role in it."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from cairn.accounts.models import User
from cairn.accounts.services import Identity, add_identity, create_user, user_for_identity
from cairn.db import utcnow
from lti.models import Context, ContextMember, Platform

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
LIS = "http://purl.imsglobal.org/vocab/lis/v2/"
# Context roles (LTI Core §5.3.7, A.2.2) that manage a class; institution administrators too.
MANAGER_ROLES = {
    LIS + "membership#Instructor", LIS + "membership#Administrator", LIS + "membership#ContentDeveloper",
    LIS + "membership/Instructor#TeachingAssistant", LIS + "institution/person#Administrator",
    LIS + "system/person#Administrator", "Instructor", "Administrator", "ContentDeveloper",
}


def identity_of(issuer: str, sub: str) -> Identity:
    """The xAPI identity of a platform user: an account on the platform's issuer."""
    return Identity("account", f"{issuer}|{sub}")


def class_role(roles: list[str]) -> str:
    """``instructor`` for anyone who may manage the context's class, else ``learner``."""
    return "instructor" if any(r in MANAGER_ROLES for r in roles) else "learner"


def find_or_create_learner(session: Session, issuer: str, person: dict) -> User:
    """The user for a platform person (launch claims or an NRPS member), created on first sight;
    name, email and LIS person sourcedId are refreshed from the platform."""
    sub = str(person.get("sub") or person.get("user_id"))
    identity = identity_of(issuer, sub)
    name = (person.get("name")
            or " ".join(p for p in (person.get("given_name"), person.get("family_name")) if p)
            or f"Learner {sub}")
    email = (person.get("email") or "").strip().lower() or None
    lis = person.get(LTI + "lis") or {}
    sourcedid = lis.get("person_sourcedid") or person.get("lis_person_sourcedid")
    user = user_for_identity(session, identity)
    if user is None:
        # A platform may assert any email: it never links to an existing Cairn account by email.
        taken = email is not None and session.scalar(select(User.id).where(User.email == email)) is not None
        user = create_user(session, name=name, email=None if taken else email)
        add_identity(session, user, identity)
    else:
        user.name = name
    attributes = dict(user.attributes or {})
    if email:
        attributes["email"] = email
    if sourcedid:
        attributes["lis_person_sourcedid"] = sourcedid
    custom = person.get(LTI + "custom")
    if isinstance(custom, dict):
        attributes["lti_custom"] = {str(k): str(v) for k, v in custom.items()}
    user.attributes = attributes
    session.flush()
    return user


def upsert_context(session: Session, platform: Platform, claim: dict, deployment_id: str) -> Context:
    """The context (course) named by a launch's context claim, created or refreshed."""
    context = session.scalar(select(Context).where(Context.platform_id == platform.id,
                                                   Context.context_id == str(claim["id"])))
    if context is None:
        context = Context(platform_id=platform.id, context_id=str(claim["id"]), ags_scopes=[])
        session.add(context)
    context.title = str(claim.get("title") or claim.get("label") or claim["id"])[:500]
    context.label = str(claim.get("label") or "")[:255]
    context.deployment_id = deployment_id
    session.flush()
    return context


def set_member(session: Session, context: Context, user: User, sub: str, roles: list[str],
               active: bool = True) -> ContextMember:
    """Record ``user`` in ``context`` with ``roles`` (active unless told otherwise)."""
    member = session.scalar(select(ContextMember).where(ContextMember.context_id == context.id,
                                                        ContextMember.user_id == user.id))
    if member is None:
        member = ContextMember(context_id=context.id, user_id=user.id, sub=sub)
        session.add(member)
    member.roles = list(roles)
    member.role = class_role(roles)
    member.active = active
    member.updated_at = utcnow()
    session.flush()
    return member


def members_of(session: Session, context: Context) -> list[ContextMember]:
    return list(session.scalars(select(ContextMember).where(ContextMember.context_id == context.id)
                                .order_by(ContextMember.id)))
