"""Forwarding target commands and queries: add, list, remove, resume, and each one's backlog."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlparse

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cairn.errors import CairnError, NotFound
from lrs.forwarding.filters import PathwayActivities, StatementFilter, wants
from lrs.forwarding.models import ForwardingRejection, ForwardingTarget
from lrs.services import iter_statements

SUPPORTED_VERSIONS = ("1.0.3", "2.0.0")
BACKLOG_COUNT_LIMIT = 10_000


class ForwardingError(CairnError):
    code = "forwarding_error"


@dataclass(frozen=True)
class TargetStatus:
    """A target as the admin page and ``cairn forward list`` show it."""

    id: int
    name: str
    endpoint: str
    xapi_version: str
    verbs: list[str]
    activities: list[str]
    actors: list[dict]
    pathways: list[str]
    active: bool
    cursor: int
    delivered_count: int
    backlog: int
    backlog_is_lower_bound: bool
    failures: int
    next_attempt_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    rejected_count: int


def create_target(session: Session, *, endpoint: str, key: str, secret: str, name: str | None = None,
                  xapi_version: str = "1.0.3", verbs: list[str] | None = None,
                  activities: list[str] | None = None, actors: list[dict] | None = None,
                  pathways: list[str] | None = None, from_sequence: int = 0) -> ForwardingTarget:
    """Add a remote LRS that receives every statement stored after ``from_sequence`` that matches.

    ``from_sequence`` 0 forwards the whole store; ``latest_sequence(session)`` only what comes next.
    """
    parsed = urlparse(endpoint)
    if parsed.scheme not in {"http", "https"} or not parsed.netloc:
        raise ForwardingError(f"endpoint must be an http(s) URL, not {endpoint!r}")
    if xapi_version not in SUPPORTED_VERSIONS:
        raise ForwardingError(f"xAPI version must be one of {', '.join(SUPPORTED_VERSIONS)}")
    if not key or not secret:
        raise ForwardingError("the remote LRS's key and secret are both required")
    if from_sequence < 0:
        raise ForwardingError("from_sequence cannot be negative")
    target = ForwardingTarget(
        name=name or parsed.netloc, endpoint=endpoint.rstrip("/") + "/", key=key, secret=secret,
        xapi_version=xapi_version, verbs=list(verbs or []), activities=list(activities or []),
        actors=list(actors or []), pathways=list(pathways or []), cursor=from_sequence)
    session.add(target)
    session.flush()
    return target


def get_target(session: Session, target_id: int) -> ForwardingTarget:
    """The target with this id, or NotFound."""
    target = session.get(ForwardingTarget, target_id)
    if target is None:
        raise NotFound(f"no forwarding target {target_id}")
    return target


def remove_target(session: Session, target_id: int) -> None:
    """Delete a target and what it recorded; statements not yet sent are simply no longer sent."""
    session.delete(get_target(session, target_id))
    session.flush()


def resume_target(session: Session, target_id: int) -> ForwardingTarget:
    """Retry now (clears the backoff), e.g. after fixing the remote or the credentials."""
    target = get_target(session, target_id)
    target.next_attempt_at = None
    target.failures = 0
    target.active = True
    session.flush()
    return target


def target_filter(target: ForwardingTarget, session: Session | None = None,
                  pathway_activities: PathwayActivities | None = None) -> StatementFilter:
    """The target's filter; a pathway in it stands for the pathway's and its steps' activities."""
    resolve = None
    if pathway_activities is not None and session is not None:
        def resolve(pathway: str) -> list[str]:
            return list(pathway_activities(session, pathway))
    return StatementFilter.build(verbs=target.verbs, activities=target.activities, actors=target.actors,
                                 pathways=target.pathways, resolve_pathway=resolve)


def backlog(session: Session, target: ForwardingTarget, pathway_activities: PathwayActivities | None = None,
            limit: int = BACKLOG_COUNT_LIMIT) -> tuple[int, bool]:
    """How many matching statements wait for the target (counted up to ``limit``; True when cut off)."""
    statement_filter = target_filter(target, session, pathway_activities)
    count = 0
    for stored in iter_statements(session, after_sequence=target.cursor):
        if wants(session, statement_filter, stored.statement):
            count += 1
            if count >= limit:
                return count, True
    return count, False


def list_targets(session: Session, pathway_activities: PathwayActivities | None = None) -> list[TargetStatus]:
    """Every target with its backlog, last success and last error."""
    result = []
    for target in session.scalars(select(ForwardingTarget).order_by(ForwardingTarget.id)):
        waiting, cut_off = backlog(session, target, pathway_activities)
        rejected = session.scalar(select(func.count()).select_from(ForwardingRejection)
                                 .where(ForwardingRejection.target_id == target.id)) or 0
        result.append(TargetStatus(
            id=target.id, name=target.name, endpoint=target.endpoint, xapi_version=target.xapi_version,
            verbs=list(target.verbs), activities=list(target.activities), actors=list(target.actors),
            pathways=list(target.pathways), active=target.active, cursor=target.cursor,
            delivered_count=target.delivered_count, backlog=waiting, backlog_is_lower_bound=cut_off,
            failures=target.failures, next_attempt_at=target.next_attempt_at,
            last_success_at=target.last_success_at, last_error=target.last_error,
            last_error_at=target.last_error_at, rejected_count=rejected))
    return result


def rejections(session: Session, target_id: int, limit: int = 100) -> list[ForwardingRejection]:
    """The most recent statements the remote refused for good."""
    return list(session.scalars(select(ForwardingRejection).where(ForwardingRejection.target_id == target_id)
                                .order_by(ForwardingRejection.id.desc()).limit(limit)))
