"""Participation and completions over time, week by week, for the dashboards' charts.

Read-only, from the progress projection: participation counts the learners with at least one
(unvoided) statement in a week; completions count the pathway completions that fell in that week.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from cairn.accounts.models import UserIdentity
from cairn.db import in_values, utcnow
from pathways.models import Pathway, PathwayProgress, ProgressFact


@dataclass(frozen=True)
class WeekCount:
    week_start: datetime  # Monday 00:00 UTC
    active_learners: int
    completions: int


def _monday(moment: datetime) -> datetime:
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


def weekly_activity(session: Session, *, weeks: int = 12, now: datetime | None = None,
                    learner_ids: Iterable[int] | None = None,
                    pathway_id: int | None = None) -> list[WeekCount]:
    """The last ``weeks`` weeks (oldest first): distinct active learners and completions in each.

    A learner is active in a week with a statement that week about pathway content (a step's
    activity, or in a registration a step launched: the statements that have facts).

    ``learner_ids`` narrows to some learners (an instructor's classes); ``pathway_id`` counts only that
    pathway's completions and the statements about its steps' activities.
    """
    now = now or utcnow()
    first = _monday(now) - timedelta(weeks=weeks - 1)
    scope = None if learner_ids is None else set(learner_ids)
    # Counted by the database, a row a week: reading every fact of the weeks into Python cost
    # as much as the store's facts in them (180 ms of the dashboard's 235 at 1,000,000 facts).
    week = _week_start(session, ProgressFact.timestamp)
    facts = select(week, func.count(distinct(UserIdentity.user_id))).join(
        UserIdentity, (UserIdentity.kind == ProgressFact.identity_kind) &
        (UserIdentity.value == ProgressFact.identity_value)).where(
        ProgressFact.timestamp >= first, ProgressFact.voided_by.is_(None)).group_by(week)
    if pathway_id is not None:
        pathway = session.get(Pathway, pathway_id)
        activities = [s.activity_iri for s in pathway.steps] if pathway else []
        facts = facts.where(ProgressFact.activity_iri.in_(activities or [""]))
    if scope is not None:
        facts = facts.where(in_values(UserIdentity.user_id, scope))
    active = {_as_monday(start): count for start, count in session.execute(facts)}
    # Completions likewise: a row a week, the learners' scope in the query.
    finished = _week_start(session, PathwayProgress.completed_at)
    completions = select(finished, func.count()).where(
        PathwayProgress.completed_at.is_not(None), PathwayProgress.completed_at >= first).group_by(finished)
    if pathway_id is not None:
        completions = completions.where(PathwayProgress.pathway_id == pathway_id)
    if scope is not None:
        completions = completions.where(in_values(PathwayProgress.user_id, scope))
    done = {_as_monday(start): count for start, count in session.execute(completions)}
    weeks_list = [first + timedelta(weeks=n) for n in range(weeks)]
    return [WeekCount(w, active.get(w, 0), done.get(w, 0)) for w in weeks_list]


def _week_start(session: Session, timestamp: Any) -> Any:
    """The Monday 00:00 UTC of a stored timestamp's week, in SQL (as ``_monday`` in Python)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.date_trunc("week", func.timezone("UTC", timestamp))  # ISO weeks start on Monday
    return func.date(timestamp, "weekday 0", "-6 days")  # SQLite keeps UTC: the Sunday ending it, less 6 days


def _as_monday(value: datetime | date | str) -> datetime:
    """``_week_start``'s value (PostgreSQL: a timestamp in UTC; SQLite: 'YYYY-MM-DD') as an aware datetime."""
    if isinstance(value, str):
        value = date.fromisoformat(value)
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
