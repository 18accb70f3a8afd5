"""Which statements the pathways read, and keeping ``progress_facts`` to exactly those.

A statement is *relevant* when it is about an activity that a step (of any pathway version,
drafts included) is about, or when it is in a registration that a step launched (``StepLaunch``):
no derivation, report or page reads a fact of any other statement. The projection records the
facts of relevant statements only (``pathways.facts.apply_statements`` tells them by the steps
and launches their values meet), and the rebuild replays with the same rule (``step_activities``,
``launched``), so the two agree.

The rule changes with the catalogue and the launches: a step added about an activity that earlier
statements are about, a registration recorded for a launch after statements in it arrived, a
draft step removed. ``watch_steps`` notes the steps and launches a flush adds or removes, and
``resync`` makes their facts follow the rule again (an activity another step is already about
changes nothing, so a draft copied from its published version reads nothing again), in the same
transaction: facts that are no longer relevant go, and statements that became relevant are read
from the store (``lrs.services``) and recorded (voided as their voiding statements say), up to the
cursor. It locks the projection's cursor first (PostgreSQL), so no pass is under way while it
reads the store, and every pass after it reads the steps and launches it committed; the callers
derive the learners concerned, as they did when every statement had a fact (publishing refreshes
the lineage's learners, a launch its learner).
"""
from __future__ import annotations

from collections.abc import Set as AbstractSet
from typing import Any

from sqlalchemy import delete, event, inspect, or_, select
from sqlalchemy.orm import Session

from cairn.db import in_values
from pathways.facts import FACT_PATHS, fact_values, insert_rows, void_target
from pathways.models import Pathway, ProgressFact, ProgressVoid, Step, StepLaunch

PENDING = "pathways.relevance_changes"


def step_activities(session: Session) -> set[str]:
    """Every activity a step (of any version) is about: the rebuild's first test, read once."""
    return set(session.scalars(select(Step.activity_iri).distinct()))


def launched(session: Session, registrations: set[str]) -> set[str]:
    """Which of these (lower-case) registrations a step launched (one parameter however many): the
    rebuild asks it a page of statements at a time (launches grow with every learner and step)."""
    if not registrations:
        return set()
    return set(session.scalars(select(StepLaunch.registration).where(
        in_values(StepLaunch.registration, registrations))))


def resync(session: Session, added: tuple[set[str], set[str]], removed: tuple[set[str], set[str]], *,
           new_steps: AbstractSet[int] = frozenset()) -> int:
    """Make the facts follow the rule after steps or launches changed (see the module's docstring);
    return how many facts were recorded.

    ``added``: activities of steps just written (``new_steps``, their ids) and registrations just
    launched, whose statements up to the cursor get their facts unless another step was about the
    activity already; ``removed``: activities and registrations that may have lost their last step
    or launch, whose facts go if no rule keeps them. Each as (activities, registrations). Decided
    under the cursor's lock, so that a transaction that changed the same activities and committed
    meanwhile is seen.
    """
    from lrs import services as lrs_services
    from pathways.projection import read_cursor
    added_activities = {a for a in added[0] if a}
    added_registrations = {r.lower() for r in added[1] if r}
    removed_activities = {a for a in removed[0] if a}
    removed_registrations = {r.lower() for r in removed[1] if r}
    if not (added_activities or added_registrations or removed_activities or removed_registrations):
        return 0
    # Locked (PostgreSQL) until this transaction ends: no pass runs meanwhile. Facts are recorded up
    # to the cursor only; the statements after it are the passes' own (``apply_statements``).
    cursor = read_cursor(session)
    live_activities, live_registrations = _live(session, added_activities | removed_activities,
                                                added_registrations | removed_registrations)
    gone_activities = removed_activities - live_activities
    gone_registrations = removed_registrations - live_registrations
    if gone_activities or gone_registrations:
        session.execute(delete(ProgressFact).where(
            or_(in_values(ProgressFact.activity_iri, gone_activities),
                in_values(ProgressFact.registration, gone_registrations)),
            ProgressFact.activity_iri.not_in(select(Step.activity_iri)),
            or_(ProgressFact.registration.is_(None),
                ProgressFact.registration.not_in(select(StepLaunch.registration))))
            .execution_options(synchronize_session=False))
    # An activity another step was about already changes nothing (a draft copied from its published
    # version, a second step about it): its statements are not read again.
    new_activities = (added_activities & live_activities) - _live(session, added_activities, set(),
                                                                   besides=new_steps)[0]
    new_registrations = added_registrations & live_registrations
    if not new_activities and not new_registrations:
        return 0
    recorded = 0
    for page in lrs_services.statement_member_pages(
            session, FACT_PATHS, objects=sorted(new_activities) if new_activities else None,
            registrations=sorted(new_registrations) if new_registrations else None):
        past_cursor = page[-1][1] > cursor  # pages come in sequence order: the rest are past it too
        page = [row for row in page if row[1] <= cursor]  # up to the cursor: the passes do the rest
        ids = [statement_id for statement_id, *_rest in page]
        known = set(session.scalars(select(ProgressFact.statement_id).where(
            in_values(ProgressFact.statement_id, ids))))
        voided_by = dict(session.execute(select(ProgressVoid.target_id, ProgressVoid.voiding_id).where(
            in_values(ProgressVoid.target_id, ids))).tuples().all())
        new: list[dict[str, Any]] = []
        for statement_id, sequence, stored, _voided, members in page:
            if statement_id in known or void_target(members) is not None:
                continue
            row = fact_values(statement_id, sequence, stored, members)
            if row is None or (row["activity_iri"] not in new_activities
                               and row["registration"] not in new_registrations):
                continue
            row["voided_by"] = voided_by.get(statement_id)
            new.append(row)
        insert_rows(session, ProgressFact, new)
        recorded += len(new)
        if past_cursor:
            break
    return recorded


def _live(session: Session, activities: set[str], registrations: set[str], *,
          besides: AbstractSet[int] = frozenset()) -> tuple[set[str], set[str]]:
    """Which of these activities a step (other than ``besides``) is about, and which of these
    registrations a step launched (``launched``)."""
    steps = select(Step.activity_iri).where(in_values(Step.activity_iri, activities))
    if besides:
        steps = steps.where(~in_values(Step.id, besides))
    return set(session.scalars(steps.distinct())) if activities else set(), launched(session, registrations)


def _note_changes(session: Session, _flush_context: Any, _instances: Any) -> None:
    """Before a flush: the steps and launches it adds, and the activities and registrations whose
    steps or launches it removes (``resync`` runs after it, ``_follow_changes``)."""
    steps: list[Step] = []
    registrations: set[str] = set()
    removed_activities: set[str] = set()
    removed_registrations: set[str] = set()
    gone_steps: set[int] = set()
    for obj in session.new:
        if isinstance(obj, Step):
            steps.append(obj)
        elif isinstance(obj, StepLaunch):
            registrations.add(obj.registration)
    for obj in session.dirty:
        if isinstance(obj, Step):
            history = inspect(obj).attrs.activity_iri.history
            if history.added:
                steps.append(obj)
            removed_activities.update(history.deleted)
        elif isinstance(obj, Pathway):
            for step in inspect(obj).attrs.steps.history.deleted:  # removed: deleted as orphans
                removed_activities.add(step.activity_iri)
                if step.id is not None:
                    gone_steps.add(step.id)
    for obj in session.deleted:
        if isinstance(obj, Step):
            removed_activities.add(obj.activity_iri)
            gone_steps.add(obj.id)
        elif isinstance(obj, StepLaunch):
            removed_registrations.add(obj.registration)
    if gone_steps:  # their launches go with them (ON DELETE CASCADE)
        removed_registrations.update(session.scalars(select(StepLaunch.registration).where(
            in_values(StepLaunch.step_id, gone_steps))))
    if steps or registrations or removed_activities or removed_registrations:
        pending = session.info.setdefault(PENDING, ([], set(), set(), set()))
        pending[0].extend(steps)
        for into, keys in zip(pending[1:], (registrations, removed_activities, removed_registrations),
                              strict=True):
            into.update(keys)


def _follow_changes(session: Session, _flush_context: Any) -> None:
    """After a flush: ``resync`` what ``_note_changes`` noted (the new steps have their ids now)."""
    pending = session.info.pop(PENDING, None)
    if pending is not None:
        steps, registrations, removed_activities, removed_registrations = pending
        resync(session, ({s.activity_iri for s in steps}, registrations),
               (removed_activities, removed_registrations), new_steps={s.id for s in steps if s.id})


def _forget_changes(session: Session, _previous: Any = None) -> None:
    """After a rollback: what a failed flush noted is gone with it."""
    session.info.pop(PENDING, None)


def watch_steps() -> None:
    """Keep the facts to the rule as steps and launches change (catalogue pages, launches, LTI)."""
    if not event.contains(Session, "before_flush", _note_changes):
        event.listen(Session, "before_flush", _note_changes)
        event.listen(Session, "after_flush", _follow_changes)
        event.listen(Session, "after_soft_rollback", _forget_changes)
