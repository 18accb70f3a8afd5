"""Outcome listeners: told when a learner's pathway or assessment outcome changes (LTI grade passback)."""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from flask import current_app, has_app_context
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from pathways.derive import PathwayResult
    from pathways.versions import PathwayVersion

log = logging.getLogger(__name__)

LISTENERS_KEY = "pathways.outcome_listeners"
@dataclass(frozen=True)
class OutcomeChange:
    """A learner's pathway (step_id None) or assessment step outcome changed: LTI passes it back."""

    user_id: int
    pathway_id: int
    step_id: int | None
    score_given: float | None
    score_maximum: float | None
    completed: bool
    timestamp: datetime


OutcomeCallback = Callable[[Session, OutcomeChange], None]
OutcomeFilter = Callable[[Session, list[OutcomeChange]], list[OutcomeChange]]


def on_outcome_changed(app: Any, callback: OutcomeCallback, *, wanted: OutcomeFilter | None = None) -> None:
    """Call ``callback(session, change)`` whenever a learner's pathway or assessment outcome changes.

    Called inside the transaction that changed it (a failing callback is logged and does not undo
    the progress). Keep the callback's effects in the session: the changes of a batch are told in
    one SAVEPOINT, and if any call fails they are told again one SAVEPOINT each, so a callback may
    hear a change twice, the first time rolled back.

    ``wanted(session, changes)``: which of a batch's changes the callback can have anything to do
    for (any superset of them), by reading only: it runs before the SAVEPOINT, once per batch. The
    callback hears only those; a batch no listener wants opens no SAVEPOINT at all.
    """
    app.extensions.setdefault(LISTENERS_KEY, []).append((callback, wanted))


def tell_listeners(session: Session,
            notices: list[tuple[int, PathwayVersion, list[Any], Any, dict[int, Any], PathwayResult]]) -> None:
    """Tell the outcome listeners what changed: all in one SAVEPOINT, or one by one if any call fails.

    One SAVEPOINT per change cost two round trips each, for every learner a batch moved; a listener
    that fails still loses only its own change (the changes are then replayed one SAVEPOINT each).
    """
    if not has_app_context():
        return
    listeners: list[tuple[OutcomeCallback, OutcomeFilter | None]] = \
        current_app.extensions.get(LISTENERS_KEY, [])
    if not listeners:
        return
    changes = [change for notice in notices for change in _changes(*notice)]
    if not changes:
        return
    # Most batches reach no listener with anything to do (no LTI link leads to these learners):
    # asking once per listener costs one query, where the SAVEPOINT and the calls cost 2 + one each.
    wanted = [{id(c) for c in (changes if want is None else want(session, changes))} for _, want in listeners]
    calls = [(change, callback) for change in changes
             for (callback, _), ids in zip(listeners, wanted, strict=True) if id(change) in ids]
    if not calls:
        return
    try:
        with session.begin_nested():
            for change, callback in calls:
                callback(session, change)
        return
    except Exception:  # replayed below, one change at a time, so that only the failing ones are lost
        pass
    for change, callback in calls:
        try:
            with session.begin_nested():
                callback(session, change)
        except Exception:  # a listener's failure must not lose the learner's progress
            log.exception("outcome listener failed for %s", change)


def _changes(user_id: int, pathway: PathwayVersion, steps: list[Any],
             before: tuple[str, int, float | None] | None, before_steps: dict[int, tuple[str, float | None]],
             result: PathwayResult) -> list[OutcomeChange]:
    changes: list[OutcomeChange] = []
    now = result.last_activity_at or result.completed_at
    after = (result.status, result.percent, result.best_score)
    if before != after and not (before is None and result.status == "not_started"):
        changes.append(OutcomeChange(user_id, pathway.id, None, float(result.percent), 100.0,
                                     result.status == "completed", now or _now()))
    for step in steps:
        if step.kind != "assessment":
            continue
        sr = result.steps[step.id]
        old = before_steps.get(step.id)
        if sr.best_score is not None and old != (sr.state, sr.best_score):
            changes.append(OutcomeChange(user_id, pathway.id, step.id, round(sr.best_score * 100, 4), 100.0,
                                         sr.state == "done", sr.last_activity_at or _now()))
    return changes


def _now() -> datetime:
    from cairn.db import utcnow
    return utcnow()
