"""Queries on what learners achieved: their pathways, step states, certifications.

Read-only; everything comes from the progress projection. Statuses that depend on the clock
(overdue, expired) are decided here, at read time, from the stored dates, so the projection itself
never depends on when it ran.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from cairn.accounts.models import User
from cairn.db import utcnow
from pathways.catalogue import PathwayInfo, StepInfo, pathway_info, step_info
from pathways.errors import NotFound
from pathways.models import CertificateCode, CertificationAward, Pathway, PathwayProgress, StepProgress
from pathways.people import Enrollment, enrollments_of

STATUS_ORDER = {"overdue": 0, "expired": 1, "in_progress": 2, "not_started": 3, "completed": 4}


@dataclass(frozen=True)
class LearnerPathway:
    """A learner's progress on one pathway version, with the statement ids behind each value."""

    user_id: int
    pathway: PathwayInfo
    status: str  # not_started, in_progress, completed, overdue, expired (at ``now``)
    percent: int
    mandatory: bool
    assigned: bool
    due_at: datetime | None
    completed_at: datetime | None
    expires_at: datetime | None
    renewal_opens_at: datetime | None
    renewal_percent: int
    best_score: float | None
    attempts: int
    last_activity_at: datetime | None
    evidence: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class StepState:
    """A learner's state on a step and whether they may do it now."""

    step: StepInfo
    state: str  # not_started, in_progress, done
    availability: str  # done, available, locked
    locked_by: tuple[str, ...]  # titles of the steps that must be done first
    done_at: datetime | None
    best_score: float | None
    attempts: int
    last_activity_at: datetime | None
    evidence: dict[str, list[str]] = field(default_factory=dict)
    withdrawn: tuple[dict[str, str], ...] = ()


@dataclass(frozen=True)
class LearnerPathwayDetail:
    progress: LearnerPathway
    steps: tuple[StepState, ...]


@dataclass(frozen=True)
class CertificationInfo:
    id: int
    user_id: int
    user_name: str
    pathway: PathwayInfo
    earned_at: datetime
    expires_at: datetime | None
    status: str  # active, expired, revoked
    code: str | None
    revoked_by: tuple[str, ...]
    statement_ids: tuple[str, ...]


def effective_status(status: str, due_at: datetime | None, expires_at: datetime | None,
                     now: datetime) -> str:
    """The status at ``now``: completed work expires; unfinished work past its due date is overdue."""
    if status == "completed":
        if expires_at is not None and expires_at <= now:
            return "expired"
        return "completed"
    if due_at is not None and due_at < now:
        return "overdue"
    return status


def _due(enrollment: Enrollment | None, row: PathwayProgress | None) -> datetime | None:
    if row is not None and row.status == "completed" and row.expires_at is not None:
        return row.expires_at  # the renewal is due when the current completion expires
    if row is not None and row.status == "completed":
        return None
    return enrollment.due_at if enrollment else None


def to_learner_pathway(user_id: int, pathway: Pathway, row: PathwayProgress | None,
                       enrollment: Enrollment | None, now: datetime) -> LearnerPathway:
    due = _due(enrollment, row)
    base = row.status if row else "not_started"
    return LearnerPathway(
        user_id=user_id, pathway=pathway_info(pathway),
        status=effective_status(base, due, row.expires_at if row else None, now),
        percent=row.percent if row else 0, mandatory=bool(enrollment and enrollment.mandatory),
        assigned=enrollment is not None, due_at=due, completed_at=row.completed_at if row else None,
        expires_at=row.expires_at if row else None, renewal_opens_at=row.renewal_opens_at if row else None,
        renewal_percent=row.renewal_percent if row else 0, best_score=row.best_score if row else None,
        attempts=row.attempts if row else 0, last_activity_at=row.last_activity_at if row else None,
        evidence=dict(row.evidence or {}) if row else {})


def learner_pathways(session: Session, user_id: int, *, now: datetime | None = None,
                     include_history: bool = False) -> list[LearnerPathway]:
    """A learner's pathways: overdue first, then by due date. ``include_history`` adds archived versions."""
    now = now or utcnow()
    enrollments = enrollments_of(session, user_id)
    rows = {r.pathway_id: r for r in session.scalars(select(PathwayProgress).where(
        PathwayProgress.user_id == user_id))}
    result = []
    for pathway in session.scalars(select(Pathway).where(Pathway.id.in_(sorted(rows) or [-1]))
                                   .options(selectinload(Pathway.steps))):
        if pathway.status != "published" and not include_history:
            continue
        enrollment = enrollments.get(pathway.lineage) if pathway.status == "published" else None
        result.append(to_learner_pathway(user_id, pathway, rows[pathway.id], enrollment, now))
    far = datetime.max.replace(tzinfo=now.tzinfo)
    result.sort(key=lambda p: (STATUS_ORDER.get(p.status, 9), p.due_at or far, p.pathway.title))
    return result


def learner_pathway(session: Session, user_id: int, pathway_id: int, *,
                    now: datetime | None = None) -> LearnerPathwayDetail:
    """One pathway for one learner: progress plus each step's state, availability and evidence."""
    now = now or utcnow()
    pathway = session.get(Pathway, pathway_id)
    if pathway is None:
        raise NotFound(f"no pathway {pathway_id}")
    row = session.scalar(select(PathwayProgress).where(PathwayProgress.user_id == user_id,
                                                       PathwayProgress.pathway_id == pathway_id))
    enrollment = (enrollments_of(session, user_id).get(pathway.lineage) if pathway.status == "published"
                  else None)
    progress = to_learner_pathway(user_id, pathway, row, enrollment, now)
    cells = {c.step_id: c for c in session.scalars(select(StepProgress).where(
        StepProgress.user_id == user_id, StepProgress.step_id.in_([s.id for s in pathway.steps] or [-1])))}
    steps = [step_info(s) for s in pathway.steps]
    done_keys = {s.key for s in steps if cells.get(s.id) is not None and cells[s.id].state == "done"}
    by_key = {s.key: s for s in steps}
    states = []
    for index, step in enumerate(steps):
        cell = cells.get(step.id)
        state = cell.state if cell else "not_started"
        blockers = [by_key[k].title for k in step.prerequisites if k not in done_keys and k in by_key]
        if pathway.ordering == "sequential":
            blockers = [s.title for s in steps[:index] if s.required and s.key not in done_keys] + \
                [b for b in blockers if b not in {s.title for s in steps[:index]}]
        availability = "done" if state == "done" else ("locked" if blockers else "available")
        states.append(StepState(step, state, availability, tuple(blockers), cell.done_at if cell else None,
                                cell.best_score if cell else None, cell.attempts if cell else 0,
                                cell.last_activity_at if cell else None,
                                dict(cell.evidence or {}) if cell else {},
                                tuple(cell.withdrawn or ()) if cell else ()))
    return LearnerPathwayDetail(progress, tuple(states))


def _certification(award: CertificationAward, pathway: Pathway, user: User, code: str | None,
                   now: datetime) -> CertificationInfo:
    if award.revoked:
        status = "revoked"
    elif award.expires_at is not None and award.expires_at <= now:
        status = "expired"
    else:
        status = "active"
    return CertificationInfo(award.id, award.user_id, user.name, pathway_info(pathway), award.earned_at,
                             award.expires_at, status, code, tuple(award.revoked_by or ()),
                             tuple(award.statement_ids or ()))


def learner_certifications(session: Session, user_id: int, *,
                           now: datetime | None = None) -> list[CertificationInfo]:
    """Every award of a learner (active, expired and revoked: the history), newest first."""
    now = now or utcnow()
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    # Awards, their pathways (with steps, for the step count) and codes: three queries, whatever the count.
    awards = list(session.scalars(select(CertificationAward).where(CertificationAward.user_id == user_id)
                                  .order_by(CertificationAward.earned_at.desc())))
    if not awards:
        return []
    pathways = {p.id: p for p in session.scalars(select(Pathway).where(
        Pathway.id.in_(sorted({a.pathway_id for a in awards}))).options(selectinload(Pathway.steps)))}
    codes = {(lineage, earned_at): code for code, lineage, earned_at in session.execute(
        select(CertificateCode.code, CertificateCode.lineage, CertificateCode.earned_at)
        .where(CertificateCode.user_id == user_id))}
    result = []
    for award in awards:
        pathway = pathways[award.pathway_id]
        code = None if award.revoked else codes.get((pathway.lineage, award.earned_at))
        result.append(_certification(award, pathway, user, code, now))
    return result


def verify_certificate(session: Session, code: str, *,
                       now: datetime | None = None) -> CertificationInfo | None:
    """The award a verification code stands for (with its status at ``now``), or None if unknown."""
    now = now or utcnow()
    row = session.get(CertificateCode, code.strip().upper())
    if row is None:
        return None
    award = session.scalar(select(CertificationAward)
                           .join(Pathway, Pathway.id == CertificationAward.pathway_id)
                           .where(CertificationAward.user_id == row.user_id, Pathway.lineage == row.lineage,
                                  CertificationAward.earned_at == row.earned_at))
    user = session.get(User, row.user_id)
    if award is None or user is None:
        return None
    pathway = session.get(Pathway, award.pathway_id)
    assert pathway is not None
    return _certification(award, pathway, user, None if award.revoked else row.code, now)
