"""Turn "which statements" (learners, agents, activities, registrations) into a statement filter."""
from __future__ import annotations

import json
from collections.abc import Iterable

from sqlalchemy.orm import Session

from cairn.accounts.services import Identity, identities_of, user_for_identity
from cairn.errors import CairnError, NotFound
from lrs.forwarding.filters import StatementFilter


class SelectionError(CairnError):
    code = "invalid_selection"


def learner_agents(session: Session, learner: str) -> list[dict]:
    """Every xAPI identity of the learner with this email (a learner's statements may use any)."""
    email = learner.removeprefix("mailto:").strip().lower()
    user = user_for_identity(session, Identity("mbox", f"mailto:{email}"))
    if user is None:
        raise NotFound(f"no learner with email {email}")
    return [identity.to_agent() for identity in identities_of(session, user.id)]


def parse_agent(value: str) -> dict:
    """An xAPI Agent given as JSON, or an email / mailto: IRI."""
    value = value.strip()
    if value.startswith("{"):
        try:
            agent = json.loads(value)
        except ValueError as exc:
            raise SelectionError(f"agent is not valid JSON: {exc}") from exc
        if not isinstance(agent, dict) or Identity.from_agent(agent) is None:
            raise SelectionError("agent must be an xAPI Agent with an inverse functional identifier")
        return agent
    return {"mbox": value if value.startswith("mailto:") else f"mailto:{value}"}


def build_selection(session: Session, *, learners: Iterable[str] = (), agents: Iterable[str] = (),
                    activities: Iterable[str] = (), registrations: Iterable[str] = ()) -> StatementFilter:
    """The filter for an export: statements by any of the learners/agents, about any activity, in any
    registration given (an empty list does not filter)."""
    all_agents = [parse_agent(a) for a in agents if a.strip()]
    for learner in learners:
        if learner.strip():
            all_agents.extend(learner_agents(session, learner))
    return StatementFilter.build(actors=all_agents, activities=[a.strip() for a in activities if a.strip()],
                                 registrations=[r.strip() for r in registrations if r.strip()])
