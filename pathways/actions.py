"""What learners and instructors do in Cairn's own pages, recorded as xAPI statements.

Marking a document as read, an instructor marking attendance, launching content: each writes a
statement through ``lrs.services`` (with Cairn's authority) or a launch row; progress then follows
from the statement like from any other.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cairn.accounts.models import User
from cairn.db import in_values, utcnow
from lrs import services as lrs_services
from pathways.assessments import _actor
from pathways.catalogue import VERB_ATTENDED, VERB_READ, VERB_VOIDED
from pathways.errors import Conflict, Forbidden, InvalidInput, NotFound
from pathways.models import ProgressFact, Step, StepLaunch
from pathways.people import learners_taught_by
from pathways.projection import system_authority

ACTIVITY_TYPES = {
    "session": "http://adlnet.gov/expapi/activities/meeting",
    "document": "http://adlnet.gov/expapi/activities/file",
}


@dataclass(frozen=True)
class AttendanceEntry:
    user_id: int
    name: str
    attended: bool
    statement_id: str | None


def _step(session: Session, step_id: int, kind: str | None = None) -> Step:
    step = session.get(Step, step_id)
    if step is None:
        raise NotFound(f"no step {step_id}")
    if kind is not None and step.kind != kind:
        raise InvalidInput("step_id", f"step {step_id} is not a {kind} step")
    return step


def _statement(session: Session, user: User, verb: str, display: str, step: Step,
               now: datetime, extra_context: dict[str, Any] | None = None) -> dict[str, Any]:
    definition: dict[str, Any] = {"name": {"en-US": step.title}}
    if step.kind in ACTIVITY_TYPES:
        definition["type"] = ACTIVITY_TYPES[step.kind]
    context: dict[str, Any] = {"contextActivities": {"parent": [{"id": step.pathway.activity_iri,
                                                                 "objectType": "Activity"}]}}
    context.update(extra_context or {})
    return {"id": str(uuid.uuid4()), "actor": _actor(session, user), "timestamp": now.isoformat(),
            "verb": {"id": verb, "display": {"en-US": display}},
            "object": {"objectType": "Activity", "id": step.activity_iri, "definition": definition},
            "context": context}


def record_reading(session: Session, user_id: int, step_id: int, *, now: datetime | None = None) -> str:
    """A learner records a document or link as read; returns the statement id."""
    step = _step(session, step_id, "document")
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    verb = step.done_verbs[0] if step.done_verbs else VERB_READ
    statement = _statement(session, user, verb, "read", step, now or utcnow())
    return lrs_services.store_statements(session, [statement], authority=system_authority())[0].id


def can_mark_attendance(session: Session, marker_id: int, learner_id: int) -> bool:
    marker = session.get(User, marker_id)
    if marker is None:
        return False
    return marker.is_admin or learner_id in learners_taught_by(session, marker_id)


def mark_attendance(session: Session, step_id: int, learner_id: int, *, attended: bool, marked_by: int,
                    now: datetime | None = None) -> str | None:
    """An instructor (of a class the learner is in) or an administrator marks attendance of a session.

    Attended: records an ``attended`` statement (refused beyond the session's capacity). Not attended:
    voids the earlier ``attended`` statements, so the step is no longer done. Returns the statement id.
    """
    step = _step(session, step_id, "session")
    if not can_mark_attendance(session, marked_by, learner_id):
        raise Forbidden("only an administrator or the learner's instructor can mark attendance")
    learner = session.get(User, learner_id)
    if learner is None:
        raise NotFound(f"no user {learner_id}")
    current = _attendance_facts(session, step)
    mine = [f for f in current if f[0] == learner_id]
    now = now or utcnow()
    if attended:
        if mine:
            return mine[0][1]
        attendees = {f[0] for f in current}
        if step.session_capacity is not None and len(attendees) >= step.session_capacity:
            raise Conflict(f"the session is full ({step.session_capacity} places)")
        marker = session.get(User, marked_by)
        instructor = {"instructor": _actor(session, marker)} if marker and marker.identities else {}
        statement = _statement(session, learner, VERB_ATTENDED, "attended", step, now, instructor)
        return lrs_services.store_statements(session, [statement], authority=system_authority())[0].id
    voids = [{"id": str(uuid.uuid4()), "actor": system_authority(), "timestamp": now.isoformat(),
              "verb": {"id": VERB_VOIDED, "display": {"en-US": "voided"}},
              "object": {"objectType": "StatementRef", "id": statement_id}} for _, statement_id in mine]
    if voids:
        lrs_services.store_statements(session, voids, authority=system_authority())
    return None


def _attendance_facts(session: Session, step: Step) -> list[tuple[int, str]]:
    """(learner id, statement id) of valid ``attended`` statements about a session step."""
    from cairn.accounts.models import UserIdentity
    rows = session.execute(select(UserIdentity.user_id, ProgressFact.statement_id).join(
        UserIdentity, (UserIdentity.kind == ProgressFact.identity_kind) &
        (UserIdentity.value == ProgressFact.identity_value)).where(
        ProgressFact.activity_iri == step.activity_iri, ProgressFact.verb == VERB_ATTENDED,
        ProgressFact.voided_by.is_(None)).order_by(ProgressFact.sequence))
    return [(user_id, statement_id) for user_id, statement_id in rows]


def attendance_sheet(session: Session, step_id: int, learner_ids: list[int]) -> list[AttendanceEntry]:
    """Who attended a session, for the given learners (the instructor's class, or an audience)."""
    step = _step(session, step_id, "session")
    attended = {}
    for user_id, statement_id in _attendance_facts(session, step):
        attended.setdefault(user_id, statement_id)
    users = {u.id: u for u in session.scalars(select(User).where(in_values(User.id, learner_ids)))}
    return [AttendanceEntry(uid, users[uid].name, uid in attended, attended.get(uid))
            for uid in sorted(users, key=lambda i: users[i].name)]


def record_step_launch(session: Session, step_id: int, user_id: int, registration: str | None = None) -> str:
    """Remember that a step launched content for a learner in ``registration`` (made if not given).

    Statements in that registration count for the step, whatever actor the content uses.
    """
    step = _step(session, step_id)
    if session.get(User, user_id) is None:
        raise NotFound(f"no user {user_id}")
    registration = (registration or str(uuid.uuid4())).lower()
    try:
        uuid.UUID(registration)
    except ValueError as exc:
        raise InvalidInput("registration", "must be a UUID") from exc
    existing = session.get(StepLaunch, registration)
    if existing is not None:
        if existing.step_id != step.id or existing.user_id != user_id:
            raise Conflict("this registration belongs to another launch")
        return registration
    session.add(StepLaunch(registration=registration, step_id=step.id, user_id=user_id))
    session.flush()
    from pathways import refresh
    refresh.refresh_user(session, user_id)
    return registration


def launches_of(session: Session, user_id: int, step_id: int) -> list[str]:
    """Registrations launched for a learner on a step, oldest first."""
    return list(session.scalars(select(StepLaunch.registration).where(
        StepLaunch.user_id == user_id, StepLaunch.step_id == step_id).order_by(StepLaunch.created_at)))
