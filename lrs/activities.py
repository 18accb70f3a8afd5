"""The canonical Activity of the Activities resource (xAPI 1.0.3 Communication 2.5, Data 2.4.4.1).

The definition is merged from every stored statement that mentions the Activity (as object, in a
sub-statement or as a context activity), oldest first: language maps and extensions are merged key
by key, every other property takes the latest value. Only statements whose authority vouches with
the ``define`` (or ``all``) scope may change it (Data 2.4.4.1: the LRS decides whether the Learning
Record Provider has the authority to change a definition); statements stored by Cairn itself
(no credential) always may.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from lrs.identities import ifi_of
from lrs.models import Credential, Statement, StatementActivity

MERGED_MAPS = ("name", "description", "extensions")
DEFINING_SCOPES = {"define", "all"}


def canonical_activity(session: Session, activity_id: str) -> dict:
    """The Activity object with its canonical definition; just ``id`` for an unknown Activity."""
    definition: dict[str, Any] = {}
    for parts in _distinct_mentions(session, activity_id):
        for found in _definitions_in(parts, activity_id):
            merge_definition(definition, found)
    activity: dict[str, Any] = {"objectType": "Activity", "id": activity_id}
    if definition:
        activity["definition"] = definition
    return activity


def _distinct_mentions(session: Session, activity_id: str) -> Iterator[dict]:
    """The distinct (object, context activities) pairs of the trusted statements mentioning the
    Activity, ordered by the last statement that carried each.

    Content usually repeats one definition in thousands of statements; grouping in the database
    keeps this one small read. Merging the groups in that order gives exactly the result of merging
    every statement in sequence order: for any property, the group of the newest statement that
    carries it is merged last among the groups that carry it.
    """
    mentioned = select(StatementActivity.sequence).where(StatementActivity.activity_id == activity_id)
    obj = Statement.statement["object"]
    context_activities = Statement.statement["context"]["contextActivities"]
    query = (select(obj, context_activities)
             .where(Statement.sequence.in_(mentioned))
             .group_by(obj, context_activities)
             .order_by(func.max(Statement.sequence)))
    untrusted = _authorities_without_define(session)
    if untrusted:
        query = query.where(or_(Statement.authority_ifi.is_(None), Statement.authority_ifi.not_in(untrusted)))
    for statement_object, activities in session.execute(query):
        yield {"object": statement_object, "context": {"contextActivities": activities or {}}}


def merge_definition(canonical: dict[str, Any], incoming: dict[str, Any]) -> None:
    """Fold ``incoming`` into ``canonical`` in place (the newer statement wins per key/language)."""
    for key, value in incoming.items():
        if key in MERGED_MAPS and isinstance(value, dict) and isinstance(canonical.get(key), dict):
            canonical[key] = {**canonical[key], **value}
        else:
            canonical[key] = value


def _authorities_without_define(session: Session) -> set[str]:
    """Authorities (as IFIs) whose credentials may not define Activities."""
    allowed: set[str] = set()
    denied: set[str] = set()
    for scopes, authority in session.execute(select(Credential.scopes, Credential.authority)):
        ifi = ifi_of(authority)
        if ifi is None:
            continue
        (allowed if DEFINING_SCOPES & set(scopes or ()) else denied).add(ifi)
    return denied - allowed


def _definitions_in(statement: dict, activity_id: str) -> Iterator[dict]:
    yield from _activity_definitions(statement.get("object"), activity_id)
    context = statement.get("context") or {}
    for value in (context.get("contextActivities") or {}).values():
        for activity in value if isinstance(value, list) else [value]:
            yield from _activity_definitions(activity, activity_id)
    obj = statement.get("object") or {}
    if obj.get("objectType") == "SubStatement":
        yield from _definitions_in(obj, activity_id)


def _activity_definitions(activity: Any, activity_id: str) -> Iterator[dict]:
    if (isinstance(activity, dict) and activity.get("objectType", "Activity") == "Activity"
            and activity.get("id") == activity_id and isinstance(activity.get("definition"), dict)):
        yield activity["definition"]
