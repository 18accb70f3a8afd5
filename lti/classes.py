"""Launches into Cairn's learning domain: the context's academic class and the learner's membership
(through ``pathways.services``), and the ``launched`` statement (through ``lrs.services``)."""
from __future__ import annotations

import uuid
from urllib.parse import quote

from sqlalchemy.orm import Session

from cairn.accounts.models import User
from cairn.db import utcnow
from lrs import services as lrs
from lti import catalogue, learners
from lti.models import Context, Platform, ResourceLink
from pathways import services as pathways

VERB_LAUNCHED = "http://adlnet.gov/expapi/verbs/launched"
COURSE_TYPE = "http://adlnet.gov/expapi/activities/course"
LTI_EXTENSION = "https://purl.imsglobal.org/spec/lti/claim/"
REGISTRATION_NAMESPACE = uuid.UUID("1b0e5c8a-6b7e-4d7a-9a3c-2f1d8c4e7a10")


def join_class(session: Session, platform: Platform, context: Context, user: User, role: str,
               active: bool = True) -> int:
    """Put ``user`` in the class of ``context`` (made on first sight) as learner or instructor."""
    if context.class_id is None:
        info = pathways.ensure_class(session, source=platform.issuer, external_id=context.context_id,
                                     title=context.title)
        context.class_id = info.id
    pathways.set_class_membership(session, context.class_id, user.id, role, active=active)
    return context.class_id


def tool_authority(base_url: str) -> dict:
    """The agent Cairn's LTI tool writes statements as."""
    return {"objectType": "Agent", "name": "Cairn LTI tool", "account": {"homePage": base_url, "name": "lti"}}


def context_activity_id(platform: Platform, context: Context) -> str:
    return f"{platform.issuer.rstrip('/')}/lti/contexts/{quote(context.context_id, safe='')}"


def registration_for(platform: Platform, link: ResourceLink | None, sub: str) -> str:
    """One xAPI registration per learner and resource link (stable across launches)."""
    place = link.resource_link_id if link else "-"
    return str(uuid.uuid5(REGISTRATION_NAMESPACE, f"{platform.issuer}|{platform.client_id}|{place}|{sub}"))


def record_launch(session: Session, *, platform: Platform, user: User, sub: str, context: Context | None,
                  link: ResourceLink | None, deployment_id: str, platform_name: str, base_url: str) -> str:
    """Store the ``launched`` statement of a launch; returns its xAPI registration."""
    kind, target_id = (link.target_kind, link.target_id) if link else ("catalogue", None)
    entry = catalogue.entry_for(session, kind, target_id)
    activity_id = entry.activity_iri or f"{base_url}/catalogue"
    registration = registration_for(platform, link, sub)
    context_block: dict = {
        "registration": registration,
        "platform": platform_name[:100] or platform.name,
        "extensions": {LTI_EXTENSION + "deployment_id": deployment_id,
                       "https://w3id.org/xapi/cairn/lti/issuer": platform.issuer},
    }
    if context is not None:
        context_block["contextActivities"] = {"grouping": [{
            "objectType": "Activity", "id": context_activity_id(platform, context),
            "definition": {"name": {"en": context.title}, "type": COURSE_TYPE}}]}
    statement = {
        "actor": learners.identity_of(platform.issuer, sub).to_agent(user.name),
        "verb": {"id": VERB_LAUNCHED, "display": {"en-US": "launched"}},
        "object": {"objectType": "Activity", "id": activity_id, "definition": {"name": {"en": entry.title}}},
        "context": context_block,
        "timestamp": utcnow().isoformat(),
    }
    lrs.store_statement(session, statement, authority=tool_authority(base_url))
    return registration
