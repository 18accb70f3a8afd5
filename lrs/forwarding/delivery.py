"""Delivering statements to forwarding targets: claim a target, send its next batch, record the outcome.

No transaction is open while we talk to the remote: a target is *claimed* with a lease (a token and
an expiry written in a short transaction; on PostgreSQL the candidate row is taken with
``FOR UPDATE SKIP LOCKED`` so concurrent workers on any host claim different targets), the batch is
read, the session closed, the batch sent, and the outcome written only if we still hold the lease.
A worker that dies mid-send leaves a lease that expires; the next worker re-sends the same batch
and the remote deduplicates it by statement id (a remote that already has an id answers 204/409).
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from cairn.db import new_uuid, utcnow
from lrs.forwarding.filters import PathwayActivities, wants
from lrs.forwarding.models import ForwardingRejection, ForwardingTarget
from lrs.forwarding.targets import target_filter
from lrs.forwarding.tincan_adapter import RemoteLRSClient, RemoteResponse
from lrs.services import StoredStatement, iter_statements

log = logging.getLogger(__name__)

# Remote answers that say "try again later" rather than "this statement is wrong".
TRANSIENT_STATUSES = {401, 403, 404, 408, 425, 429}
ClientFactory = Callable[[ForwardingTarget], RemoteLRSClient]


@dataclass(frozen=True)
class DeliveryPolicy:
    batch_size: int = 100
    scan_limit: int = 5_000           # statements examined per claim, so a narrow filter cannot stall
    lease: timedelta = timedelta(seconds=120)
    backoff_base: timedelta = timedelta(seconds=2)
    backoff_max: timedelta = timedelta(minutes=10)
    timeout: float = 30.0

    def backoff(self, failures: int) -> timedelta:
        """Exponential backoff: base, 2 base, 4 base... capped at ``backoff_max``."""
        return min(self.backoff_base * (2 ** max(failures - 1, 0)), self.backoff_max)


@dataclass
class DeliveryReport:
    """What one claim of one target achieved."""

    target_id: int
    started_at: int = 0
    sent: int = 0
    rejected: int = 0
    advanced_to: int = 0
    error: str | None = None
    rejections: list[tuple[StoredStatement, RemoteResponse]] = field(default_factory=list)

    @property
    def progressed(self) -> bool:
        return self.advanced_to > self.started_at or self.sent > 0


@dataclass(frozen=True)
class _Claim:
    target_id: int
    token: str
    cursor: int


def default_client(target: ForwardingTarget, timeout: float = 30.0) -> RemoteLRSClient:
    return RemoteLRSClient(target.endpoint, target.key, target.secret, target.xapi_version, timeout=timeout)


def claim_target(session: Session, policy: DeliveryPolicy, now: datetime | None = None,
                 target_id: int | None = None, exclude: frozenset[int] = frozenset()) -> _Claim | None:
    """Lease the due target that waited longest, or None when none is due (commits)."""
    now = now or utcnow()
    query = (select(ForwardingTarget)
             .where(ForwardingTarget.active.is_(True),
                    or_(ForwardingTarget.next_attempt_at.is_(None), ForwardingTarget.next_attempt_at <= now),
                    or_(ForwardingTarget.lease_token.is_(None), ForwardingTarget.leased_until < now))
             # leased_until stays set after a release: ordering by it takes targets round-robin.
             .order_by(ForwardingTarget.leased_until.asc().nulls_first(), ForwardingTarget.id)
             .limit(1).with_for_update(skip_locked=True))
    if target_id is not None:
        query = query.where(ForwardingTarget.id == target_id)
    if exclude:
        query = query.where(ForwardingTarget.id.not_in(exclude))
    target = session.scalar(query)
    if target is None:
        session.rollback()
        return None
    claim = _Claim(target.id, new_uuid(), target.cursor)
    target.lease_token = claim.token
    target.leased_until = now + policy.lease
    session.commit()
    return claim


def next_batch(session: Session, target: ForwardingTarget, policy: DeliveryPolicy,
               pathway_activities: PathwayActivities | None = None) -> tuple[list[StoredStatement], int]:
    """The next matching statements after the target's cursor, and how far the scan got.

    The second value is the sequence up to which every statement was examined: the cursor may move
    there once the batch is delivered.
    """
    statement_filter = target_filter(target, session, pathway_activities)
    batch: list[StoredStatement] = []
    scanned_through = target.cursor
    scanned = 0
    for stored in iter_statements(session, after_sequence=target.cursor,
                                  batch_size=min(policy.scan_limit, 1000)):
        scanned += 1
        scanned_through = stored.sequence
        if wants(session, statement_filter, stored.statement):
            batch.append(stored)
            if len(batch) >= policy.batch_size:
                break
        if scanned >= policy.scan_limit:
            break
    return batch, scanned_through


def outgoing(stored: StoredStatement) -> dict:
    """The statement as the remote should receive it: exactly as stored, less what its LRS sets."""
    return {k: v for k, v in stored.statement.items() if k != "stored"}


def _send(client: RemoteLRSClient, batch: list[StoredStatement], report: DeliveryReport) -> int | None:
    """Send the batch; return the sequence delivered through (None: nothing, retry later)."""
    response = client.post_statements([outgoing(s) for s in batch])
    if response.ok:
        report.sent = len(batch)
        return batch[-1].sequence
    if response.status is None or response.status >= 500 or response.status in TRANSIENT_STATUSES:
        report.error = _describe(response)
        return None
    # 409 (some ids already there) or a 4xx about the content: one by one, in order, so that one
    # bad statement is set aside without holding back the others.
    delivered_through: int | None = None
    for stored in batch:
        single = client.put_statement(outgoing(stored))
        if single.ok or single.status == 409:
            report.sent += 1
        elif single.status is None or single.status >= 500 or single.status in TRANSIENT_STATUSES:
            report.error = _describe(single)
            return delivered_through
        else:
            report.rejected += 1
            report.rejections.append((stored, single))
        delivered_through = stored.sequence
    return delivered_through


def _describe(response: RemoteResponse) -> str:
    if response.status is None:
        return f"remote unreachable: {response.body}"[:2000]
    return f"remote answered {response.status}: {response.body}"[:2000]


def deliver_once(session_factory: sessionmaker[Session], policy: DeliveryPolicy = DeliveryPolicy(), *,
                 client_factory: ClientFactory | None = None,
                 pathway_activities: PathwayActivities | None = None, target_id: int | None = None,
                 exclude: frozenset[int] = frozenset()) -> DeliveryReport | None:
    """Claim one due target and deliver its next batch. None when no target was due."""
    with session_factory() as session:
        claim = claim_target(session, policy, target_id=target_id, exclude=exclude)
    if claim is None:
        return None
    report = DeliveryReport(claim.target_id, started_at=claim.cursor, advanced_to=claim.cursor)
    with session_factory() as session:
        target = session.get(ForwardingTarget, claim.target_id)
        assert target is not None
        batch, scanned_through = next_batch(session, target, policy, pathway_activities)
        client = client_factory(target) if client_factory else default_client(target, policy.timeout)
        session.rollback()  # release SQLite's write lock before the network call
    if not batch:
        delivered_through: int | None = scanned_through
    else:
        delivered_through = _send(client, batch, report)
        if delivered_through is not None and report.error is None and len(batch) < policy.batch_size:
            delivered_through = scanned_through  # everything scanned was matched or skipped
    _record(session_factory, claim, policy, report, delivered_through)
    return report


def _record(session_factory: sessionmaker[Session], claim: _Claim, policy: DeliveryPolicy,
            report: DeliveryReport, delivered_through: int | None) -> None:
    now = utcnow()
    with session_factory() as session:
        target = session.scalar(select(ForwardingTarget).where(ForwardingTarget.id == claim.target_id)
                                .with_for_update())
        if target is None or target.lease_token != claim.token:
            # Our lease expired and another worker took over: it re-sends, the remote dedupes.
            log.warning("forwarding target %s: lease lost, outcome not recorded", claim.target_id)
            session.rollback()
            return
        for stored, response in report.rejections:
            session.add(ForwardingRejection(target_id=target.id, statement_id=stored.id,
                                            sequence=stored.sequence, status=response.status or 0,
                                            message=response.body[:2000]))
        if delivered_through is not None and delivered_through > target.cursor:
            target.cursor = delivered_through
            report.advanced_to = delivered_through
        target.delivered_count += report.sent
        if report.error is None:
            if report.sent:
                target.last_success_at = now
            target.failures = 0
            target.next_attempt_at = None
        else:
            target.failures += 1
            target.last_error = report.error
            target.last_error_at = now
            target.next_attempt_at = now + policy.backoff(target.failures)
        target.lease_token = None
        session.commit()


def deliver_round(session_factory: sessionmaker[Session], policy: DeliveryPolicy = DeliveryPolicy(), *,
                  client_factory: ClientFactory | None = None,
                  pathway_activities: PathwayActivities | None = None) -> list[DeliveryReport]:
    """Give every due target one batch (each at most once); the reports say what happened."""
    reports: list[DeliveryReport] = []
    seen: set[int] = set()
    while True:
        report = deliver_once(session_factory, policy, client_factory=client_factory,
                              pathway_activities=pathway_activities, exclude=frozenset(seen))
        if report is None:
            return reports
        seen.add(report.target_id)
        reports.append(report)
