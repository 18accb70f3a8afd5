"""Reports: progress and participation per pathway, audience and class; compliance; learner history.

Queries only. Pages of rows are keyed by a cursor (the last row's id), never by offset. Every report
takes ``learner_ids``: the learners the viewer may see (None = everyone, for administrators), so
access rules are applied in the query, not after it.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, exists, func, not_, select
from sqlalchemy.orm import Session, selectinload

from cairn.accounts.models import User
from cairn.accounts.services import identities_of
from cairn.db import in_values, utcnow
from lrs import services as lrs_services
from pathways.errors import InvalidInput
from pathways.models import CertificationAward, Pathway, PathwayProgress
from pathways.people import (audience_member_ids, class_members, enrollments_for, late_assignments,
                             past_due_clause, past_due_pairs)
from pathways.records import STATUS_ORDER, to_learner_pathway

STATUSES = ("not_started", "in_progress", "completed", "overdue", "expired")


@dataclass(frozen=True)
class ProgressRow:
    id: int
    user_id: int
    name: str
    email: str | None
    pathway_id: int
    pathway_title: str
    version: int
    status: str
    percent: int
    mandatory: bool
    due_at: datetime | None
    completed_at: datetime | None
    expires_at: datetime | None
    last_activity_at: datetime | None
    best_score: float | None
    attempts: int
    statement_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReportPage:
    rows: tuple[ProgressRow, ...]
    next_cursor: int | None


@dataclass(frozen=True)
class SummaryRow:
    pathway_id: int
    pathway_title: str
    learners: int
    counts: dict[str, int] = field(default_factory=dict)
    completion_rate: float = 0.0


@dataclass(frozen=True)
class HistoryEntry:
    statement_id: str
    timestamp: str
    stored: str
    verb: str
    verb_display: str
    activity: str
    activity_name: str
    success: bool | None
    completion: bool | None
    score_scaled: float | None
    voided: bool


@dataclass(frozen=True)
class HistoryPage:
    entries: tuple[HistoryEntry, ...]
    more_cursor: str | None


def _scope(session: Session, *, learner_ids: Iterable[int] | None, audience_id: int | None,
           class_id: int | None, user_id: int | None) -> set[int] | None:
    scope: set[int] | None = None if learner_ids is None else set(learner_ids)

    def narrow(ids: Iterable[int]) -> None:
        nonlocal scope
        ids = set(ids)
        scope = ids if scope is None else scope & ids

    if audience_id is not None:
        narrow(audience_member_ids(session, audience_id))
    if class_id is not None:
        narrow(m.user_id for m in class_members(session, class_id, role="learner"))
    if user_id is not None:
        narrow({user_id})
    return scope


def _status_clause(status: str, now: datetime, past_due: ColumnElement[bool]) -> ColumnElement[bool]:
    """SQL for "the row's status at ``now`` is ``status``" (``records.effective_status`` as a filter)."""
    completed = PathwayProgress.status == "completed"
    expired = and_(completed, PathwayProgress.expires_at.is_not(None), PathwayProgress.expires_at <= now)
    # Only published versions carry an enrollment, hence a due date (see ``to_learner_pathway``).
    overdue = and_(PathwayProgress.status != "completed", Pathway.status == "published", past_due)
    if status == "expired":
        return expired
    if status == "completed":
        return and_(completed, not_(expired))
    if status == "overdue":
        return overdue
    return and_(PathwayProgress.status == status, not_(overdue))


def _progress_query(scope: set[int] | None, *, pathway_id: int | None, include_archived: bool,
                    with_users: bool = True) -> Select[Any]:
    query = select(PathwayProgress, Pathway).join(Pathway, Pathway.id == PathwayProgress.pathway_id)
    if with_users:  # rows need the learner's name; counts do not (progress rows cascade with users)
        query = query.add_columns(User).join(User, User.id == PathwayProgress.user_id)
    if not include_archived:
        query = query.where(Pathway.status == "published")
    if pathway_id is not None:
        query = query.where(PathwayProgress.pathway_id == pathway_id)
    if scope is not None:
        query = query.where(in_values(PathwayProgress.user_id, scope))
    return query


def _report_query(session: Session, *, learner_ids: Iterable[int] | None = None,
                  pathway_id: int | None = None, audience_id: int | None = None,
                  class_id: int | None = None, user_id: int | None = None,
                  status: str | None = None, now: datetime, include_archived: bool = False,
                  expiring_by: datetime | None = None, with_users: bool = True) -> Select[Any]:
    """The progress rows a report's filters select, all of them filtered in SQL."""
    if status is not None and status not in STATUSES:
        raise InvalidInput("status", f"must be one of {', '.join(STATUSES)}")
    scope = _scope(session, learner_ids=learner_ids, audience_id=audience_id, class_id=class_id,
                   user_id=user_id)
    query = _progress_query(scope, pathway_id=pathway_id, include_archived=include_archived,
                            with_users=with_users)
    if status is not None:
        past_due = past_due_clause(late_assignments(session, now), PathwayProgress.user_id, Pathway.lineage)
        query = query.where(_status_clause(status, now, past_due))
    if expiring_by is not None:
        query = query.where(PathwayProgress.status == "completed", PathwayProgress.expires_at > now,
                            PathwayProgress.expires_at <= expiring_by)
    return query


def progress_report(session: Session, *, cursor: int | None = None, limit: int = 100,
                    now: datetime | None = None, **filters: Any) -> ReportPage:
    """Learners' progress rows, filtered by pathway, audience, class, learner and status (at ``now``).

    Filters: ``learner_ids``, ``pathway_id``, ``audience_id``, ``class_id``, ``user_id``, ``status``,
    ``include_archived``, and ``expiring_by`` (completions still valid at ``now`` that expire by
    then). A fixed number of queries per page, whatever the number of learners: statuses are
    filtered in SQL and the enrollments of the page's learners are read together.
    """
    if not 1 <= limit <= 1000:
        raise InvalidInput("limit", "must be between 1 and 1000")
    now = now or utcnow()
    query = _report_query(session, now=now, **filters)
    if cursor is not None:
        query = query.where(PathwayProgress.id > cursor)
    batch = session.execute(query.options(selectinload(Pathway.steps)).order_by(PathwayProgress.id)
                            .limit(limit + 1)).all()
    more = len(batch) > limit
    batch = batch[:limit]
    enrollments = enrollments_for(session, {user.id for _, _, user in batch})
    rows: list[ProgressRow] = []
    for progress, pathway, user in batch:
        enrollment = enrollments.get(user.id, {}).get(pathway.lineage) if pathway.status == "published" \
            else None
        view = to_learner_pathway(user.id, pathway, progress, enrollment, now)
        rows.append(ProgressRow(progress.id, user.id, user.name, user.email, pathway.id, pathway.title,
                                pathway.version, view.status, view.percent, view.mandatory, view.due_at,
                                view.completed_at, view.expires_at, view.last_activity_at, view.best_score,
                                view.attempts, tuple(view.evidence.get("status", []))))
    return ReportPage(tuple(rows), rows[-1].id if more else None)


def iter_progress(session: Session, **filters: Any) -> Iterator[ProgressRow]:
    """Every row of a progress report, page by page (for CSV export in constant memory)."""
    cursor = None
    while True:
        page = progress_report(session, cursor=cursor, limit=500, **filters)
        yield from page.rows
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def _compliance_filters(kind: str, within_days: int, now: datetime) -> dict[str, Any]:
    if kind not in ("overdue", "expiring", "expired"):
        raise InvalidInput("kind", "must be overdue, expiring or expired")
    if within_days < 0:
        raise InvalidInput("within_days", "must not be negative")
    if kind == "expiring":
        return {"expiring_by": now + timedelta(days=within_days)}
    return {"status": kind}


def iter_compliance(session: Session, *, kind: str, within_days: int = 30, now: datetime | None = None,
                    **filters: Any) -> Iterator[ProgressRow]:
    """``overdue``: unfinished past their due date; ``expiring``: completions expiring within N days.

    Rows come in progress-row id order, which is what ``compliance_page`` pages by.
    """
    now = now or utcnow()
    yield from iter_progress(session, now=now, **_compliance_filters(kind, within_days, now), **filters)


def compliance_report(session: Session, **criteria: Any) -> list[ProgressRow]:
    """Every row of a compliance report (see ``iter_compliance``)."""
    return list(iter_compliance(session, **criteria))


def compliance_page(session: Session, *, kind: str, within_days: int = 30, now: datetime | None = None,
                    cursor: int | None = None, limit: int = 100, **filters: Any) -> ReportPage:
    """One page of a compliance report: rows after ``cursor`` (a progress-row id), at most ``limit``."""
    now = now or utcnow()
    return progress_report(session, now=now, cursor=cursor, limit=limit,
                           **_compliance_filters(kind, within_days, now), **filters)


def compliance_count(session: Session, *, kind: str, within_days: int = 30, now: datetime | None = None,
                     **filters: Any) -> int:
    """How many rows the whole compliance report has (one counting query)."""
    now = now or utcnow()
    query = _report_query(session, now=now, with_users=False, **_compliance_filters(kind, within_days, now),
                          **filters)
    return session.scalar(query.with_only_columns(func.count())) or 0


def summary_report(session: Session, *, now: datetime | None = None, learner_ids: Iterable[int] | None = None,
                   pathway_id: int | None = None, audience_id: int | None = None, class_id: int | None = None,
                   user_id: int | None = None, status: str | None = None,
                   include_archived: bool = False) -> list[SummaryRow]:
    """Participation per pathway: learners and counts per status, and the completion rate.

    Counted in the database, in two grouped queries whatever the number of learners: the stored
    statuses (completions split by expiry), then the unfinished rows that are past due.
    """
    if status is not None and status not in STATUSES:
        raise InvalidInput("status", f"must be one of {', '.join(STATUSES)}")
    now = now or utcnow()
    scope = _scope(session, learner_ids=learner_ids, audience_id=audience_id, class_id=class_id,
                   user_id=user_id)
    rows = _progress_query(scope, pathway_id=pathway_id, include_archived=include_archived, with_users=False)
    expired = and_(PathwayProgress.status == "completed", PathwayProgress.expires_at.is_not(None),
                   PathwayProgress.expires_at <= now)
    stored = case((expired, "expired"), else_=PathwayProgress.status).label("stored")
    per: dict[int, dict[str, Any]] = {}
    for pathway_id_, title, state, count in session.execute(
            rows.with_only_columns(Pathway.id, Pathway.title, stored, func.count())
            .group_by(Pathway.id, Pathway.title, stored)):
        entry = per.setdefault(pathway_id_, {"title": title, "counts": dict.fromkeys(STATUSES, 0)})
        entry["counts"][state] += count
    late = late_assignments(session, now)
    if late is not None:
        pairs = past_due_pairs(late).subquery()
        overdue = rows.with_only_columns(Pathway.id, PathwayProgress.status, func.count()).where(
            PathwayProgress.status != "completed", Pathway.status == "published",
            exists(select(pairs.c.user_id).where(pairs.c.user_id == PathwayProgress.user_id,
                                                 pairs.c.lineage == Pathway.lineage))) \
            .group_by(Pathway.id, PathwayProgress.status)
        for pathway_id_, state, count in session.execute(overdue):
            per[pathway_id_]["counts"][state] -= count
            per[pathway_id_]["counts"]["overdue"] += count
    result = []
    for pathway_id_, entry in sorted(per.items(), key=lambda item: (item[1]["title"], item[0])):
        counts = entry["counts"] if status is None else {s: n if s == status else 0
                                                         for s, n in entry["counts"].items()}
        learners = sum(counts.values())
        if not learners:
            continue
        result.append(SummaryRow(pathway_id_, entry["title"], learners, counts,
                                 round(counts["completed"] / learners, 4)))
    return result


@dataclass(frozen=True)
class SummaryPage:
    rows: tuple[SummaryRow, ...]
    next_cursor: int | None


def summary_page(session: Session, *, cursor: int | None = None, limit: int = 100,
                 **filters: Any) -> SummaryPage:
    """One page of the per-pathway summary, in pathway id order, after ``cursor`` (a pathway id)."""
    if not 1 <= limit <= 1000:
        raise InvalidInput("limit", "must be between 1 and 1000")
    rows = sorted((r for r in summary_report(session, **filters) if cursor is None or r.pathway_id > cursor),
                  key=lambda r: r.pathway_id)
    if len(rows) > limit:
        return SummaryPage(tuple(rows[:limit]), rows[limit - 1].pathway_id)
    return SummaryPage(tuple(rows), None)


def certifications_report(session: Session, *, learner_ids: Iterable[int] | None = None,
                          pathway_id: int | None = None) -> list[dict[str, Any]]:
    """Every award (history included) with learner and pathway, for auditors."""
    query = select(CertificationAward, Pathway, User) \
        .join(Pathway, Pathway.id == CertificationAward.pathway_id) \
        .join(User, User.id == CertificationAward.user_id)
    if learner_ids is not None:
        query = query.where(in_values(CertificationAward.user_id, learner_ids))
    if pathway_id is not None:
        query = query.where(CertificationAward.pathway_id == pathway_id)
    now = utcnow()
    out = []
    for award, pathway, user in session.execute(query.order_by(CertificationAward.id)):
        state = "revoked" if award.revoked else ("expired" if award.expires_at and award.expires_at <= now
                                                 else "active")
        out.append({"award_id": award.id, "user_id": user.id, "name": user.name, "email": user.email,
                    "pathway_id": pathway.id, "pathway_title": pathway.title, "earned_at": award.earned_at,
                    "expires_at": award.expires_at, "status": state,
                    "statement_ids": list(award.statement_ids or [])})
    return out


@dataclass(frozen=True)
class Reminder:
    user_id: int
    name: str
    email: str | None
    pathway_id: int
    pathway_title: str
    due_at: datetime
    days_before: int


def due_reminders(session: Session, *, now: datetime | None = None,
                  learner_ids: Iterable[int] | None = None) -> list[Reminder]:
    """Reminders whose threshold (days before the due date) falls within the day starting at ``now``.

    Run once a day (``cairn progress reminders``); completed work gets no reminder.
    """
    from pathways.models import Assignment
    now = now or utcnow()
    thresholds: dict[str, set[int]] = {}
    for lineage, days in session.execute(select(Assignment.lineage, Assignment.reminder_days)):
        thresholds.setdefault(lineage, set()).update(int(d) for d in (days or []))
    result = []
    for row in iter_progress(session, now=now, learner_ids=learner_ids):
        if row.due_at is None or row.status in ("completed", "expired"):
            continue
        pathway = session.get(Pathway, row.pathway_id)
        for days in sorted(thresholds.get(pathway.lineage if pathway else "", set()), reverse=True):
            moment = row.due_at - timedelta(days=days)
            if now <= moment < now + timedelta(days=1):
                result.append(Reminder(row.user_id, row.name, row.email, row.pathway_id, row.pathway_title,
                                       row.due_at, days))
    return result


# ---------------------------------------------------------------------------------------------- history


def _lang(value: Any) -> str:
    if isinstance(value, dict) and value:
        return str(value.get("en-US") or value.get("en") or next(iter(value.values())))
    return ""


def _entry(stored: Any) -> HistoryEntry:
    statement = stored.statement
    obj = statement.get("object") or {}
    result = statement.get("result") or {}
    verb = statement.get("verb") or {}
    return HistoryEntry(stored.id, str(statement.get("timestamp", "")), str(statement.get("stored", "")),
                        verb.get("id", ""),
                        _lang(verb.get("display")) or verb.get("id", "").rsplit("/", 1)[-1],
                        str(obj.get("id", "")), _lang((obj.get("definition") or {}).get("name")),
                        result.get("success"), result.get("completion"),
                        (result.get("score") or {}).get("scaled"), bool(stored.voided))


def learner_history(session: Session, user_id: int, *, verb: str | None = None, activity: str | None = None,
                    since: datetime | None = None, until: datetime | None = None, cursor: str | None = None,
                    limit: int = 100) -> HistoryPage:
    """Every statement about a learner (any of their identities), newest first, a page at a time."""
    page = _history_page(session, user_id, verb=verb, activity=activity, since=since, until=until,
                         cursor=cursor, limit=limit)
    return HistoryPage(tuple(_entry(s) for s in page.statements), page.more_cursor)


def _history_page(session: Session, user_id: int, *, cursor: str | None, limit: int, **filters: Any) -> Any:
    if not 1 <= limit <= 1000:
        raise InvalidInput("limit", "must be between 1 and 1000")
    agents = [i.to_agent() for i in identities_of(session, user_id)]
    if not agents:
        return lrs_services.StatementPage([], None)
    query = lrs_services.StatementQuery(agents=agents, limit=limit, cursor=cursor, **filters)
    return lrs_services.query_statements(session, query)


def iter_learner_statements(session: Session, user_id: int, **filters: Any) -> Iterator[dict[str, Any]]:
    """Every statement about a learner as stored xAPI JSON (for the xAPI export), page by page."""
    cursor = None
    while True:
        page = _history_page(session, user_id, cursor=cursor, limit=500, **filters)
        for stored in page.statements:
            yield stored.statement
        if not page.more_cursor:
            return
        cursor = page.more_cursor


def iter_learner_history(session: Session, user_id: int, **filters: Any) -> Iterator[HistoryEntry]:
    cursor = None
    while True:
        page = _history_page(session, user_id, cursor=cursor, limit=500, **filters)
        for stored in page.statements:
            yield _entry(stored)
        if not page.more_cursor:
            return
        cursor = page.more_cursor


# -------------------------------------------------------------------------------------------------- CSV


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return " ".join(str(v) for v in value)
    if isinstance(value, dict):
        return " ".join(f"{k}={v}" for k, v in value.items())
    text = str(value)
    # Spreadsheet formula injection: a cell starting with these is shown as text, not evaluated.
    return "'" + text if text[:1] in ("=", "+", "-", "@") and not _is_number(text) else text


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def csv_lines(rows: Iterable[Any], columns: list[str] | None = None) -> Iterator[str]:
    """CSV text line by line (header first) from dataclass rows or dicts, for streaming responses."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    header_written = False
    for row in rows:
        data = asdict(row) if hasattr(row, "__dataclass_fields__") else dict(row)
        if not header_written:
            columns = columns or list(data)
            writer.writerow(columns)
            header_written = True
        writer.writerow([_cell(data.get(c)) for c in columns or []])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if not header_written and columns:
        writer.writerow(columns)
        yield buffer.getvalue()


def columns_of(cls: type) -> list[str]:
    return [f.name for f in fields(cls)]


__all__ = ["STATUSES", "STATUS_ORDER", "HistoryEntry", "HistoryPage", "ProgressRow", "Reminder", "ReportPage",
           "SummaryRow", "due_reminders",
           "certifications_report", "columns_of", "compliance_count", "compliance_page", "compliance_report",
           "csv_lines", "iter_learner_history",
           "iter_learner_statements", "iter_progress", "learner_history", "progress_report", "summary_report"]
