"""Participation and completions over time, week by week, for the dashboards' charts.

Read-only, from the progress projection: participation counts the learners with at least one
(unvoided) statement in a week; completions count the pathway completions that fell in that week.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from cairn.accounts.models import UserIdentity
from cairn.db import utcnow
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

    ``learner_ids`` narrows to some learners (an instructor's classes); ``pathway_id`` counts only that
    pathway's completions and the statements about its steps' activities.
    """
    now = now or utcnow()
    first = _monday(now) - timedelta(weeks=weeks - 1)
    scope = None if learner_ids is None else set(learner_ids)
    active: dict[datetime, set[int]] = {}
    facts = select(UserIdentity.user_id, ProgressFact.timestamp).join(
        UserIdentity, (UserIdentity.kind == ProgressFact.identity_kind) &
        (UserIdentity.value == ProgressFact.identity_value)).where(
        ProgressFact.timestamp >= first, ProgressFact.voided_by.is_(None))
    if pathway_id is not None:
        pathway = session.get(Pathway, pathway_id)
        activities = [s.activity_iri for s in pathway.steps] if pathway else []
        facts = facts.where(ProgressFact.activity_iri.in_(activities or [""]))
    for user_id, timestamp in session.execute(facts):
        if scope is None or user_id in scope:
            active.setdefault(_monday(timestamp), set()).add(user_id)
    done: dict[datetime, int] = {}
    completions = select(PathwayProgress.user_id, PathwayProgress.completed_at).where(
        PathwayProgress.completed_at.is_not(None), PathwayProgress.completed_at >= first)
    if pathway_id is not None:
        completions = completions.where(PathwayProgress.pathway_id == pathway_id)
    for user_id, completed_at in session.execute(completions):
        if scope is None or user_id in scope:
            done[_monday(completed_at)] = done.get(_monday(completed_at), 0) + 1
    weeks_list = [first + timedelta(weeks=n) for n in range(weeks)]
    return [WeekCount(w, len(active.get(w, ())), done.get(w, 0)) for w in weeks_list]
