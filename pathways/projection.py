"""The progress projection: statements in, step states, pathway progress and certifications out.

Two layers, both derived from the statement stream only, each in a module of its own:

1. ``progress_facts`` (``pathways.facts``): one row per statement a pathway can read (about a
   step's activity, or in a registration a step launched: ``pathways.relevance``), by the actor's
   identity, applied in sequence order and remembered by a cursor (``progress_cursor``), so a
   subscriber that failed catches up on the next batch. A voiding statement marks its target's
   fact (``voided_by``); every voiding statement is kept in ``progress_voids`` too.
2. ``step_progress``, ``pathway_progress``, ``certification_awards`` (``pathways.refresh``):
   recomputed per learner from their facts by the pure functions of ``pathways.derive`` whenever
   their facts or their assignments change.

This module moves the cursor and takes each batch through both layers. ``rebuild`` empties both
layers and replays every statement: the result is the incremental one.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import bindparam, literal_column, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from cairn.accounts.models import User, UserIdentity
from cairn.db import ASYNC_COMMIT_SQL, REUSE_PLANS_SQL, Among, in_values, read_built, reuse_plans
from pathways.catalogue import VERB_EARNED, step_info
from pathways.derive import derive_pathway
from pathways.facts import Affected, StoredStatementLike, apply_statements
from pathways.models import CertificationAward, Pathway, PathwayProgress, ProgressCursor
from pathways.refresh import facts_of, refresh_affected, refresh_users

EARNED_NAMESPACE = uuid.UUID("5b0e6c4e-3f7d-4d59-9a8c-4c2b6d0c9e11")


def read_cursor(session: Session, lock: bool = True) -> int:
    """The cursor's last applied sequence, its row locked (PostgreSQL) and made if missing.

    Plain rows, not an ORM object: the object and its flush cost more than the two statements.
    Two workers may both find no row on a new database: the row is made with ON CONFLICT DO
    NOTHING and read again, so the second waits for the first's and goes on from it.
    """
    dialect = session.get_bind().dialect.name
    locked = lock and dialect == "postgresql"
    # Locked on PostgreSQL: serialises projection work across workers, each waiting for the previous
    # batch's commit.
    query = _LOCKED_CURSOR if locked else _CURSOR
    last = session.execute(query).scalar()
    if last is None:
        insert_ = postgresql_insert if dialect == "postgresql" else sqlite_insert
        session.execute(insert_(ProgressCursor).values(id=1, last_sequence=0).on_conflict_do_nothing())
        last = session.execute(query).scalar()
    return int(last)


# Plain table statements: the ORM's bulk UPDATE path cost 0.6 ms more a batch than the update itself.
_CURSOR_TABLE = ProgressCursor.__table__
_CURSOR = select(ProgressCursor.last_sequence).where(ProgressCursor.id == 1)
_LOCKED_CURSOR = _CURSOR.with_for_update()
_MOVE_CURSOR = update(_CURSOR_TABLE).where(_CURSOR_TABLE.c.id == 1).values(last_sequence=bindparam("last"))


def _claim(session: Session, batch: list[StoredStatementLike], *, reusing_plans: bool = False) -> bool:
    """Move the cursor past ``batch`` if it stands right before it (locking its row); tell whether it did.

    ``reusing_plans``: a claim on PostgreSQL also lets the rest of the transaction reuse its plans
    (``reuse_plans``, in the same statement: one round trip fewer a batch).
    """
    before = batch[0].sequence - 1
    if not _follows(batch, before):
        return False
    parameters = {"before": before, "after": batch[-1].sequence}
    if reusing_plans and session.get_bind().dialect.name == "postgresql":
        return bool(read_built(session, _claim_reusing_plans, parameters))  # a row if it moved
    return session.execute(_CLAIM, parameters).rowcount == 1


_CLAIM = update(_CURSOR_TABLE) \
    .where(_CURSOR_TABLE.c.id == 1, _CURSOR_TABLE.c.last_sequence == bindparam("before")) \
    .values(last_sequence=bindparam("after"))


def _claim_reusing_plans(among: Among) -> Any:
    """The claim of the projection's transaction after a response, which also lets it reuse its
    plans and commit without waiting for the disk (``cairn.db.ASYNC_COMMIT_SQL``): its rows are all
    derived from the statements, already committed, so a crash loses at most passes to do again."""
    return _CLAIM.returning(literal_column(REUSE_PLANS_SQL), literal_column(ASYNC_COMMIT_SQL))


def move_cursor(session: Session, last_sequence: int) -> None:
    session.execute(_MOVE_CURSOR, {"last": last_sequence})


def last_applied_sequence(session: Session) -> int:
    return int(session.execute(_CURSOR).scalar() or 0)


def catch_up(session: Session, *, batch_size: int = 1000, batch: list[StoredStatementLike] | None = None,
             derive: bool = True, earned: list[tuple[int, int]] | None = None,
             reusing_plans: bool = False) -> int:
    """Apply every statement after the cursor, refresh the learners concerned; return how many applied.

    ``batch``: statements just stored (the subscriber's); when they are exactly the next ones after
    the cursor they are applied as they are, without reading anything back. Statements stored after
    them are left to their own requests' subscribers (``cairn worker`` catches up any whose request
    stopped before projecting). ``derive=False`` records the
    facts only (a rebuild derives every learner afterwards). ``earned``: collect the new awards
    (user id, award id) here instead of storing their ``earned`` statements (``record_earned``).
    ``reusing_plans``: the transaction reuses its plans from the first statement on (``reuse_plans``).
    """
    from lrs import services as lrs_services
    if session.info.get("pathways.projecting"):
        return 0  # re-entered from a statement we store ourselves (earned): the outer call picks it up
    session.info["pathways.projecting"] = True
    applied = last = 0
    affected: Affected = {}  # of the round under way

    def apply(statements: list[StoredStatementLike]) -> None:
        nonlocal applied, last
        for learner, pathway_ids in apply_statements(session, statements, affected=derive).items():
            affected.setdefault(learner, set()).update(pathway_ids)
        last = statements[-1].sequence
        applied += len(statements)

    try:
        while True:
            # The usual case, a batch right after the cursor, moves it by one statement (which
            # waits for the previous batch's commit as the lock does); any other reads it.
            claimed = _claim(session, batch, reusing_plans=reusing_plans) if batch else False
            if reusing_plans and not claimed:
                reuse_plans(session)  # a claim would have done it (PostgreSQL; elsewhere it does nothing)
            reusing_plans = False
            last = start = batch[-1].sequence if batch and claimed else read_cursor(session)
            affected = {}
            if claimed or (batch and _follows(batch, last)):
                # Whatever was stored after it is projected by the request that stored it, which
                # waits for this cursor row: reading it back here would cost every store a query.
                apply(batch)
            else:
                pending: list[StoredStatementLike] = []
                for stored in lrs_services.iter_statements(session, after_sequence=last,
                                                           batch_size=batch_size):
                    pending.append(stored)
                    if len(pending) >= batch_size:
                        apply(pending)
                        pending = []
                if pending:
                    apply(pending)
            batch = None
            if last != start:
                move_cursor(session, last)
            session.flush()
            if not derive:
                break
            new_awards = refresh_affected(session, affected)
            if earned is not None:
                earned.extend(new_awards)
                break
            if not record_earned(session, new_awards):
                break
    finally:
        session.info.pop("pathways.projecting", None)
    return applied


def _follows(batch: list[StoredStatementLike], last_sequence: int) -> bool:
    """Whether ``batch`` is the run of sequence numbers right after ``last_sequence``."""
    return all(stored.sequence == last_sequence + 1 + n for n, stored in enumerate(batch))


def on_statements(session: Session, batch: list[Any]) -> None:
    """The LRS subscriber: bring the projection up to date, including anything an earlier failure missed."""
    from lrs import services as lrs_services
    if not lrs_services.told_after_commit(session):
        catch_up(session, batch=batch)
        return
    # After the statements committed, this transaction holds the cursor row and no sequence lock.
    # Storing ``earned`` statements takes that lock, which every other writer takes before the
    # cursor: so they are stored after this commits, and projected as any store is. Its plans are
    # reused: the same statements every batch (the store's transaction does so too).
    earned: list[tuple[int, int]] = []
    catch_up(session, batch=batch, earned=earned, reusing_plans=True)
    if earned:
        session.commit()
        record_earned(session, earned)


def worker_catch_up(app: Any) -> bool:
    """``cairn worker``'s safety net: apply statements whose request stopped before projecting them."""
    with app.extensions["cairn.db"].session_factory()() as session:
        from lrs import services as lrs_services
        if last_applied_sequence(session) >= lrs_services.latest_sequence(session):
            return False
        applied = catch_up(session)
        session.commit()
    return applied > 0


def system_authority() -> dict:
    """The agent Cairn itself writes statements as (attempts, attendance, reading, awards)."""
    home = current_app.config["BASE_URL"] if has_app_context() else "urn:cairn"
    return {"objectType": "Agent", "name": "Cairn", "account": {"homePage": home, "name": "system"}}


def earned_statement_id(user_id: int, lineage: str, earned_at: datetime) -> str:
    return str(uuid.uuid5(EARNED_NAMESPACE, f"{user_id}|{lineage}|{earned_at.isoformat()}"))


def record_earned(session: Session, awards: list[tuple[int, int]]) -> bool:
    """Store an ``earned`` statement for each new award (once: its id is derived from the award)."""
    from cairn.accounts.services import identities_of
    from lrs import services as lrs_services
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


def rebuild(session: Session, *, batch_size: int = 5000) -> int:
    """Empty the projection and replay every statement; return how many were replayed.

    See ``pathways.rebuild``.
    """
    from pathways.rebuild import rebuild as replay_all
    return replay_all(session, batch_size=batch_size)


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
    current = session.scalar(select(Pathway).where(Pathway.lineage == draft.lineage,
                                                   Pathway.status == "published"))
    users = set(learners_of_lineage(session, draft.lineage))
    if current is not None:
        users.update(session.scalars(select(PathwayProgress.user_id).where(
            PathwayProgress.pathway_id == current.id)))
    steps = [step_info(s) for s in draft.steps]
    changes = []
    for user_id in sorted(users):
        facts, launches = facts_of(session, user_id)
        # Launch rows name the published version's steps; the draft's copies share their keys.
        if current is not None:
            key_of = {s.id: s.key for s in current.steps}
            draft_by_key = {s.key: s.id for s in steps}
            launches = {draft_by_key[key_of[sid]]: regs for sid, regs in launches.items()
                        if sid in key_of and key_of[sid] in draft_by_key}
        enrollment = enrollments_of(session, user_id).get(draft.lineage)
        recurrence_days = (enrollment.recurrence_months or 0) * 30 if enrollment else 0
        validity = draft.validity_days or recurrence_days or None
        after = derive_pathway(steps, facts, launches, validity_days=validity,
                               window_days=draft.recertification_window_days)
        row = session.scalar(select(PathwayProgress).where(PathwayProgress.user_id == user_id,
                                                           PathwayProgress.pathway_id == current.id)) \
            if current is not None else None
        before = (row.status, row.percent) if row is not None else ("not_started", 0)
        if before != (after.status, after.percent):
            user = session.get(User, user_id)
            changes.append(StatusChange(user_id, user.name if user else "", before[0], after.status,
                                        before[1], after.percent))
    return changes


PEOPLE_CHANGED = "pathways.people_changed"


def _note_people_changes(session: Session, _flush_context: Any) -> None:
    """After a flush: remember learners whose identities or attributes changed (rules, statements)."""
    from sqlalchemy import inspect as sa_inspect
    pending: set[int] = session.info.setdefault(PEOPLE_CHANGED, set())
    for obj in list(session.new) + list(session.dirty):
        if isinstance(obj, UserIdentity) and obj.user_id is not None:
            pending.add(obj.user_id)
        elif isinstance(obj, User) and obj.id is not None:
            state = sa_inspect(obj)
            if obj in session.new or any(state.attrs[name].history.has_changes()
                                         for name in ("attributes", "role", "active")):
                pending.add(obj.id)
    for obj in session.deleted:
        if isinstance(obj, UserIdentity) and obj.user_id is not None:
            pending.add(obj.user_id)


def _refresh_changed_people(session: Session) -> None:
    """Before a commit: bring those learners' progress in line (identities and audience rules changed)."""
    if session.new or session.dirty or session.deleted:
        session.flush()  # the commit's own flush comes after this event: collect its changes now
    pending = session.info.pop(PEOPLE_CHANGED, None)
    if pending and not session.info.get("pathways.projecting"):
        existing = set(session.scalars(select(User.id).where(in_values(User.id, pending))))
        if existing:
            refresh_users(session, existing)
            session.info.pop(PEOPLE_CHANGED, None)


def watch_people() -> None:
    """Keep progress right when a learner gains an identity or changes attributes (LTI, admin pages)."""
    from sqlalchemy import event
    if not event.contains(Session, "after_flush", _note_people_changes):
        event.listen(Session, "after_flush", _note_people_changes)
        event.listen(Session, "before_commit", _refresh_changed_people)
