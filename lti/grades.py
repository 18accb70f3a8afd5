"""AGS score passback through a durable queue of ``ScoreDelivery`` rows.

A changed outcome becomes one row per resource link that leads to it. Workers (``cairn lti
deliver-scores``, any number, any host) take due rows with ``FOR UPDATE SKIP LOCKED``, post them in
id order per link and learner, and retry failures with back-off: a platform that is down gets
every score later, once, in order.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from cairn.db import Among, read_built, utcnow
from lti import catalogue, keys, platforms
from lti.adapter import AGS_SCOPE_SCORE, PlatformConfig, ServiceCallFailed, ToolKeyPair, post_score
from lti.models import Context, ContextMember, Platform, ResourceLink, ScoreDelivery
from pathways.services import OutcomeChange

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=1)
FIRST_BACKOFF = timedelta(seconds=5)
LEASE = timedelta(minutes=2)


@dataclass(frozen=True)
class Outcome:
    """A learner's result on a pathway or step, as AGS wants it (Score §3.4)."""

    user_id: int
    target_kind: str  # "pathway" or "step"
    target_id: str
    score_given: float | None
    score_maximum: float
    activity_progress: str  # Initialized, Started, InProgress, Submitted, Completed
    grading_progress: str  # FullyGraded, Pending, PendingManual, Failed, NotReady
    timestamp: datetime
    comment: str | None = None


def queue_outcome(session: Session, outcome: Outcome) -> list[ScoreDelivery]:
    """Queue the outcome for every AGS-enabled resource link leading to its pathway or step whose
    context the learner belongs to."""
    rows = session.execute(
        select(ResourceLink, ContextMember.sub)
        .join(Context, Context.id == ResourceLink.context_id)
        .join(ContextMember, ContextMember.context_id == Context.id)
        .where(ResourceLink.target_kind == outcome.target_kind,
               ResourceLink.target_id == str(outcome.target_id),
               ContextMember.user_id == outcome.user_id)
        .order_by(ResourceLink.id))
    queued = []
    for link, sub in rows:
        if AGS_SCOPE_SCORE not in (link.ags_scopes or []):
            continue
        delivery = ScoreDelivery(resource_link_id=link.id, user_id=outcome.user_id, sub=sub,
                                 score_given=outcome.score_given, score_maximum=outcome.score_maximum,
                                 activity_progress=outcome.activity_progress,
                                 grading_progress=outcome.grading_progress, timestamp=outcome.timestamp,
                                 comment=outcome.comment, next_attempt_at=utcnow())
        session.add(delivery)
        queued.append(delivery)
    session.flush()
    return queued


@dataclass(frozen=True)
class DeliveryReport:
    delivered: int
    failed: int
    waiting: int


@dataclass(frozen=True)
class _Job:
    id: int
    blocked: bool
    config: PlatformConfig | None = None
    key: ToolKeyPair | None = None
    lineitem_url: str | None = None
    lineitems_url: str | None = None
    scopes: tuple[str, ...] = ()
    score: dict | None = None
    new_lineitem: dict | None = None


def deliver_due(factory: sessionmaker[Session], *, limit: int = 100) -> DeliveryReport:
    """Deliver due scores. A score is claimed (leased) in one short transaction, posted with no
    transaction open (the platform may fetch our JWKS meanwhile; on SQLite an open transaction would
    hold the write lock it needs), and recorded in another."""
    delivered = failed = waiting = 0
    skipped: set[int] = set()
    for _ in range(limit):
        with factory() as session, session.begin():
            job = _claim_next(session, skipped)
        if job is None:
            break
        skipped.add(job.id)
        if job.blocked:
            # An earlier score for this link and learner is still waiting: keep the order.
            waiting += 1
            continue
        assert job.config is not None and job.key is not None and job.score is not None
        try:
            used = post_score(job.config, job.key, lineitem_url=job.lineitem_url,
                              lineitems_url=job.lineitems_url, scopes=list(job.scopes), score=job.score,
                              new_lineitem=job.new_lineitem)
        except ServiceCallFailed as exc:
            with factory() as session, session.begin():
                _record_failure(session, job.id, exc)
            failed += 1
            continue
        with factory() as session, session.begin():
            _record_delivery(session, job.id, used)
        delivered += 1
    return DeliveryReport(delivered=delivered, failed=failed, waiting=waiting)


def score_timestamp(moment: datetime) -> str:
    """A score's ``timestamp`` (AGS 2.0 §3.4.7): ISO 8601 in UTC, always with microseconds.

    ``isoformat()`` leaves out the fraction at a whole second, and a platform comparing the texts
    then took 12:00:00Z for later than 12:00:00.250000Z and refused the newer score as stale (the
    tests' platform did so about once in a thousand pairs). One width keeps text order and time
    order the same.
    """
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _claim_next(session: Session, skipped: set[int]) -> _Job | None:
    now = utcnow()
    query = (select(ScoreDelivery).where(ScoreDelivery.delivered_at.is_(None),
                                         ScoreDelivery.next_attempt_at <= now,
                                         or_(ScoreDelivery.leased_until.is_(None),
                                             ScoreDelivery.leased_until < now))
             .order_by(ScoreDelivery.id).limit(1))
    if skipped:
        query = query.where(ScoreDelivery.id.not_in(skipped))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    row = session.scalar(query)
    if row is None:
        return None
    earlier = session.scalar(select(ScoreDelivery.id).where(
        ScoreDelivery.resource_link_id == row.resource_link_id, ScoreDelivery.user_id == row.user_id,
        ScoreDelivery.delivered_at.is_(None), ScoreDelivery.id < row.id).limit(1))
    if earlier is not None:
        return _Job(id=row.id, blocked=True)
    row.leased_until = now + LEASE
    link = session.get(ResourceLink, row.resource_link_id)
    assert link is not None
    platform = session.get(Platform, link.platform_id)
    assert platform is not None
    score = {"userId": row.sub, "scoreGiven": row.score_given, "scoreMaximum": row.score_maximum,
             "activityProgress": row.activity_progress, "gradingProgress": row.grading_progress,
             "timestamp": score_timestamp(row.timestamp), "comment": row.comment}
    new_lineitem = {"label": link.title or f"Cairn {link.target_kind} {link.target_id}",
                    "scoreMaximum": row.score_maximum, "resourceId": f"{link.target_kind}:{link.target_id}",
                    "resourceLinkId": link.resource_link_id, "tag": f"cairn-{link.resource_link_id}"}
    return _Job(id=row.id, blocked=False, config=platforms.platform_config(platform),
                key=keys.signing_key(session),
                lineitem_url=link.lineitem_url, lineitems_url=link.lineitems_url,
                scopes=tuple(link.ags_scopes or []), score=score, new_lineitem=new_lineitem)


def _record_failure(session: Session, delivery_id: int, exc: ServiceCallFailed) -> None:
    row = session.get(ScoreDelivery, delivery_id)
    assert row is not None
    row.attempts += 1
    row.leased_until = None
    row.last_error = str(exc)[:1000]
    row.next_attempt_at = utcnow() + min(FIRST_BACKOFF * 2 ** (row.attempts - 1), MAX_BACKOFF)
    log.warning("AGS score %s for %s not delivered (attempt %s): %s", row.id, row.sub, row.attempts, exc)


def _record_delivery(session: Session, delivery_id: int, lineitem_url: str) -> None:
    row = session.get(ScoreDelivery, delivery_id)
    assert row is not None
    link = session.get(ResourceLink, row.resource_link_id)
    if link is not None and not link.lineitem_url:
        link.lineitem_url = lineitem_url
    row.attempts += 1
    row.leased_until = None
    row.delivered_at = utcnow()
    row.last_error = None


def pending(session: Session) -> list[ScoreDelivery]:
    """Scores not yet delivered, oldest first."""
    return list(session.scalars(select(ScoreDelivery).where(ScoreDelivery.delivered_at.is_(None))
                                .order_by(ScoreDelivery.id)))


def retry_now(session: Session) -> int:
    """Make every waiting score due at once (after a platform outage is over)."""
    rows = pending(session)
    for row in rows:
        row.next_attempt_at = utcnow()
    session.flush()
    return len(rows)


def outcomes_with_links(session: Session, changes: list[OutcomeChange]) -> list[OutcomeChange]:
    """The changes whose learner is in a context that has a resource link: no other can queue a score.

    The ``wanted`` filter of ``on_outcome_changed``: one query per batch, where telling each change
    cost a SAVEPOINT and a query apiece even when no link leads to the learner at all.
    """
    users = sorted({change.user_id for change in changes})
    linked = {user_id for user_id, in read_built(session, _linked_learners, {"users": users})}
    return [change for change in changes if change.user_id in linked]


def _linked_learners(among: Among) -> Any:
    """Which of some learners are members of a context with a resource link (built once: a list of
    learners made the text of an IN list differ from batch to batch)."""
    return select(ContextMember.user_id) \
        .join(ResourceLink, ResourceLink.context_id == ContextMember.context_id) \
        .where(among(ContextMember.user_id, "users")).distinct()


def on_outcome_changed(session: Session, change: OutcomeChange) -> None:
    """The ``pathways`` outcome listener: queue the new score for every link leading to it."""
    kind, target_id = catalogue.target_of_outcome(session, change.pathway_id, change.step_id)
    if change.step_id is None:
        activity = "Completed" if change.completed else "InProgress"
        grading = "FullyGraded" if change.completed else "Pending"
    else:
        activity, grading = ("Completed" if change.completed else "Submitted"), "FullyGraded"
    queue_outcome(session, Outcome(user_id=change.user_id, target_kind=kind, target_id=target_id,
                                   score_given=change.score_given,
                                   score_maximum=change.score_maximum or 100.0,
                                   activity_progress=activity, grading_progress=grading,
                                   timestamp=change.timestamp))
