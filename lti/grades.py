"""AGS score passback through a durable queue of ``ScoreDelivery`` rows.

A changed outcome becomes one row per resource link that leads to it. Workers (``cairn lti
deliver-scores``, any number, any host) take due rows with ``FOR UPDATE SKIP LOCKED``, post them in
id order per link and learner, and retry failures with back-off: a platform that is down gets
every score later, once, in order.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cairn.db import utcnow
from lti import keys, platforms
from lti.adapter import AGS_SCOPE_SCORE, ServiceCallFailed, post_score
from lti.models import Context, ContextMember, Platform, ResourceLink, ScoreDelivery

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=1)
FIRST_BACKOFF = timedelta(seconds=5)


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
        .where(ResourceLink.target_kind == outcome.target_kind, ResourceLink.target_id == str(outcome.target_id),
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


def deliver_due(factory: sessionmaker[Session], *, limit: int = 100) -> DeliveryReport:
    """Deliver due scores, each in its own transaction; returns what happened."""
    delivered = failed = waiting = 0
    skipped: set[int] = set()
    for _ in range(limit):
        with factory() as session, session.begin():
            row = _take_next(session, skipped)
            if row is None:
                break
            if _has_earlier_pending(session, row):
                # An earlier score for this link and learner is still waiting: keep the order.
                skipped.add(row.id)
                waiting += 1
                continue
            if _deliver(session, row):
                delivered += 1
            else:
                failed += 1
                skipped.add(row.id)
    return DeliveryReport(delivered=delivered, failed=failed, waiting=waiting)


def _take_next(session: Session, skipped: set[int]) -> ScoreDelivery | None:
    query = (select(ScoreDelivery).where(ScoreDelivery.delivered_at.is_(None),
                                         ScoreDelivery.next_attempt_at <= utcnow())
             .order_by(ScoreDelivery.id).limit(1))
    if skipped:
        query = query.where(ScoreDelivery.id.not_in(skipped))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return session.scalar(query)


def _has_earlier_pending(session: Session, row: ScoreDelivery) -> bool:
    return session.scalar(select(ScoreDelivery.id).where(
        ScoreDelivery.resource_link_id == row.resource_link_id, ScoreDelivery.user_id == row.user_id,
        ScoreDelivery.delivered_at.is_(None), ScoreDelivery.id < row.id).limit(1)) is not None


def _deliver(session: Session, row: ScoreDelivery) -> bool:
    link = session.get(ResourceLink, row.resource_link_id)
    assert link is not None
    platform = session.get(Platform, link.platform_id)
    assert platform is not None
    score = {"userId": row.sub, "scoreGiven": row.score_given, "scoreMaximum": row.score_maximum,
             "activityProgress": row.activity_progress, "gradingProgress": row.grading_progress,
             "timestamp": row.timestamp.isoformat().replace("+00:00", "Z"), "comment": row.comment}
    new_lineitem = {"label": link.title or f"Cairn {link.target_kind} {link.target_id}",
                    "scoreMaximum": row.score_maximum, "resourceId": f"{link.target_kind}:{link.target_id}",
                    "resourceLinkId": link.resource_link_id, "tag": f"cairn-{link.resource_link_id}"}
    try:
        used = post_score(platforms.platform_config(platform), keys.signing_key(session),
                          lineitem_url=link.lineitem_url, lineitems_url=link.lineitems_url,
                          scopes=list(link.ags_scopes or []), score=score, new_lineitem=new_lineitem)
    except ServiceCallFailed as exc:
        row.attempts += 1
        row.last_error = str(exc)[:1000]
        row.next_attempt_at = utcnow() + min(FIRST_BACKOFF * 2 ** (row.attempts - 1), MAX_BACKOFF)
        log.warning("AGS score %s for %s not delivered (attempt %s): %s", row.id, row.sub, row.attempts, exc)
        return False
    if not link.lineitem_url:
        link.lineitem_url = used
    row.attempts += 1
    row.delivered_at = utcnow()
    row.last_error = None
    return True


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
