"""Who learns what: audiences, academic classes and their rosters, assignments and self-enrolment.

Commands flush and never commit. A change in who is assigned refreshes the progress projection for
the learners concerned, so every learner on a pathway has a progress row.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (ColumnElement, Select, String, and_, exists, false, func, literal, null, or_,
                        select, union, union_all)
from sqlalchemy.orm import Session

from cairn.accounts.models import User
from cairn.db import Among, in_values, read_built, typed_null, utcnow
from pathways.errors import InvalidInput, NotFound
from pathways.models import (CLASS_ROLES, AcademicClass, Assignment, Audience, AudienceMember, ClassMember,
                             Pathway)

RULE_OPS = ("equals", "in", "contains")


@dataclass(frozen=True)
class AudienceInfo:
    id: int
    name: str
    description: str
    rules: tuple[dict[str, Any], ...]
    member_ids: tuple[int, ...]  # explicit members


@dataclass(frozen=True)
class ClassInfo:
    id: int
    source: str
    external_id: str
    title: str


@dataclass(frozen=True)
class MembershipInfo:
    class_id: int
    user_id: int
    role: str
    active: bool


@dataclass(frozen=True)
class AssignmentInfo:
    id: int
    lineage: str
    target: str
    audience_id: int | None
    class_id: int | None
    user_id: int | None
    mandatory: bool
    self_enrolled: bool
    due_at: datetime | None
    due_days: int | None
    recurrence_months: int | None
    reminder_days: tuple[int, ...]
    created_at: datetime


@dataclass(frozen=True)
class Enrollment:
    """Why and how a learner is on a pathway lineage, merged over all assignments that reach them."""

    user_id: int
    lineage: str
    mandatory: bool
    due_at: datetime | None
    recurrence_months: int | None
    assignment_ids: tuple[int, ...]


def audience_info(row: Audience, member_ids: Iterable[int]) -> AudienceInfo:
    return AudienceInfo(row.id, row.name, row.description, tuple(row.rules or ()), tuple(sorted(member_ids)))


def class_info(row: AcademicClass) -> ClassInfo:
    return ClassInfo(row.id, row.source, row.external_id, row.title)


def assignment_info(row: Assignment) -> AssignmentInfo:
    return AssignmentInfo(row.id, row.lineage, row.target, row.audience_id, row.class_id, row.user_id,
                          row.mandatory, row.self_enrolled, row.due_at, row.due_days, row.recurrence_months,
                          tuple(row.reminder_days or ()), row.created_at)


# ------------------------------------------------------------------------------------------- audiences


def _check_rules(rules: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    checked = []
    for index, rule in enumerate(rules):
        if not isinstance(rule, dict) or not rule.get("attribute"):
            raise InvalidInput(f"rules.{index}.attribute", "is required")
        op = rule.get("op", "equals")
        if op not in RULE_OPS:
            raise InvalidInput(f"rules.{index}.op", f"must be one of {', '.join(RULE_OPS)}")
        if op == "in" and not isinstance(rule.get("value"), list):
            raise InvalidInput(f"rules.{index}.value", "must be a list for 'in'")
        checked.append({"attribute": str(rule["attribute"]), "op": op, "value": rule.get("value")})
    return checked


def create_audience(session: Session, *, name: str, description: str = "",
                    rules: Iterable[dict[str, Any]] = (), member_ids: Iterable[int] = ()) -> AudienceInfo:
    """Create an audience of explicit members and/or attribute rules (all rules must hold)."""
    if not name.strip():
        raise InvalidInput("name", "must not be empty")
    row = Audience(name=name.strip(), description=description, rules=_check_rules(rules))
    session.add(row)
    session.flush()
    members = _set_members(session, row, member_ids)
    _refresh_for_audience(session, row.id)
    return audience_info(row, members)


def update_audience(session: Session, audience_id: int, *, name: str | None = None,
                    description: str | None = None, rules: Iterable[dict[str, Any]] | None = None,
                    member_ids: Iterable[int] | None = None) -> AudienceInfo:
    """Change an audience; learners who join or leave get their progress rows refreshed."""
    row = _audience(session, audience_id)
    before = set(audience_member_ids(session, audience_id))
    if name is not None:
        if not name.strip():
            raise InvalidInput("name", "must not be empty")
        row.name = name.strip()
    if description is not None:
        row.description = description
    if rules is not None:
        row.rules = _check_rules(rules)
    if member_ids is not None:
        _set_members(session, row, member_ids)
    session.flush()
    after = set(audience_member_ids(session, audience_id))
    _refresh_users(session, before | after)
    explicit = session.scalars(select(AudienceMember.user_id).where(AudienceMember.audience_id == row.id))
    return audience_info(row, explicit)


def add_audience_member(session: Session, audience_id: int, user_id: int) -> None:
    """Add one explicit member (idempotent)."""
    row = _audience(session, audience_id)
    _require_user(session, user_id, "user_id")
    exists = session.scalar(select(AudienceMember.id).where(AudienceMember.audience_id == row.id,
                                                            AudienceMember.user_id == user_id))
    if exists is None:
        session.add(AudienceMember(audience_id=row.id, user_id=user_id))
        session.flush()
        _refresh_users(session, {user_id})


def remove_audience_member(session: Session, audience_id: int, user_id: int) -> None:
    for member in session.scalars(select(AudienceMember).where(AudienceMember.audience_id == audience_id,
                                                               AudienceMember.user_id == user_id)):
        session.delete(member)
    session.flush()
    _refresh_users(session, {user_id})


def delete_audience(session: Session, audience_id: int) -> None:
    row = _audience(session, audience_id)
    members = audience_member_ids(session, audience_id)
    session.delete(row)
    session.flush()
    _refresh_users(session, members)


def get_audience(session: Session, audience_id: int) -> AudienceInfo:
    row = _audience(session, audience_id)
    explicit = session.scalars(select(AudienceMember.user_id).where(AudienceMember.audience_id == row.id))
    return audience_info(row, explicit)


def list_audiences(session: Session) -> list[AudienceInfo]:
    rows = list(session.scalars(select(Audience).order_by(Audience.name)))
    members: dict[int, list[int]] = {}
    for audience_id, user_id in session.execute(select(AudienceMember.audience_id, AudienceMember.user_id)):
        members.setdefault(audience_id, []).append(user_id)
    return [audience_info(r, members.get(r.id, [])) for r in rows]


def user_matches_rules(user: User, rules: Iterable[dict[str, Any]]) -> bool:
    """Whether a user's attributes (and role) satisfy every rule; an audience without rules matches no one."""
    rules = list(rules)
    if not rules:
        return False
    attributes = dict(user.attributes or {})
    attributes.setdefault("role", user.role)
    for rule in rules:
        value = attributes.get(rule["attribute"])
        wanted = rule.get("value")
        op = rule.get("op", "equals")
        if op == "equals" and not _same(value, wanted):
            return False
        if op == "in" and not any(_same(value, w) for w in (wanted or [])):
            return False
        if op == "contains":
            if isinstance(value, list):
                if not any(_same(v, wanted) for v in value):
                    return False
            elif not (isinstance(value, str) and str(wanted).lower() in value.lower()):
                return False
    return True


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.strip().lower() == b.strip().lower()
    return bool(a == b)


def audience_member_ids(session: Session, audience_id: int) -> list[int]:
    """Every active user in the audience: explicit members plus those matching its rules."""
    row = _audience(session, audience_id)
    ids = set(session.scalars(select(AudienceMember.user_id).where(AudienceMember.audience_id == row.id)))
    if row.rules:
        for user in session.scalars(select(User).where(User.active.is_(True))):
            if user_matches_rules(user, row.rules):
                ids.add(user.id)
    return sorted(ids)


def audiences_of(session: Session, user_id: int) -> list[int]:
    """Ids of the audiences a user belongs to (explicitly or by rules)."""
    user = session.get(User, user_id)
    if user is None:
        return []
    explicit = set(session.scalars(select(AudienceMember.audience_id)
                                   .where(AudienceMember.user_id == user_id)))
    for audience in session.scalars(select(Audience)):
        if audience.rules and user_matches_rules(user, audience.rules):
            explicit.add(audience.id)
    return sorted(explicit)


def _set_members(session: Session, row: Audience, member_ids: Iterable[int]) -> list[int]:
    wanted = sorted(set(member_ids))
    for user_id in wanted:
        _require_user(session, user_id, "member_ids")
    current = {m.user_id: m for m in session.scalars(select(AudienceMember).where(
        AudienceMember.audience_id == row.id))}
    for user_id, member in current.items():
        if user_id not in wanted:
            session.delete(member)
    for user_id in wanted:
        if user_id not in current:
            session.add(AudienceMember(audience_id=row.id, user_id=user_id))
    session.flush()
    return wanted


def _audience(session: Session, audience_id: int) -> Audience:
    row = session.get(Audience, audience_id)
    if row is None:
        raise NotFound(f"no audience {audience_id}")
    return row


def _require_user(session: Session, user_id: int, field_name: str) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise InvalidInput(field_name, f"no user {user_id}")
    return user


# --------------------------------------------------------------------------------------------- classes


def ensure_class(session: Session, *, source: str, external_id: str, title: str) -> ClassInfo:
    """The class for an external context (e.g. source = LTI issuer, external_id = context id), made if new.

    A changed title is updated. Idempotent: LTI calls this on every launch.
    """
    if not source or not external_id:
        raise InvalidInput("external_id" if source else "source", "is required")
    row = session.scalar(select(AcademicClass).where(AcademicClass.source == source,
                                                     AcademicClass.external_id == external_id))
    if row is None:
        row = AcademicClass(source=source, external_id=external_id, title=title or external_id)
        session.add(row)
    elif title and row.title != title:
        row.title = title
    session.flush()
    return class_info(row)


def create_class(session: Session, *, title: str) -> ClassInfo:
    """A class made by hand (source ``manual``)."""
    if not title.strip():
        raise InvalidInput("title", "must not be empty")
    return ensure_class(session, source="manual", external_id=str(uuid.uuid4()), title=title.strip())


def get_class(session: Session, class_id: int) -> ClassInfo:
    return class_info(_class(session, class_id))


def list_classes(session: Session) -> list[ClassInfo]:
    return [class_info(r) for r in session.scalars(select(AcademicClass).order_by(AcademicClass.title))]


def set_class_membership(session: Session, class_id: int, user_id: int, role: str,
                         active: bool = True) -> MembershipInfo:
    """Add or update a member of a class. Members who leave are made inactive, never deleted."""
    if role not in CLASS_ROLES:
        raise InvalidInput("role", f"must be one of {', '.join(CLASS_ROLES)}")
    _class(session, class_id)
    _require_user(session, user_id, "user_id")
    row = session.scalar(select(ClassMember).where(ClassMember.class_id == class_id,
                                                   ClassMember.user_id == user_id))
    changed = row is None or row.role != role or row.active != active
    if row is None:
        row = ClassMember(class_id=class_id, user_id=user_id, role=role, active=active)
        session.add(row)
    else:
        row.role, row.active = role, active
    row.updated_at = utcnow()
    session.flush()
    if changed:
        _refresh_users(session, {user_id})
    return MembershipInfo(class_id, user_id, role, active)


def class_members(session: Session, class_id: int, *, role: str | None = None,
                  active_only: bool = True) -> list[MembershipInfo]:
    """Members of a class, optionally only learners or instructors."""
    query = select(ClassMember).where(ClassMember.class_id == class_id)
    if role:
        query = query.where(ClassMember.role == role)
    if active_only:
        query = query.where(ClassMember.active.is_(True))
    return [MembershipInfo(m.class_id, m.user_id, m.role, m.active)
            for m in session.scalars(query.order_by(ClassMember.user_id))]


def classes_taught_by(session: Session, user_id: int) -> list[ClassInfo]:
    """Classes where the user is an active instructor."""
    rows = session.scalars(select(AcademicClass).join(ClassMember, ClassMember.class_id == AcademicClass.id)
        .where(ClassMember.user_id == user_id, ClassMember.role == "instructor", ClassMember.active.is_(True))
        .order_by(AcademicClass.title))
    return [class_info(r) for r in rows]


def classes_of(session: Session, user_id: int) -> list[ClassInfo]:
    """Classes where the user is an active member in any role."""
    rows = session.scalars(select(AcademicClass).join(ClassMember, ClassMember.class_id == AcademicClass.id)
        .where(ClassMember.user_id == user_id, ClassMember.active.is_(True)).order_by(AcademicClass.title))
    return [class_info(r) for r in rows]


def is_instructor(session: Session, user_id: int) -> bool:
    return bool(classes_taught_by(session, user_id))


def learners_taught_by(session: Session, user_id: int) -> set[int]:
    """Ids of active learners in the classes the user teaches."""
    class_ids = [c.id for c in classes_taught_by(session, user_id)]
    if not class_ids:
        return set()
    return set(session.scalars(select(ClassMember.user_id).where(
        ClassMember.class_id.in_(class_ids), ClassMember.role == "learner", ClassMember.active.is_(True))))


def delete_class(session: Session, class_id: int) -> None:
    row = _class(session, class_id)
    members = [m.user_id for m in class_members(session, class_id, active_only=False)]
    session.delete(row)
    session.flush()
    _refresh_users(session, members)


def _class(session: Session, class_id: int) -> AcademicClass:
    row = session.get(AcademicClass, class_id)
    if row is None:
        raise NotFound(f"no class {class_id}")
    return row


# ----------------------------------------------------------------------------------------- assignments


def assign_pathway(session: Session, pathway_id: int, *, audience_id: int | None = None,
                   class_id: int | None = None, user_id: int | None = None, mandatory: bool = True,
                   due_at: datetime | None = None, due_days: int | None = None,
                   recurrence_months: int | None = None, reminder_days: Iterable[int] = ()) -> AssignmentInfo:
    """Assign a pathway (all its versions) to exactly one audience, class or learner.

    Mandatory assignments land on the learner's home; optional ones appear in the catalogue for
    self-enrolment. The due date is absolute (``due_at``) or relative (``due_days`` after assignment);
    ``recurrence_months`` makes a completion count for that long (compliance training).
    """
    pathway = session.get(Pathway, pathway_id)
    if pathway is None:
        raise InvalidInput("pathway_id", f"no pathway {pathway_id}")
    targets = [(name, value) for name, value in (("audience", audience_id), ("class", class_id),
                                                  ("learner", user_id)) if value is not None]
    if len(targets) != 1:
        raise InvalidInput("target", "give exactly one of audience_id, class_id, user_id")
    if due_at is not None and due_days is not None:
        raise InvalidInput("due_days", "give an absolute or a relative due date, not both")
    if due_days is not None and due_days < 0:
        raise InvalidInput("due_days", "must not be negative")
    if recurrence_months is not None and recurrence_months < 1:
        raise InvalidInput("recurrence_months", "must be at least 1")
    reminders = sorted({int(d) for d in reminder_days}, reverse=True)
    if any(d < 0 for d in reminders):
        raise InvalidInput("reminder_days", "must not be negative")
    if audience_id is not None:
        _audience(session, audience_id)
    if class_id is not None:
        if session.get(AcademicClass, class_id) is None:
            raise InvalidInput("class_id", f"no class {class_id}")
    if user_id is not None:
        _require_user(session, user_id, "user_id")
    row = Assignment(lineage=pathway.lineage, target=targets[0][0], audience_id=audience_id,
                     class_id=class_id, user_id=user_id, mandatory=mandatory, due_at=due_at,
                     due_days=due_days, recurrence_months=recurrence_months, reminder_days=reminders)
    session.add(row)
    session.flush()
    _refresh_users(session, assignment_user_ids(session, row.id))
    return assignment_info(row)


def unassign(session: Session, assignment_id: int) -> None:
    """Remove an assignment; learners keep their records."""
    row = session.get(Assignment, assignment_id)
    if row is None:
        raise NotFound(f"no assignment {assignment_id}")
    users = assignment_user_ids(session, assignment_id)
    session.delete(row)
    session.flush()
    _refresh_users(session, users)


def list_assignments(session: Session, *, pathway_id: int | None = None, audience_id: int | None = None,
                     class_id: int | None = None, user_id: int | None = None) -> list[AssignmentInfo]:
    query = select(Assignment)
    if pathway_id is not None:
        pathway = session.get(Pathway, pathway_id)
        query = query.where(Assignment.lineage == (pathway.lineage if pathway else ""))
    if audience_id is not None:
        query = query.where(Assignment.audience_id == audience_id)
    if class_id is not None:
        query = query.where(Assignment.class_id == class_id)
    if user_id is not None:
        query = query.where(Assignment.user_id == user_id)
    return [assignment_info(r) for r in session.scalars(query.order_by(Assignment.id))]


def assignment_user_ids(session: Session, assignment_id: int) -> list[int]:
    """The learners an assignment reaches now."""
    row = session.get(Assignment, assignment_id)
    if row is None:
        return []
    if row.target == "learner":
        return [row.user_id] if row.user_id is not None else []
    if row.target == "class":
        return sorted(m.user_id for m in class_members(session, row.class_id, role="learner"))  # type: ignore[arg-type]
    return audience_member_ids(session, row.audience_id)  # type: ignore[arg-type]


def enrollments_of(session: Session, user_id: int) -> dict[str, Enrollment]:
    """Every pathway lineage a learner is on (mandatory assignments and self-enrolments), by lineage.

    Optional assignments the learner has not enrolled in are left out: they are the catalogue.
    """
    return enrollments_for(session, [user_id]).get(user_id, {})


def enrollments_for(session: Session, user_ids: Iterable[int]) -> dict[int, dict[str, Enrollment]]:
    """``enrollments_of`` for many learners at once, in a fixed number of queries."""
    result: dict[int, dict[str, Enrollment]] = {}
    for user_id, rows in assignments_reaching_many(session, user_ids).items():
        mine: dict[str, Enrollment] = {}
        for row in rows:
            if not row.mandatory and not row.self_enrolled:
                continue
            due = row.due_at
            if row.due_days is not None:
                due = row.created_at + timedelta(days=row.due_days)
            previous = mine.get(row.lineage)
            if previous is None:
                mine[row.lineage] = Enrollment(user_id, row.lineage, row.mandatory, due,
                                               row.recurrence_months, (row.id,))
            else:
                dues = [d for d in (previous.due_at, due) if d is not None]
                recurrences = [r for r in (previous.recurrence_months, row.recurrence_months) if r]
                mine[row.lineage] = Enrollment(user_id, row.lineage, previous.mandatory or row.mandatory,
                                               min(dues) if dues else None,
                                               min(recurrences) if recurrences else None,
                                               previous.assignment_ids + (row.id,))
        result[user_id] = mine
    return result


def assignments_reaching_many(session: Session, user_ids: Iterable[int]) -> dict[int, list[Any]]:
    """The assignments that reach each learner (directly, by class as a learner, or by audience,
    listed or by rules), in order of id, as rows of their columns (``_ASSIGNMENT_COLUMNS``); one
    query (``_assignments_and_learners``). A learner who does not exist has no entry."""
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    users: dict[int, Any] = {}
    reached: dict[int, dict[int, Any]] = {}
    ruled: list[Any] = []
    for row in read_built(session, _assignments_and_learners, {"ids": ids}):
        if row.kind == "user":
            users[row.learner] = row
        elif row.kind == "rules":
            ruled.append(row)
        else:
            reached.setdefault(row.learner, {})[row.id] = row
    for user in users.values():
        if user.active:
            for row in ruled:
                if user_matches_rules(user, row.attributes):
                    reached.setdefault(user.learner, {})[row.id] = row
    return {user_id: [mine[n] for n in sorted(mine)]
            for user_id in users for mine in (reached.get(user_id, {}),)}


def _kind(name: str) -> Any:
    return literal(name, String).label("kind")


_ASSIGNMENT_COLUMNS = (Assignment.id, Assignment.lineage, Assignment.target, Assignment.audience_id,
                       Assignment.class_id, Assignment.user_id, Assignment.mandatory,
                       Assignment.self_enrolled, Assignment.due_at, Assignment.due_days,
                       Assignment.recurrence_months, Assignment.created_at)


def _assignments_and_learners(among: Among) -> Any:
    """In one query (the projection derives a batch's learners with it; each round trip is part of
    a batch's fixed cost): the learners (kind "user": learner, active, role, attributes), the
    assignments that reach them directly, by their active learner classes and by the audiences
    they are listed in (kind "direct", "class", "audience": learner and the assignment's columns),
    and the assignments to audiences with rules (kind "rules": the rules as attributes, and the
    assignment's columns), whose rules are matched here. Built once: as IN lists its text changed
    with the number of learners, so PostgreSQL parsed and planned it afresh for nearly every batch."""
    none = typed_null
    nothing = [none(column) for column in _ASSIGNMENT_COLUMNS]
    no_user = [none(User.active), none(User.role), none(User.attributes)]
    count = func.jsonb_array_length if among.postgresql else func.json_array_length
    return union_all(
        select(_kind("user"), User.id.label("learner"), User.active, User.role, User.attributes, *nothing)
        .where(among(User.id)),
        select(_kind("direct"), Assignment.user_id, *no_user, *_ASSIGNMENT_COLUMNS)
        .where(among(Assignment.user_id)),
        select(_kind("class"), ClassMember.user_id, *no_user, *_ASSIGNMENT_COLUMNS)
        .join(Assignment, Assignment.class_id == ClassMember.class_id)
        .where(among(ClassMember.user_id), ClassMember.role == "learner", ClassMember.active.is_(True)),
        select(_kind("audience"), AudienceMember.user_id, *no_user, *_ASSIGNMENT_COLUMNS)
        .join(Assignment, Assignment.audience_id == AudienceMember.audience_id)
        .where(among(AudienceMember.user_id)),
        select(_kind("rules"), null(), none(User.active), none(User.role), Audience.rules,
               *_ASSIGNMENT_COLUMNS)
        .join(Assignment, Assignment.audience_id == Audience.id).where(count(Audience.rules) > 0))


@dataclass(frozen=True)
class LateAssignments:
    """The assignments whose due date has passed at a moment, for reports (see ``late_assignments``)."""

    condition: ColumnElement[bool]  # on Assignment: mandatory or self-enrolled, and past due
    rule_members: dict[int, list[int]]  # rule audiences with a late assignment: their members


def late_assignments(session: Session, now: datetime) -> LateAssignments | None:
    """The assignments past due at ``now`` (None if there are none): a few queries, any number of learners.

    An enrollment is due at the earliest due date of the mandatory or self-enrolled assignments that
    reach the learner (``enrollments_for``), so it is past due exactly when one of them is. Rule
    audiences are matched in Python (their rules are not SQL), and only when they have a late one.
    """
    deadlines = [and_(Assignment.due_days.is_(None), Assignment.due_at < now)]
    relative = select(Assignment.due_days).where(Assignment.due_days.is_not(None)).distinct()
    for days in session.scalars(relative):
        deadlines.append(and_(Assignment.due_days == days,
                              Assignment.created_at < now - timedelta(days=days)))
    late = and_(or_(Assignment.mandatory.is_(True), Assignment.self_enrolled.is_(True)), or_(*deadlines))
    late_audiences = sorted(session.scalars(select(Assignment.audience_id).where(
        late, Assignment.audience_id.is_not(None)).distinct()))
    if not late_audiences and session.scalar(select(Assignment.id).where(late).limit(1)) is None:
        return None
    ruled = [a for a in session.scalars(select(Audience).where(Audience.id.in_(late_audiences or [-1])))
             if a.rules]
    members: dict[int, list[int]] = {}
    if ruled:
        users = list(session.scalars(select(User).where(User.active.is_(True))))
        members = {a.id: [u.id for u in users if user_matches_rules(u, a.rules)] for a in ruled}
    return LateAssignments(late, members)


def past_due_clause(late: LateAssignments | None, user_id: Any, lineage: Any) -> ColumnElement[bool]:
    """SQL, row by row: the learner in column ``user_id`` is past due on the lineage in ``lineage``.

    One EXISTS per way an assignment reaches a learner, each an index lookup: a page ordered by id
    stops at its last row instead of finding every late learner first.
    """
    if late is None:
        return false()
    reach = [exists(select(Assignment.id).where(late.condition, Assignment.lineage == lineage,
                                                Assignment.user_id == user_id)),
             exists(select(Assignment.id).join(ClassMember, ClassMember.class_id == Assignment.class_id)
                    .where(late.condition, Assignment.lineage == lineage, ClassMember.user_id == user_id,
                           ClassMember.role == "learner", ClassMember.active.is_(True))),
             exists(select(Assignment.id)
                    .join(AudienceMember, AudienceMember.audience_id == Assignment.audience_id)
                    .where(late.condition, Assignment.lineage == lineage, AudienceMember.user_id == user_id))]
    for audience_id, members in late.rule_members.items():
        reach.append(and_(in_values(user_id, members), exists(select(Assignment.id).where(
            late.condition, Assignment.lineage == lineage, Assignment.audience_id == audience_id))))
    return or_(*reach)


def past_due_pairs(late: LateAssignments) -> Select[Any]:
    """SQL, as a set: every (user_id, lineage) past due, for counting many rows at once (hash joins)."""
    parts = [select(Assignment.user_id.label("user_id"), Assignment.lineage.label("lineage"))
             .where(late.condition, Assignment.user_id.is_not(None)),
             select(ClassMember.user_id, Assignment.lineage)
             .join(ClassMember, ClassMember.class_id == Assignment.class_id)
             .where(late.condition, ClassMember.role == "learner", ClassMember.active.is_(True)),
             select(AudienceMember.user_id, Assignment.lineage)
             .join(AudienceMember, AudienceMember.audience_id == Assignment.audience_id)
             .where(late.condition)]
    for audience_id, members in late.rule_members.items():
        parts.append(select(User.id, Assignment.lineage)
                     .join(Assignment, Assignment.audience_id == audience_id)
                     .where(late.condition, in_values(User.id, members)))
    return union(*parts)


def catalogue_for(session: Session, user_id: int) -> list[str]:
    """Lineages offered to this learner for self-enrolment (optional assignments that reach them)."""
    enrolled = enrollments_of(session, user_id)
    offered = {row.lineage for row in _assignments_reaching(session, user_id) if not row.mandatory}
    return sorted(offered - set(enrolled))


def self_enroll(session: Session, user_id: int, pathway_id: int) -> AssignmentInfo:
    """Enrol a learner in an optional pathway offered to them in the catalogue."""
    pathway = session.get(Pathway, pathway_id)
    if pathway is None or pathway.status != "published":
        raise InvalidInput("pathway_id", "no published pathway with this id")
    if pathway.lineage in enrollments_of(session, user_id):
        existing = session.scalar(select(Assignment).where(Assignment.lineage == pathway.lineage,
                                                           Assignment.user_id == user_id))
        if existing is not None:
            return assignment_info(existing)
        raise InvalidInput("pathway_id", "already assigned")
    if pathway.lineage not in catalogue_for(session, user_id):
        raise InvalidInput("pathway_id", "this pathway is not offered for self-enrolment to this learner")
    row = Assignment(lineage=pathway.lineage, target="learner", user_id=user_id, mandatory=False,
                     self_enrolled=True, reminder_days=[])
    session.add(row)
    session.flush()
    _refresh_users(session, {user_id})
    return assignment_info(row)


def _assignments_reaching(session: Session, user_id: int) -> list[Assignment]:
    return assignments_reaching_many(session, [user_id]).get(user_id, [])


def learners_of_lineage(session: Session, lineage: str) -> list[int]:
    """Every learner enrolled (mandatory or self-enrolled) in a pathway lineage."""
    users: set[int] = set()
    for row in session.scalars(select(Assignment).where(Assignment.lineage == lineage)):
        if row.mandatory or row.self_enrolled:
            users.update(assignment_user_ids(session, row.id))
    return sorted(users)


def _refresh_for_audience(session: Session, audience_id: int) -> None:
    _refresh_users(session, audience_member_ids(session, audience_id))


def _refresh_users(session: Session, user_ids: Iterable[int]) -> None:
    from pathways import refresh
    refresh.refresh_users(session, user_ids)
