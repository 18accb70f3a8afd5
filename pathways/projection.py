"""The progress projection: statements in, step states, pathway progress and certifications out.

Two layers, both derived from the statement stream only:

1. ``progress_facts``: one row per statement about an activity, by the actor's identity, applied in
   sequence order and remembered by a cursor (``progress_cursor``), so a subscriber that failed
   catches up on the next batch. A voiding statement marks its target's fact (``voided_by``); one
   that arrives before its target is kept in ``progress_voids``.
2. ``step_progress``, ``pathway_progress``, ``certification_awards``: recomputed per learner from
   their facts by the pure functions of ``pathways.derive`` whenever their facts or their
   assignments change.

``rebuild`` empties both layers and replays every statement: the result is the incremental one.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from flask import current_app, has_app_context
from sqlalchemy import delete, or_, select, tuple_
from sqlalchemy.orm import Session

from cairn.accounts.models import User, UserIdentity
from cairn.accounts.services import Identity
from pathways.catalogue import VERB_EARNED, VERB_VOIDED, step_info
from pathways.derive import Fact, PathwayResult, derive_pathway
from pathways.models import (CertificateCode, CertificationAward, Pathway, PathwayProgress, ProgressCursor,
                             ProgressFact, ProgressVoid, Step, StepLaunch, StepProgress)

log = logging.getLogger(__name__)

LISTENERS_KEY = "pathways.outcome_listeners"
EARNED_NAMESPACE = uuid.UUID("5b0e6c4e-3f7d-4d59-9a8c-4c2b6d0c9e11")


class StoredStatementLike(Protocol):
    id: str
    sequence: int
    statement: dict
    stored: datetime
    voided: bool


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


def on_outcome_changed(app: Any, callback: OutcomeCallback) -> None:
    """Call ``callback(session, change)`` whenever a learner's pathway or assessment outcome changes.

    Called inside the transaction that changed it (a failing callback is logged and does not undo
    the progress).
    """
    app.extensions.setdefault(LISTENERS_KEY, []).append(callback)


# ---------------------------------------------------------------------------------------- facts layer


def _timestamp(statement: dict, stored: datetime) -> datetime:
    raw = statement.get("timestamp")
    if isinstance(raw, str):
        try:
            value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            if value.tzinfo is not None:
                return value
        except ValueError:
            pass
    return stored


def _fact_row(stored: StoredStatementLike) -> ProgressFact | None:
    statement = stored.statement
    obj = statement.get("object") or {}
    if obj.get("objectType", "Activity") != "Activity" or not obj.get("id"):
        return None
    actor = statement.get("actor") or {}
    identity = Identity.from_agent(actor)
    if identity is None:
        return None
    result = statement.get("result") or {}
    score = (result.get("score") or {}).get("scaled")
    registration = (statement.get("context") or {}).get("registration")
    return ProgressFact(statement_id=stored.id, sequence=stored.sequence, identity_kind=identity.kind,
                        identity_value=identity.value, verb=(statement.get("verb") or {}).get("id", ""),
                        activity_iri=obj["id"], registration=str(registration).lower() if registration else None,
                        timestamp=_timestamp(statement, stored.stored), success=result.get("success"),
                        completion=result.get("completion"),
                        score_scaled=float(score) if isinstance(score, int | float) else None)


def _chunks(values: list[str], size: int = 500) -> Iterable[list[str]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def apply_statements(session: Session, batch: Iterable[StoredStatementLike]) -> set[int]:
    """Record the facts of statements (in sequence order); return the ids of the learners affected.

    Looks rows up a batch at a time, and reports only learners whose facts touch a step's activity or
    a registration a step launched: other statements cannot change any derived value.
    """
    batch = list(batch)
    targets: dict[str, str] = {}
    for stored in batch:
        if (stored.statement.get("verb") or {}).get("id") == VERB_VOIDED:
            targets[stored.id] = str((stored.statement.get("object") or {}).get("id", "")).lower()
    keys = sorted({s.id for s in batch} | set(targets.values()))
    facts: dict[str, ProgressFact] = {}
    voids: dict[str, ProgressVoid] = {}
    for chunk in _chunks(keys):
        facts.update({f.statement_id: f for f in session.scalars(
            select(ProgressFact).where(ProgressFact.statement_id.in_(chunk)))})
        voids.update({v.target_id: v for v in session.scalars(
            select(ProgressVoid).where(ProgressVoid.target_id.in_(chunk)))})
    touched: list[ProgressFact] = []
    for stored in batch:
        target = targets.get(stored.id)
        if target is not None:
            if not target or target in voids:
                continue
            voids[target] = ProgressVoid(target_id=target, voiding_id=stored.id)
            session.add(voids[target])
            fact = facts.get(target)
            if fact is not None and fact.voided_by is None:
                fact.voided_by = stored.id
                touched.append(fact)
            continue
        if stored.id in facts:
            continue
        row = _fact_row(stored)
        if row is None:
            continue
        if stored.id in voids:
            row.voided_by = voids[stored.id].voiding_id
        session.add(row)
        facts[stored.id] = row
        touched.append(row)
    session.flush()
    if not touched:
        return set()
    activities = sorted({f.activity_iri for f in touched})
    relevant: set[str] = set()
    for chunk in _chunks(activities):
        relevant.update(session.scalars(select(Step.activity_iri).where(Step.activity_iri.in_(chunk)).distinct()))
    registrations = {f.registration for f in touched if f.registration}
    identities = {(f.identity_kind, f.identity_value) for f in touched if f.activity_iri in relevant}
    return _users_for(session, identities, registrations)


def _users_for(session: Session, identities: set[tuple[str, str]], registrations: set[str]) -> set[int]:
    users: set[int] = set()
    pairs = sorted(identities)
    for start in range(0, len(pairs), 500):
        chunk = pairs[start:start + 500]
        users.update(session.scalars(select(UserIdentity.user_id).where(
            tuple_(UserIdentity.kind, UserIdentity.value).in_(chunk))))
    regs = sorted(registrations)
    for start in range(0, len(regs), 500):
        users.update(session.scalars(select(StepLaunch.user_id).where(
            StepLaunch.registration.in_(regs[start:start + 500]))))
    return users


def _cursor(session: Session, lock: bool = True) -> ProgressCursor:
    query = select(ProgressCursor).where(ProgressCursor.id == 1)
    if lock and session.get_bind().dialect.name == "postgresql":
        # Serialises projection work across workers: each waits for the previous batch's commit.
        query = query.with_for_update()
    cursor = session.scalar(query)
    if cursor is None:
        cursor = ProgressCursor(id=1, last_sequence=0)
        session.add(cursor)
        session.flush()
    return cursor


def last_applied_sequence(session: Session) -> int:
    cursor = session.scalar(select(ProgressCursor.last_sequence).where(ProgressCursor.id == 1))
    return int(cursor or 0)


def catch_up(session: Session, *, batch_size: int = 1000) -> int:
    """Apply every statement after the cursor, refresh the learners concerned; return how many applied."""
    from lrs import services as lrs_services
    if session.info.get("pathways.projecting"):
        return 0  # re-entered from a statement we store ourselves (earned): the outer call picks it up
    session.info["pathways.projecting"] = True
    applied = 0
    try:
        while True:
            cursor = _cursor(session)
            batch: list[StoredStatementLike] = []
            users: set[int] = set()
            for stored in lrs_services.iter_statements(session, after_sequence=cursor.last_sequence,
                                                       batch_size=batch_size):
                batch.append(stored)
                if len(batch) >= batch_size:
                    users |= apply_statements(session, batch)
                    cursor.last_sequence = batch[-1].sequence
                    applied += len(batch)
                    batch = []
            if batch:
                users |= apply_statements(session, batch)
                cursor.last_sequence = batch[-1].sequence
                applied += len(batch)
            session.flush()
            new_awards: list[tuple[int, int]] = []
            for user_id in sorted(users):
                new_awards.extend(refresh_user(session, user_id))
            if not _record_earned(session, new_awards):
                break
    finally:
        session.info.pop("pathways.projecting", None)
    return applied


def on_statements(session: Session, batch: list[Any]) -> None:
    """The LRS subscriber: bring the projection up to date, including anything an earlier failure missed."""
    catch_up(session)


# --------------------------------------------------------------------------------------- derived layer


def _facts_of(session: Session, user_id: int) -> tuple[list[Fact], dict[int, set[str]]]:
    identities = [(i.kind, i.value) for i in session.scalars(
        select(UserIdentity).where(UserIdentity.user_id == user_id))]
    launches: dict[int, set[str]] = {}
    for launch in session.scalars(select(StepLaunch).where(StepLaunch.user_id == user_id)):
        launches.setdefault(launch.step_id, set()).add(launch.registration.lower())
    all_regs = sorted({r for regs in launches.values() for r in regs})
    conditions = []
    if identities:
        conditions.append(tuple_(ProgressFact.identity_kind, ProgressFact.identity_value).in_(identities))
    if all_regs:
        conditions.append(ProgressFact.registration.in_(all_regs))
    if not conditions:
        return [], launches
    rows = session.scalars(select(ProgressFact).where(or_(*conditions)))
    facts = [Fact(r.statement_id, r.verb, r.activity_iri, r.registration, r.timestamp, r.success, r.completion,
                  r.score_scaled, r.voided_by) for r in rows]
    facts.sort(key=lambda f: f.order)
    return facts, launches


def _pathways_for(session: Session, user_id: int, facts: list[Fact], launches: dict[int, set[str]]
                  ) -> dict[int, int | None]:
    """Pathway versions a learner has progress on -> the recurrence (months) of their enrolment.

    The published version of every lineage they are enrolled in, plus every non-draft version one of
    whose steps their statements touch (so what they completed on an old version stays).
    """
    from pathways.people import enrollments_of
    enrollments = enrollments_of(session, user_id)
    result: dict[int, int | None] = {}
    if enrollments:
        for pathway in session.scalars(select(Pathway).where(Pathway.lineage.in_(sorted(enrollments)),
                                                             Pathway.status == "published")):
            result[pathway.id] = enrollments[pathway.lineage].recurrence_months
    activities = sorted({f.activity_iri for f in facts})
    touched: set[int] = set()
    for start in range(0, len(activities), 500):
        touched.update(session.scalars(select(Step.pathway_id).where(
            Step.activity_iri.in_(activities[start:start + 500]))))
    if launches:
        touched.update(session.scalars(select(Step.pathway_id).where(Step.id.in_(sorted(launches)))))
    for pathway in session.scalars(select(Pathway).where(Pathway.id.in_(sorted(touched)),
                                                         Pathway.status != "draft")):
        enrollment = enrollments.get(pathway.lineage)
        result.setdefault(pathway.id, enrollment.recurrence_months if enrollment else None)
    return result


def refresh_user(session: Session, user_id: int) -> list[tuple[int, int]]:
    """Recompute a learner's step states, pathway progress and awards from their facts.

    Returns the (user_id, award id) of awards that are new and active (they get an ``earned`` statement).
    """
    facts, launches = _facts_of(session, user_id)
    targets = _pathways_for(session, user_id, facts, launches)
    existing = {p.pathway_id: p for p in session.scalars(select(PathwayProgress).where(
        PathwayProgress.user_id == user_id))}
    new_awards: list[tuple[int, int]] = []
    for pathway_id in sorted(targets):
        pathway = session.get(Pathway, pathway_id)
        assert pathway is not None
        steps = [step_info(s) for s in pathway.steps]
        validity = pathway.validity_days
        if validity is None and targets[pathway_id]:
            validity = targets[pathway_id] * 30  # type: ignore[operator]
        result = derive_pathway(steps, facts, launches, validity_days=validity,
                                window_days=pathway.recertification_window_days)
        before = _snapshot(existing.get(pathway_id))
        before_steps = {(c.step_id): (c.state, c.best_score) for c in session.scalars(select(StepProgress).where(
            StepProgress.user_id == user_id, StepProgress.step_id.in_([s.id for s in steps] or [-1])))}
        _store_progress(session, user_id, pathway, result, existing.get(pathway_id))
        new_awards.extend((user_id, a) for a in _store_awards(session, user_id, pathway, result))
        _notify(session, user_id, pathway, steps, before, before_steps, result)
    for pathway_id, row in existing.items():
        if pathway_id not in targets:
            session.delete(row)
            session.execute(delete(StepProgress).where(StepProgress.user_id == user_id, StepProgress.step_id.in_(
                select(Step.id).where(Step.pathway_id == pathway_id))))
            session.execute(delete(CertificationAward).where(CertificationAward.user_id == user_id,
                                                             CertificationAward.pathway_id == pathway_id))
    session.flush()
    return new_awards


def refresh_lineage(session: Session, lineage: str) -> None:
    """Recompute every learner who is on, or has progress on, any version of a pathway."""
    from pathways.people import learners_of_lineage
    users = set(learners_of_lineage(session, lineage))
    users.update(session.scalars(select(PathwayProgress.user_id).join(
        Pathway, Pathway.id == PathwayProgress.pathway_id).where(Pathway.lineage == lineage)))
    # Learners whose earlier statements are about one of the (new) steps' activities.
    steps = select(Step.id, Step.activity_iri).join(Pathway, Pathway.id == Step.pathway_id).where(
        Pathway.lineage == lineage, Pathway.status != "draft")
    activities = sorted({iri for _, iri in session.execute(steps)})
    for chunk in _chunks(activities):
        users.update(session.scalars(select(UserIdentity.user_id).join(
            ProgressFact, (ProgressFact.identity_kind == UserIdentity.kind) &
            (ProgressFact.identity_value == UserIdentity.value)).where(ProgressFact.activity_iri.in_(chunk))
            .distinct()))
    users.update(session.scalars(select(StepLaunch.user_id).where(
        StepLaunch.step_id.in_(select(steps.subquery().c.id)))))
    for user_id in sorted(users):
        refresh_user(session, user_id)


def _snapshot(row: PathwayProgress | None) -> tuple[str, int, float | None] | None:
    return (row.status, row.percent, row.best_score) if row is not None else None


def _store_progress(session: Session, user_id: int, pathway: Pathway, result: PathwayResult,
                    row: PathwayProgress | None) -> None:
    if row is None:
        row = PathwayProgress(user_id=user_id, pathway_id=pathway.id)
        session.add(row)
    row.status, row.percent, row.completed_at = result.status, result.percent, result.completed_at
    row.best_score, row.attempts, row.last_activity_at = result.best_score, result.attempts, result.last_activity_at
    row.expires_at, row.renewal_opens_at = result.expires_at, result.renewal_opens_at
    row.renewal_percent, row.evidence = result.renewal_percent, result.evidence
    steps = {s.step_id: s for s in session.scalars(select(StepProgress).where(
        StepProgress.user_id == user_id, StepProgress.step_id.in_([s.id for s in pathway.steps] or [-1])))}
    for step_id, sr in result.steps.items():
        cell = steps.get(step_id)
        if cell is None:
            cell = StepProgress(user_id=user_id, step_id=step_id)
            session.add(cell)
        cell.state, cell.done_at, cell.best_score = sr.state, sr.done_at, sr.best_score
        cell.attempts, cell.last_activity_at = sr.attempts, sr.last_activity_at
        cell.evidence, cell.withdrawn = sr.evidence, sr.withdrawn


def _store_awards(session: Session, user_id: int, pathway: Pathway, result: PathwayResult) -> list[int]:
    """Bring the award rows in line with the derived ones; return ids of newly active awards."""
    if not (pathway.grants_certification or pathway.outcome_kind == "certification"):
        result.awards = []
    current = {a.earned_at: a for a in session.scalars(select(CertificationAward).where(
        CertificationAward.user_id == user_id, CertificationAward.pathway_id == pathway.id))}
    fresh: list[int] = []
    wanted = {a.earned_at for a in result.awards}
    for earned_at, row in current.items():
        if earned_at not in wanted:
            session.delete(row)
    session.flush()
    for award in result.awards:
        row = current.get(award.earned_at)
        is_new = row is None or (row.revoked and not award.revoked)
        if row is None:
            row = CertificationAward(user_id=user_id, pathway_id=pathway.id, earned_at=award.earned_at)
            session.add(row)
        row.expires_at, row.revoked = award.expires_at, award.revoked
        row.revoked_by, row.statement_ids = award.revoked_by, award.statement_ids
        session.flush()
        if not award.revoked:
            _ensure_code(session, user_id, pathway.lineage, award.earned_at)
            if is_new:
                fresh.append(row.id)
    return fresh


def _ensure_code(session: Session, user_id: int, lineage: str, earned_at: datetime) -> str:
    code = session.scalar(select(CertificateCode.code).where(
        CertificateCode.user_id == user_id, CertificateCode.lineage == lineage,
        CertificateCode.earned_at == earned_at))
    if code is None:
        import secrets
        code = secrets.token_hex(8).upper()
        session.add(CertificateCode(code=code, user_id=user_id, lineage=lineage, earned_at=earned_at))
        session.flush()
    return code


def system_authority() -> dict:
    """The agent Cairn itself writes statements as (attempts, attendance, reading, awards)."""
    home = current_app.config["BASE_URL"] if has_app_context() else "urn:cairn"
    return {"objectType": "Agent", "name": "Cairn", "account": {"homePage": home, "name": "system"}}


def earned_statement_id(user_id: int, lineage: str, earned_at: datetime) -> str:
    return str(uuid.uuid5(EARNED_NAMESPACE, f"{user_id}|{lineage}|{earned_at.isoformat()}"))


def _record_earned(session: Session, awards: list[tuple[int, int]]) -> bool:
    """Store an ``earned`` statement for each new award (once: its id is derived from the award)."""
    from lrs import services as lrs_services
    from cairn.accounts.services import identities_of
    statements = []
    for user_id, award_id in awards:
        award = session.get(CertificationAward, award_id)
        if award is None:
            continue
        pathway = session.get(Pathway, award.pathway_id)
        user = session.get(User, user_id)
        identities = identities_of(session, user_id)
        if pathway is None or user is None or not identities:
            continue
        statement_id = earned_statement_id(user_id, pathway.lineage, award.earned_at)
        if lrs_services.get_statement(session, statement_id) is not None:
            continue
        statement: dict[str, Any] = {
            "id": statement_id,
            "actor": identities[0].to_agent(user.name),
            "verb": {"id": VERB_EARNED, "display": {"en-US": "earned"}},
            "object": {"objectType": "Activity", "id": pathway.activity_iri,
                       "definition": {"name": {"en-US": pathway.title},
                                      "type": "https://w3id.org/xapi/cmi5/activitytype/course"}},
            "timestamp": award.earned_at.isoformat(),
            "context": {"extensions": {
                "https://cairn.dev/xapi/extensions/certificate-expires":
                    award.expires_at.isoformat() if award.expires_at else None,
                "https://cairn.dev/xapi/extensions/justified-by": list(award.statement_ids)}},
        }
        statements.append(statement)
    if statements:
        lrs_services.store_statements(session, statements, authority=system_authority())
    return bool(statements)


def _notify(session: Session, user_id: int, pathway: Pathway, steps: list[Any],
            before: tuple[str, int, float | None] | None, before_steps: dict[int, tuple[str, float | None]],
            result: PathwayResult) -> None:
    if not has_app_context():
        return
    listeners: list[OutcomeCallback] = current_app.extensions.get(LISTENERS_KEY, [])
    if not listeners:
        return
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
    for change in changes:
        for callback in listeners:
            try:
                with session.begin_nested():
                    callback(session, change)
            except Exception:  # a listener's failure must not lose the learner's progress
                log.exception("outcome listener failed for %s", change)


def _now() -> datetime:
    from cairn.db import utcnow
    return utcnow()


def rebuild(session: Session) -> int:
    """Empty the projection and replay every statement; return how many statements were replayed."""
    for model in (CertificationAward, StepProgress, PathwayProgress, ProgressFact, ProgressVoid, ProgressCursor):
        session.execute(delete(model))
    session.flush()
    count = catch_up(session)
    # Learners with assignments but no statements still get their (not started) rows.
    for user_id in sorted(session.scalars(select(User.id))):
        refresh_user(session, user_id)
    return count


@dataclass(frozen=True)
class StatusChange:
    """How publishing a draft would change one learner's progress."""

    user_id: int
    name: str
    status_before: str
    status_after: str
    percent_before: int
    percent_after: int


def publish_dry_run(session: Session, pathway_id: int) -> list[StatusChange]:
    """Which learners' status or percent would change if this draft were published (nothing is written)."""
    from pathways.errors import Conflict, NotFound
    from pathways.people import enrollments_of, learners_of_lineage
    draft = session.get(Pathway, pathway_id)
    if draft is None:
        raise NotFound(f"no pathway {pathway_id}")
    if draft.status != "draft":
        raise Conflict("only a draft version has a publishing dry run")
    current = session.scalar(select(Pathway).where(Pathway.lineage == draft.lineage, Pathway.status == "published"))
    users = set(learners_of_lineage(session, draft.lineage))
    if current is not None:
        users.update(session.scalars(select(PathwayProgress.user_id).where(
            PathwayProgress.pathway_id == current.id)))
    steps = [step_info(s) for s in draft.steps]
    changes = []
    for user_id in sorted(users):
        facts, launches = _facts_of(session, user_id)
        # Launch rows name the published version's steps; the draft's copies share their keys.
        if current is not None:
            key_of = {s.id: s.key for s in current.steps}
            draft_by_key = {s.key: s.id for s in steps}
            launches = {draft_by_key[key_of[sid]]: regs for sid, regs in launches.items()
                        if sid in key_of and key_of[sid] in draft_by_key}
        enrollment = enrollments_of(session, user_id).get(draft.lineage)
        validity = draft.validity_days or ((enrollment.recurrence_months or 0) * 30 if enrollment else 0) or None
        after = derive_pathway(steps, facts, launches, validity_days=validity,
                               window_days=draft.recertification_window_days)
        row = session.scalar(select(PathwayProgress).where(PathwayProgress.user_id == user_id,
                                                           PathwayProgress.pathway_id == current.id)) \
            if current is not None else None
        before = (row.status, row.percent) if row is not None else ("not_started", 0)
        if before != (after.status, after.percent):
            user = session.get(User, user_id)
            changes.append(StatusChange(user_id, user.name if user else "", before[0], after.status, before[1],
                                        after.percent))
    return changes
