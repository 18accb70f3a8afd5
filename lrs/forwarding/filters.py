"""Which statements a forwarding target wants: a filter on verb, activity, actor and pathway."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from cairn.accounts.services import Identity
from lrs.forwarding.registry import PathwayActivities, pathway_activities_of  # noqa: F401  (re-exported)
from lrs.services import get_statement

VOIDED = "http://adlnet.gov/expapi/verbs/voided"
CONTEXT_ACTIVITY_KINDS = ("parent", "grouping", "category", "other")

# Given a pathway reference, the activity IRIs that belong to it (registered by the pathways package,
# which lrs may not import). Without a resolver a pathway reference is matched as an activity IRI.
PathwayResolver = Callable[[str], Iterable[str]]
def related_activity_ids(statement: dict) -> set[str]:
    """The statement's object activity and its context activities (xAPI 1.0.3 §4.1.6.2)."""
    ids: set[str] = set()
    target = statement.get("object") or {}
    if target.get("objectType", "Activity") == "Activity" and "id" in target:
        ids.add(str(target["id"]))
    activities = (statement.get("context") or {}).get("contextActivities") or {}
    for kind in CONTEXT_ACTIVITY_KINDS:
        value = activities.get(kind) or []
        for activity in value if isinstance(value, list) else [value]:
            if isinstance(activity, dict) and "id" in activity:
                ids.add(str(activity["id"]))
    return ids


def actor_identities(statement: dict) -> set[Identity]:
    """The actor's identity, or for a group the group's and each member's."""
    actor = statement.get("actor") or {}
    found = {i for i in [Identity.from_agent(actor)] if i is not None}
    for member in actor.get("member") or []:
        identity = Identity.from_agent(member)
        if identity is not None:
            found.add(identity)
    return found


@dataclass(frozen=True)
class StatementFilter:
    """Matches a statement when it matches each non-empty criterion (any value within one)."""

    verbs: frozenset[str] = frozenset()
    activities: frozenset[str] = frozenset()
    actors: frozenset[Identity] = frozenset()
    pathway_activities: frozenset[str] = field(default_factory=frozenset)
    registrations: frozenset[str] = frozenset()

    @classmethod
    def build(cls, *, verbs: Iterable[str] = (), activities: Iterable[str] = (), actors: Iterable[dict] = (),
              pathways: Iterable[str] = (), registrations: Iterable[str] = (),
              resolve_pathway: PathwayResolver | None = None) -> StatementFilter:
        identities = {Identity.from_agent(agent) for agent in actors}
        pathway_activities: set[str] = set()
        for pathway in pathways:
            pathway_activities.add(pathway)
            if resolve_pathway is not None:
                pathway_activities.update(resolve_pathway(pathway))
        return cls(frozenset(verbs), frozenset(activities), frozenset(i for i in identities if i),
                   frozenset(pathway_activities), frozenset(r.lower() for r in registrations))

    @property
    def is_everything(self) -> bool:
        return not (self.verbs or self.activities or self.actors or self.pathway_activities
                    or self.registrations)

    def matches(self, statement: dict) -> bool:
        if self.verbs and (statement.get("verb") or {}).get("id") not in self.verbs:
            return False
        if self.activities or self.pathway_activities:
            related = related_activity_ids(statement)
            if self.activities and not related & self.activities:
                return False
            if self.pathway_activities and not related & self.pathway_activities:
                return False
        if self.registrations:
            registration = str((statement.get("context") or {}).get("registration", "")).lower()
            if registration not in self.registrations:
                return False
        return not (self.actors and not actor_identities(statement) & self.actors)


def wants(session: Session, statement_filter: StatementFilter, statement: dict) -> bool:
    """Whether a statement passes the filter; a voiding statement passes when its target does.

    So a forwarded or exported statement that is voided later is voided on the other side too.
    """
    if statement_filter.matches(statement):
        return True
    voided_id = voided_target_id(statement)
    if voided_id is None or statement_filter.is_everything:
        return False
    voided = get_statement(session, voided_id, voided=True)
    return voided is not None and statement_filter.matches(voided.statement)


def is_voiding(statement: dict) -> bool:
    return (statement.get("verb") or {}).get("id") == VOIDED


def voided_target_id(statement: dict) -> str | None:
    target = statement.get("object") or {}
    if is_voiding(statement) and target.get("objectType") == "StatementRef":
        return str(target.get("id"))
    return None
